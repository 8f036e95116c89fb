"""Small models for tests, built offline: the packaged MiniLM, and randomly initialised GPT-2
style models with a byte-level BPE tokenizer trained here on a few sentences."""

from __future__ import annotations

import functools
from typing import Any

CORPUS = [
    "The cat sat on the mat because it was tired.",
    "A child painted a picture of a horse.\nMy favourite animal is the horse.",
    "Attention weights sum to one over the keys of every query.",
    "<img src=x onerror=alert(1)> is just text to a tokenizer.",
]


@functools.lru_cache(maxsize=1)
def byte_level_tokenizer() -> Any:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 20, vocab_size=400, min_frequency=1, special_tokens=["<|endoftext|>"])
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>")


def tiny_gpt2(attn_implementation: str | None = None, seed: int = 0, n_positions: int = 64) -> tuple[Any, Any]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = byte_level_tokenizer()
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=32, n_layer=3, n_head=4)
    kwargs = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    model = GPT2LMHeadModel._from_config(config, **kwargs)
    return model.eval(), tokenizer


@functools.lru_cache(maxsize=1)
def minilm() -> tuple[Any, Any]:
    from attn_widget.demo import load_packaged_model

    return load_packaged_model()


def tiny_family(family: str, attn_implementation: str = "sdpa", seed: int = 0) -> tuple[Any, Any]:
    """A randomly initialised small model of ``family`` with the byte-level tokenizer:
    gpt2, bert, llama (RoPE + grouped-query, 4 query heads on 2 key heads), mqa (1 key head), bart."""
    import torch
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        BertConfig,
        BertModel,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
    )

    tokenizer = byte_level_tokenizer()
    vocab = len(tokenizer)
    eos = tokenizer.eos_token_id
    torch.manual_seed(seed)
    small = dict(vocab_size=vocab)
    configs = {
        "gpt2": (GPT2LMHeadModel, GPT2Config(n_layer=3, n_head=4, n_embd=32, n_positions=128, **small)),
        "bert": (
            BertModel,
            BertConfig(num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64, **small),
        ),
        "llama": (
            LlamaForCausalLM,
            LlamaConfig(
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                hidden_size=32,
                intermediate_size=64,
                bos_token_id=eos,
                eos_token_id=eos,
                **small,
            ),
        ),
        "mqa": (
            LlamaForCausalLM,
            LlamaConfig(
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=1,
                hidden_size=32,
                intermediate_size=64,
                bos_token_id=eos,
                eos_token_id=eos,
                **small,
            ),
        ),
        "bart": (
            BartForConditionalGeneration,
            BartConfig(
                encoder_layers=2,
                decoder_layers=3,
                d_model=32,
                encoder_attention_heads=4,
                decoder_attention_heads=2,
                encoder_ffn_dim=32,
                decoder_ffn_dim=32,
                pad_token_id=eos,
                bos_token_id=eos,
                eos_token_id=eos,
                decoder_start_token_id=eos,
                forced_eos_token_id=None,
                **small,
            ),
        ),
    }
    cls, config = configs[family]
    model = cls._from_config(config, attn_implementation=attn_implementation)
    return model.eval(), tokenizer


SALIENCY_TEXT = "A child painted a picture of a horse. My favourite animal is the"


def saliency_widget(model_and_tokenizer: tuple[Any, Any], **kwargs: Any) -> Any:
    """A saliency widget on SALIENCY_TEXT (15 byte-level tokens) with <ENV> and <LAN> spans."""
    from attn_widget import AttentionWidget

    model, tokenizer = model_and_tokenizer
    spans = [("<ENV>", 0, 8), ("<LAN>", 8, 15)]
    return AttentionWidget.from_model(model, tokenizer, SALIENCY_TEXT, saliency=True, spans=spans, **kwargs)


def eager_reference(model: Any, encoded: Any, **extra: Any) -> dict[str, Any]:
    """What eager attention with output_attentions=True returns: {kind: (L, B, H, Nq, Nk)}."""
    import torch

    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(**encoded, **extra, output_attentions=True)
    finally:
        model.set_attn_implementation(before)
    if model.config.is_encoder_decoder:
        parts = {"encoder": out.encoder_attentions, "decoder": out.decoder_attentions, "cross": out.cross_attentions}
    else:
        parts = {"self": out.attentions}
    return {k: torch.stack(list(v)).numpy() for k, v in parts.items()}
