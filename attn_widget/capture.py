"""Run a Hugging Face model on a text and collect its attention weights, whatever its attention
implementation.

Under transformers v5 the default attention (SDPA) computes no weights: ``output_attentions=True``
then returns an empty tuple. We switch the model to eager attention for the one forward pass and
switch it back afterwards, so the user's model is left as it was, and we refuse to hand back an
empty or partial result.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from .encoding import normalize_attention
from .tokens import readable_tokens


@dataclass(frozen=True)
class CapturedAttention:
    """One example's attention ``(L, H, N, N)`` float32 with its token labels."""

    attention: np.ndarray
    tokens: list[str]
    special: list[bool]


def check_text(text: Any) -> list[str]:
    """``text`` as a non-empty list of non-empty strings, or an error naming what was wrong."""
    texts = [text] if isinstance(text, str) else text
    if not isinstance(texts, (list, tuple)) or not texts:
        raise TypeError(
            f"text must be a non-empty str or a list of str, got {type(text).__name__}: {text!r}"
        )
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text[{i}] must be a str, got {type(t).__name__}")
        if not t.strip():
            where = "text" if isinstance(text, str) else f"text[{i}]"
            raise ValueError(f"{where} is empty: give at least one word to tokenize")
    return list(texts)


@contextmanager
def eager_attention(model: Any) -> Iterator[None]:
    """Run the body with the model on eager attention and in eval mode; restore both after."""
    config = getattr(model, "config", None)
    before = getattr(config, "_attn_implementation", None)
    was_training = bool(getattr(model, "training", False))
    switch = before not in (None, "eager")
    if switch:
        if not hasattr(model, "set_attn_implementation"):
            raise RuntimeError(
                f"the model uses {before!r} attention, which returns no attention weights, and "
                "cannot be switched to eager; load it with attn_implementation='eager'"
            )
        model.set_attn_implementation("eager")
    model.eval()
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(before)
        if was_training:
            model.train()


def capture_attention(
    model: Any,
    tokenizer: Any,
    text: str | Sequence[str],
    *,
    example: int | None = None,
) -> CapturedAttention:
    """Tokenize ``text``, run ``model`` once without gradients, and return one example's attention.

    ``text`` may be a list (a padded batch); then ``example`` picks which sequence is shown and its
    padding positions are dropped, so only its real tokens appear.
    """
    import torch

    texts = check_text(text)
    if len(texts) > 1 and example is None:
        raise ValueError(
            f"text holds a batch of {len(texts)} strings; pass example=i "
            f"(0 <= i < {len(texts)}) to choose which one to show"
        )
    config = getattr(model, "config", None)
    if getattr(config, "is_encoder_decoder", False):
        raise NotImplementedError(
            "from_model does not run encoder-decoder models yet; run the model yourself with "
            "output_attentions=True and pass out.encoder_attentions (or decoder_attentions) "
            "to AttentionWidget(attention, tokens)"
        )
    index = 0 if example is None else example
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(texts):
        raise ValueError(f"example must be an int in [0, {len(texts) - 1}], got {example!r}")

    padding = len(texts) > 1
    if padding and getattr(tokenizer, "pad_token", None) is None:
        tokenizer.pad_token = tokenizer.eos_token  # GPT-2 style tokenizers ship no pad token
    encoded = tokenizer(texts, return_tensors="pt", padding=padding)
    n_tokens = int(encoded["input_ids"].shape[1])
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if limit is not None and n_tokens > int(limit):
        raise ValueError(
            f"text is {n_tokens} tokens long but the model accepts at most {limit} positions; "
            "shorten the text"
        )
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in encoded.items()}

    with eager_attention(model), torch.no_grad():
        out = model(**inputs, output_attentions=True, return_dict=True)

    attentions = getattr(out, "attentions", None)
    n_layers = _layer_count(config)
    if not attentions or any(a is None for a in attentions):
        raise RuntimeError(
            "the model returned no attention weights even under eager attention "
            f"(got {type(attentions).__name__} of length {len(attentions or ())}); "
            "this architecture may compute attention in a way transformers cannot report"
        )
    if n_layers is not None and len(attentions) != n_layers:
        raise RuntimeError(
            f"the model returned attention for {len(attentions)} layers but its config has "
            f"{n_layers}: refusing to show a partial result"
        )
    attention = normalize_attention(attentions, example=index)
    ids = encoded["input_ids"][index]
    mask = encoded.get("attention_mask")
    keep = np.arange(n_tokens) if mask is None else np.flatnonzero(mask[index].cpu().numpy())
    attention = np.ascontiguousarray(attention[:, :, keep][:, :, :, keep])
    labels, special = readable_tokens(tokenizer, [int(i) for i in ids[keep]])
    return CapturedAttention(attention=attention, tokens=labels, special=special)


def _layer_count(config: Any) -> int | None:
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None

