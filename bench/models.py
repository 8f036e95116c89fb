"""Randomly initialised models of real shapes for the capture benchmarks (no weights to download:
the costs measured depend on the shape, not on the values), and a tokenizer stand-in that labels
token ids, so ``attn_widget.capture`` can run on them."""

from __future__ import annotations

from typing import Any

SHAPES = {
    # GPT-2 small: 12 layers x 12 heads, width 768; the transformer only (no LM head), so the
    # (N x 50257) logits do not dominate time or memory.
    "gpt2-small": dict(family="gpt2", n_layer=12, n_head=12, n_embd=768, vocab_size=50257),
    # Llama-2-7B with grouped-query attention as in Llama-3-8B: 32 layers x 32 query heads on 8 key
    # heads, width 4096, head dim 128.
    # The long-context benchmark's model: Llama-shaped (RoPE, 8 query heads on 2 key heads), small
    # enough that N = 32,768 runs on a 2-core CPU: 4 layers, width 256, head dim 32.
    "llama-long": dict(
        family="llama",
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=2,
        hidden_size=256,
        intermediate_size=688,
        vocab_size=32000,
    ),
    # The long-input benchmark's other families, the same size as "llama-long" (4 layers x 8 heads,
    # width 256, head dim 32): Gemma-2-shaped (logits soft-capped at 50, every other layer a
    # 4096-token sliding window, queries scaled by query_pre_attn_scalar, grouped-query heads) and
    # T5-shaped (encoder-decoder, relative position buckets as t5-small: 32 buckets, distance 128,
    # no scaling of q k^T; the decoder start token in generation_config, as v5 saves it).
    "gemma2-long": dict(
        family="gemma2",
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        hidden_size=256,
        head_dim=32,
        intermediate_size=688,
        vocab_size=32000,
        attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0,
        query_pre_attn_scalar=32,
        sliding_window=4096,
    ),
    "t5-long": dict(
        family="t5",
        num_layers=4,
        num_decoder_layers=4,
        num_heads=8,
        d_model=256,
        d_kv=32,
        d_ff=688,
        vocab_size=32000,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
    ),
    "llama-7b-gqa": dict(
        family="llama",
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        hidden_size=4096,
        intermediate_size=11008,
        vocab_size=32000,
    ),
}


def build(
    shape: str, n_positions: int, device: str = "cpu", dtype: str = "float32", layers: int | None = None, lm_head: bool = False
) -> Any:
    """The shape's model, randomly initialised, SDPA attention; ``lm_head`` adds the language-model
    head (attribution needs next-token log-probabilities)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model, LlamaConfig, LlamaForCausalLM, LlamaModel

    spec = dict(SHAPES[shape])
    family = spec.pop("family")
    torch.manual_seed(0)
    torch_dtype = getattr(torch, dtype)
    if family in ("gemma2", "t5"):
        return _build_other(family, spec, n_positions, device, torch_dtype)
    if family == "gpt2":
        if layers:
            spec["n_layer"] = layers
        config = GPT2Config(n_positions=n_positions, **spec)
        cls = GPT2LMHeadModel if lm_head else GPT2Model
    else:
        if layers:
            spec["num_hidden_layers"] = layers
        config = LlamaConfig(max_position_embeddings=max(n_positions, 4096), **spec)
        cls = LlamaForCausalLM if lm_head else LlamaModel
    with torch.device(device):
        model = cls._from_config(config, attn_implementation="sdpa", dtype=torch_dtype)
    if shape == "llama-long":
        _sharpen(model)
    return model.eval()


def _build_other(family: str, spec: dict[str, Any], n_positions: int, device: str, dtype: Any) -> Any:
    """Gemma-2- and T5-shaped models (their own attention: eager for Gemma 2, which SDPA cannot
    soft-cap; SDPA with the position bias as a float mask for T5), sharpened like llama-long."""
    import torch
    from transformers import Gemma2Config, Gemma2Model, GenerationConfig, T5Config, T5Model

    if family == "gemma2":
        config = Gemma2Config(max_position_embeddings=max(n_positions, 8192), **spec)
        cls, implementation = Gemma2Model, "eager"
    else:
        config = T5Config(pad_token_id=0, eos_token_id=1, **spec)
        cls, implementation = T5Model, "sdpa"
    with torch.device(device):
        model = cls._from_config(config, attn_implementation=implementation, dtype=dtype)
    if family == "t5":
        model.generation_config = GenerationConfig(decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    _sharpen(model)
    return model.eval()


def decoder_inputs(model: Any, ids: dict[str, Any]) -> tuple[Any, Any] | None:
    """(decoder_input_ids, None) for an encoder-decoder: the input shifted right behind the
    decoder start token, as ``attn_widget.capture`` makes it; None for other models."""
    from attn_widget.capturing.run import _shift_right

    if not getattr(model.config, "is_encoder_decoder", False):
        return None
    return _shift_right(ids["input_ids"], None, model.config, model)


def _attention_modules(model: Any) -> list[tuple[Any, Any, Any]]:
    """(module, query projection, key projection) of every self-attention (T5: the encoder's)."""
    if hasattr(model, "encoder") and hasattr(model.encoder, "block"):
        return [(b.layer[0].SelfAttention, b.layer[0].SelfAttention.q, b.layer[0].SelfAttention.k) for b in model.encoder.block]
    base = model.model if hasattr(model, "model") else model
    return [(layer.self_attn, layer.self_attn.q_proj, layer.self_attn.k_proj) for layer in base.layers]


def _sharpen(model: Any) -> None:
    """Random weights give every head near-uniform attention (entropy log N everywhere): nothing to
    see in a screenshot. Scale keys by 3 and each head's queries by its own factor from 3 to 40
    (log-spaced), so heads range from broad to one sharp peak per row. Costs do not change."""
    import torch

    cfg = model.config
    heads = getattr(cfg, "num_attention_heads", None) or cfg.num_heads
    factors = torch.logspace(torch.log10(torch.tensor(3.0)), torch.log10(torch.tensor(40.0)), heads)
    with torch.no_grad():
        for _, q_proj, k_proj in _attention_modules(model):
            k_proj.weight.mul_(3.0)
            q_proj.weight.view(heads, -1, q_proj.weight.shape[-1]).mul_(factors[:, None, None])


class IdTokenizer:
    """Just enough of a tokenizer for capture and attribution: token i is the word "t<i>"."""

    all_special_ids: list[int] = []
    pad_token_id = None
    unk_token_id = None

    def __init__(self, vocab: int = 50257) -> None:
        self.vocab = vocab

    def __len__(self) -> int:
        return self.vocab

    def __call__(
        self,
        text: str | list[str],
        text_pair: Any = None,
        return_tensors: str | None = None,
        add_special_tokens: bool = True,
        **_: Any,
    ) -> dict[str, Any]:
        import torch

        texts = [text] if isinstance(text, str) else list(text)
        rows = [[int(w[1:]) for w in t.split()] for t in texts]
        if len({len(r) for r in rows}) != 1:
            raise ValueError("IdTokenizer: texts of one batch must have the same length")
        if return_tensors != "pt":
            out = rows[0] if isinstance(text, str) else rows
            return {
                "input_ids": out,
                "attention_mask": [[1] * len(r) for r in rows] if not isinstance(text, str) else [1] * len(rows[0]),
            }
        t = torch.tensor(rows)
        return {"input_ids": t, "attention_mask": torch.ones_like(t)}

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return int(token[1:]) if token.startswith("t") and token[1:].isdigit() else None

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [f"t{i}" for i in ids]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)


def random_text(n: int, vocab: int = 50257) -> str:
    """n random token ids as IdTokenizer text."""
    import torch

    g = torch.Generator().manual_seed(n)
    return " ".join(f"t{int(i)}" for i in torch.randint(0, vocab, (n,), generator=g))


def random_ids(n: int, vocab: int, device: str = "cpu") -> dict[str, Any]:
    import torch

    g = torch.Generator().manual_seed(n)
    ids = torch.randint(0, vocab, (1, n), generator=g).to(device)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
