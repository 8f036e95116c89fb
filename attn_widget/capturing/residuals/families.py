"""Each covered family's block structure, in one shape: where the residual stream's parts come from
(embeddings, each head's share of the output projection, each MLP's addition), which norms act on
it, and the query, key, output and unembedding weights in one layout.

Three block styles cover the families here, all residual sums once each norm's scale is frozen:

- ``pre``: ``x += attn(norm(x)); x += mlp(norm(x))`` (GPT-2, Llama, Mistral, Qwen2, Qwen3);
- ``sandwich``: the same with a norm on each branch's output before it is added (Gemma 2:
  ``post_attention_layernorm`` and ``post_feedforward_layernorm``);
- ``post``: ``x = norm(x + attn(x)); x = norm(x + mlp(x))`` (BERT): every component passes through
  each later norm (frozen, so linear), and each norm's shift joins ``"bias"``.

Weights, whatever the module type (GPT-2's ``Conv1D`` or ``nn.Linear``): ``w_q`` (H, D, d),
``w_k`` (H_kv, D, d), ``w_o`` (H, d, D), ``w_u`` (D, V), biases shaped to match or None. The
projections are views of the model's own parameters (its dtype and device, no copy: a float64 copy
of an 8B model's would be 10 GB); the decomposition converts the few slices one cell needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Families refused by name, with why (and, for parallel blocks, how they would split).
REFUSED_FAMILIES = {
    "gptj": "GPT-J runs attention and MLP in parallel from one norm (x + attn(ln(x)) + mlp(ln(x))). They would "
    "split as here, each head and the MLP a component added after the layer, but its interleaved rotary over part "
    "of each head is not covered yet",
    "falcon": "Falcon runs attention and MLP in parallel (x + attn(ln(x)) + mlp(ln(x))) with multi-query heads. "
    "They would split as here, each head and the MLP a component added after the layer, but it is not covered yet",
    "gpt_neox": "GPT-NeoX's parallel residual and partial rotary are not covered yet (they would split like GPT-J's)",
    "phi": "Phi runs attention and MLP in parallel with a partial rotary; not covered yet",
    "t5": "T5 adds a learned relative-position bias to the scores and is an encoder-decoder; not covered",
}
COVERED = ("gpt2", "bert", "llama", "mistral", "qwen2", "qwen3", "gemma2")
LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3", "gemma2")


@dataclass(frozen=True)
class Norm:
    """A normalisation whose per-position scale the recording keeps: ``layer`` (subtract the mean,
    divide by the standard deviation) or ``rms``; then times ``gain``, plus ``shift`` if any."""

    module: Any
    kind: str
    eps: float
    gain: Any  # (D,) float64, the effective multiplier (Gemma's 1 + weight included)
    shift: Any  # (D,) float64 or None

    def scale_of(self, x: Any) -> Any:
        """The factor this norm divides by (as a multiplier), per position of ``x`` (..., D)."""
        import torch

        x = x.double()
        if self.kind == "layer":
            x = x - x.mean(-1, keepdim=True)
        return torch.rsqrt(x.pow(2).mean(-1) + self.eps)

    def linear(self, parts: Any, scale: Any) -> Any:
        """The frozen norm's linear part applied to each component: ``parts`` (C, P, D), ``scale`` (P,)."""
        if self.kind == "layer":
            parts = parts - parts.mean(-1, keepdim=True)  # the mean subtraction is linear: it stays in
        return parts * scale[None, :, None] * self.gain


@dataclass(frozen=True)
class LayerParts:
    """One block: its attention module (for rotary and scaling), norms and weights."""

    attention: Any
    attn_norm: Norm | None  # on the attention's input (pre and sandwich styles)
    q_norm: Norm | None  # QK-norm over each head's dimensions (Qwen3)
    k_norm: Norm | None
    w_q: Any
    b_q: Any
    w_k: Any
    b_k: Any
    o_proj: Any  # the module whose input is the heads' outputs (H * d per position)
    w_o: Any
    b_o: Any
    attn_out_norm: Norm | None  # on the attention branch's output (sandwich)
    mlp_out: Any  # the module whose output is the MLP branch's addition to the stream
    after_attn: Norm | None  # on the stream after the attention addition (post)
    after_mlp: Norm | None
    rotary: Callable[..., Any] | None  # the family's apply_rotary_pos_emb, or None

    @property
    def n_heads(self) -> int:
        return int(self.w_q.shape[0])

    @property
    def n_kv_heads(self) -> int:
        return int(self.w_k.shape[0])


@dataclass(frozen=True)
class Structure:
    family: str
    style: str  # "pre", "sandwich" or "post"
    embeddings: tuple[tuple[str, Any], ...]  # (component, module whose output it is); "embed" may be layer 0's input
    embed_from_layer_input: bool  # "embed" is the first block's input (families that scale their embeddings)
    embed_norm: Norm | None
    blocks: tuple[Any, ...]  # the block modules (their inputs, for embed_from_layer_input)
    layers: tuple[LayerParts, ...]
    final_norm: Norm | None
    w_u: Any  # (D, V), a view of the unembedding, or None
    b_u: Any
    no_unembedding: str  # why writes() is refused, or ""
    attn_softcap: float | None
    logit_softcap: float | None


def structure_of(model: Any) -> Structure:
    """The block structure of ``model``, or NotImplementedError naming the family and why."""
    config = getattr(model, "config", None)
    family = str(getattr(config, "model_type", type(model).__name__))
    if family in REFUSED_FAMILIES:
        raise NotImplementedError(f"explain: {REFUSED_FAMILIES[family]}")
    if getattr(config, "is_encoder_decoder", False):
        raise NotImplementedError(f"explain: {family} is an encoder-decoder; explain covers decoder-only and encoder-only models")
    if family == "gpt2":
        return _gpt2(model)
    if family == "bert":
        return _bert(model)
    if family in LLAMA_LIKE:
        return _llama_like(model, family)
    raise NotImplementedError(
        f"explain: the {family!r} family is not covered yet (covered: {', '.join(COVERED)}); its block structure "
        "would need describing in capturing/residuals/families.py"
    )


def _f64(t: Any) -> Any:
    return t.detach().double().cpu()


def _view(t: Any) -> Any:
    return t.detach()


def _heads_in(weight_in_out: Any, n_heads: int) -> Any:
    """(D, H * d) -> (H, D, d), a view of the parameter."""
    d_model = int(weight_in_out.shape[0])
    return _view(weight_in_out).reshape(d_model, n_heads, -1).permute(1, 0, 2)


def _bias(b: Any, n_heads: int) -> Any:
    return None if b is None else _f64(b).reshape(n_heads, -1)


def norm_of(module: Any) -> Norm:
    """A LayerNorm or an RMS norm (checked on a random input, so a norm we do not model is refused)."""
    import torch

    if isinstance(module, torch.nn.LayerNorm):
        shift = None if module.bias is None else _f64(module.bias)
        norm = Norm(module, "layer", float(module.eps), _f64(module.weight), shift)
    else:
        eps = getattr(module, "variance_epsilon", getattr(module, "eps", None))
        weight = getattr(module, "weight", None)
        if eps is None or weight is None:
            raise NotImplementedError(f"explain: the norm {type(module).__name__} is neither a LayerNorm nor an RMS norm")
        ones = torch.ones(int(weight.shape[0]), dtype=weight.dtype, device=weight.device)
        with torch.no_grad():  # an all-ones input has RMS 1: the output is the effective gain / sqrt(1 + eps)
            gain = _f64(module(ones)) * (1.0 + float(eps)) ** 0.5
        norm = Norm(module, "rms", float(eps), gain, None)
    _check_norm(norm)
    return norm


def _check_norm(norm: Norm) -> None:
    import torch

    weight = next(iter(norm.module.parameters()))
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, int(weight.shape[-1]), generator=generator, dtype=torch.float64).to(weight.dtype)
    with torch.no_grad():
        got = _f64(norm.module(x.to(weight.device)))
    x = x.double()
    want = norm.linear(x[None], norm.scale_of(x))[0] + (0 if norm.shift is None else norm.shift)
    slack = max(1e-3, 16 * torch.finfo(weight.dtype).eps)  # a half-precision norm rounds its output
    if not torch.allclose(got, want, atol=slack, rtol=slack):
        raise NotImplementedError(
            f"explain: the norm {type(norm.module).__name__} does not compute what a LayerNorm or RMS norm does"
        )


def _unembedding(model: Any) -> tuple[Any, Any, str]:
    head = getattr(model, "lm_head", None)
    if head is None or not hasattr(head, "weight"):
        return None, None, f"{type(model).__name__} has no unembedding (lm_head): load the *ForCausalLM / *LMHeadModel class"
    bias = getattr(head, "bias", None)
    return _view(head.weight).T, None if bias is None else _f64(bias), ""


def _gpt2(model: Any) -> Structure:
    base = getattr(model, "transformer", model)
    layers = []
    for block in base.h:
        attn = block.attn
        if getattr(attn, "is_cross_attention", False):
            raise NotImplementedError("explain: GPT-2 with cross-attention is not covered")
        n_heads = int(attn.num_heads)
        d = int(attn.embed_dim)
        w, b = attn.c_attn.weight, attn.c_attn.bias  # Conv1D: (in, out), out = q | k | v
        layers.append(
            LayerParts(
                attention=attn,
                attn_norm=norm_of(block.ln_1),
                q_norm=None,
                k_norm=None,
                w_q=_heads_in(w[:, :d], n_heads),
                b_q=_bias(b[:d], n_heads),
                w_k=_heads_in(w[:, d : 2 * d], n_heads),
                b_k=_bias(b[d : 2 * d], n_heads),
                o_proj=attn.c_proj,
                w_o=_view(attn.c_proj.weight).reshape(n_heads, -1, d),
                b_o=_f64(attn.c_proj.bias),
                attn_out_norm=None,
                mlp_out=block.mlp,
                after_attn=None,
                after_mlp=None,
                rotary=None,
            )
        )
    w_u, b_u, why = _unembedding(model)
    return Structure(
        "gpt2",
        "pre",
        (("embed", base.wte), ("pos_embed", base.wpe)),
        False,
        None,
        tuple(base.h),
        tuple(layers),
        norm_of(base.ln_f),
        w_u,
        b_u,
        why,
        None,
        None,
    )


def _linear_heads(linear: Any, n_heads: int) -> tuple[Any, Any]:
    """An nn.Linear's weight (out, in) as (H, D, d) and its bias as (H, d)."""
    return _heads_in(linear.weight.T, n_heads), _bias(linear.bias, n_heads)


def _linear_out(linear: Any, n_heads: int) -> tuple[Any, Any]:
    """An output projection (D, H * d) as (H, d, D) and its bias."""
    d_model = int(linear.weight.shape[0])
    bias = getattr(linear, "bias", None)
    return _view(linear.weight).T.reshape(n_heads, -1, d_model), None if bias is None else _f64(bias)


def _bert(model: Any) -> Structure:
    base = getattr(model, "bert", model)
    emb = base.embeddings
    if str(getattr(base.config, "position_embedding_type", "absolute")) != "absolute":
        raise NotImplementedError("explain: BERT with relative position embeddings adds them to the scores; not covered")
    layers = []
    for block in base.encoder.layer:
        attn = block.attention.self
        n_heads = int(attn.num_attention_heads)
        w_q, b_q = _linear_heads(attn.query, n_heads)
        w_k, b_k = _linear_heads(attn.key, n_heads)
        w_o, b_o = _linear_out(block.attention.output.dense, n_heads)
        layers.append(
            LayerParts(
                attention=attn,
                attn_norm=None,
                q_norm=None,
                k_norm=None,
                w_q=w_q,
                b_q=b_q,
                w_k=w_k,
                b_k=b_k,
                o_proj=block.attention.output.dense,
                w_o=w_o,
                b_o=b_o,
                attn_out_norm=None,
                mlp_out=block.output.dense,
                after_attn=norm_of(block.attention.output.LayerNorm),
                after_mlp=norm_of(block.output.LayerNorm),
                rotary=None,
            )
        )
    parts = (("embed", emb.word_embeddings), ("pos_embed", emb.position_embeddings), ("type_embed", emb.token_type_embeddings))
    why = "BERT's output head (dense, GELU, LayerNorm, decoder) is not linear after the last norm: direct logit attribution does not apply"
    return Structure(
        "bert",
        "post",
        parts,
        False,
        norm_of(emb.LayerNorm),
        tuple(base.encoder.layer),
        tuple(layers),
        None,
        None,
        None,
        why,
        None,
        None,
    )


def _llama_like(model: Any, family: str) -> Structure:
    base = model.model if hasattr(getattr(model, "model", None), "layers") else model
    config = model.config
    sandwich = family == "gemma2"
    layers = []
    for block in base.layers:
        attn = block.self_attn
        n_heads = int(config.num_attention_heads)
        n_kv = int(getattr(config, "num_key_value_heads", None) or n_heads)
        w_q, b_q = _linear_heads(attn.q_proj, n_heads)
        w_k, b_k = _linear_heads(attn.k_proj, n_kv)
        w_o, b_o = _linear_out(attn.o_proj, n_heads)
        q_norm = getattr(attn, "q_norm", None)
        k_norm = getattr(attn, "k_norm", None)
        layers.append(
            LayerParts(
                attention=attn,
                attn_norm=norm_of(block.input_layernorm),
                q_norm=None if q_norm is None else norm_of(q_norm),
                k_norm=None if k_norm is None else norm_of(k_norm),
                w_q=w_q,
                b_q=b_q,
                w_k=w_k,
                b_k=b_k,
                o_proj=attn.o_proj,
                w_o=w_o,
                b_o=b_o,
                attn_out_norm=norm_of(block.post_attention_layernorm) if sandwich else None,
                mlp_out=block.post_feedforward_layernorm if sandwich else block.mlp,
                after_attn=None,
                after_mlp=None,
                rotary=getattr(sys.modules[type(attn).__module__], "apply_rotary_pos_emb", None),
            )
        )
    w_u, b_u, why = _unembedding(model)
    return Structure(
        family,
        "sandwich" if sandwich else "pre",
        (("embed", base.layers[0]),),
        True,
        None,
        tuple(base.layers),
        tuple(layers),
        norm_of(base.norm),
        w_u,
        b_u,
        why,
        getattr(config, "attn_logit_softcapping", None),
        getattr(config, "final_logit_softcapping", None),
    )
