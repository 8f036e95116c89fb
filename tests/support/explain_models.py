"""Tiny random models for the explain tests, with weights scaled up so that scores and logits are
O(1) (random init gives ~1e-3, where a 1e-4 tolerance says nothing): GPT-2, BERT, Llama (RoPE +
grouped-query) from ``tiny_family``, Qwen3 (QK-norm), Qwen2 (q/k/v biases), Mistral, and Gemma 2
(sandwich norms, soft-caps)."""

from __future__ import annotations

from typing import Any

import torch

from .models import byte_level_tokenizer, tiny_family


def loud(model: Any) -> Any:
    """Weights large enough that scores and logits are O(1) (random init gives ~1e-3, where 1e-4 says nothing)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=p.dtype)
            if "norm" in name.lower() or "ln_" in name:
                p.copy_(
                    (1.0 if "gemma" not in type(model).__name__.lower() else 0.0) + 0.3 * noise
                    if p.ndim == 1 and "bias" not in name
                    else 0.1 * noise
                )
            elif p.ndim == 1:
                p.copy_(0.1 * noise)
            else:
                p.copy_(noise * 0.5 / max(1.0, float(p.shape[-1])) ** 0.25)
    return model.eval()


def llama_like(family: str) -> tuple[Any, Any]:
    """Qwen3 (QK-norm), Qwen2 (biases on q, k, v) or Mistral: 2 layers, 4 query heads on 2 key heads."""
    import transformers

    name = {"qwen3": "Qwen3", "qwen2": "Qwen2", "mistral": "Mistral"}[family]
    tokenizer = byte_level_tokenizer()
    torch.manual_seed(0)
    config = getattr(transformers, f"{name}Config")(
        vocab_size=len(tokenizer),
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_size=32,
        intermediate_size=64,
        head_dim=8,
    )
    model = getattr(transformers, f"{name}ForCausalLM")._from_config(config, attn_implementation="sdpa")
    return model.eval(), tokenizer


def gemma2(attn_softcap: float | None = None, implementation: str = "eager") -> tuple[Any, Any]:
    from transformers import Gemma2Config, Gemma2ForCausalLM

    tokenizer = byte_level_tokenizer()
    torch.manual_seed(0)
    config = Gemma2Config(
        vocab_size=len(tokenizer),
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_size=32,
        intermediate_size=64,
        head_dim=8,
        attn_logit_softcapping=attn_softcap,
        final_logit_softcapping=5.0,
        sliding_window=4,
    )
    return Gemma2ForCausalLM._from_config(config, attn_implementation=implementation).eval(), tokenizer


def model_of(family: str) -> tuple[Any, Any]:
    if family in ("qwen3", "qwen2", "mistral"):
        model, tokenizer = llama_like(family)
    else:
        model, tokenizer = gemma2() if family == "gemma2" else tiny_family(family)
    return loud(model), tokenizer
