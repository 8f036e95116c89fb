"""Run a Hugging Face model on a text and keep what is needed to show any head's attention.

``capture`` runs one ordinary forward pass (PyTorch SDPA, no gradients) while recorder.py keeps
each layer's queries and keys as the model used them (after rotary embeddings, with the real mask);
heads are recomputed on demand. No layer x head x N x N array is built, whatever the model's
``attn_implementation`` (which is restored afterwards).

Texts longer than the model accepts are refused with an error (never silently truncated): a
truncated capture would show attention over text the user did not choose.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_int, is_int
from .eager_fallback import eager_weights, no_long_input_note
from .memory import check_capture_fits
from .model_config import decoder_start_token, device_of, layer_count, position_limit
from .recorder import RecordedCall, recording
from .residuals import remember_source, residuals_fit, residuals_kept
from .result import ArrayKind, Axis, Capture, Kind, RecordedKind
from .tokens import readable_tokens
from .vision.capture import capture_images

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def check_text(text: Any, name: str = "text") -> list[str]:
    """``text`` as a non-empty list of non-empty strings, or an error naming what was wrong."""
    texts = [text] if isinstance(text, str) else text
    if not isinstance(texts, (list, tuple)) or not texts:
        raise TypeError(f"{name} must be a non-empty str or a list of str, got {type(text).__name__}: {text!r}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(t).__name__}")
        if not t.strip():
            where = name if isinstance(text, str) else f"{name}[{i}]"
            raise ValueError(f"{where} is empty: give at least one word to tokenize")
    return list(texts)


def capture(
    model: PreTrainedModel,
    processor: Any,
    text: str | Sequence[str] | None = None,
    *,
    images: Any = None,
    text_pair: str | Sequence[str] | None = None,
    decoder_text: str | Sequence[str] | None = None,
    example: int | None = None,
    explain: bool = False,
) -> Capture:
    """Tokenize ``text`` (and prepare ``images``), run ``model`` once, and return a ``Capture`` of
    one example.

    - ``processor``: the model's tokenizer, or for pictures its processor (``AutoProcessor``: an
      image processor with a tokenizer), or its image processor alone for a vision-only model.
    - ``text``: a str, or a list of str (a padded batch; then ``example`` picks the one kept, with
      its real tokens only). With ``images``: one prompt, with the processor's image placeholder
      where each picture goes (``"<image> ..."`` for LLaVA), or None for a vision-only model.
    - ``images``: a PIL image, an H x W x 3 uint8 array, or a list of them. The vision tower's
      self-attention becomes the kind ``"vision"`` (its images or tiles side by side), the language
      model's ``"self"``, text-to-image cross-attention ``"cross"``; image positions are labelled
      ``<img 0: r3 c7>`` and ``Capture.patches(kind)`` maps them to the pixels they cover.
    - ``text_pair``: second sentences for sentence-pair models (BERT's ``[SEP]`` pairs).
    - ``decoder_text``: for encoder-decoder models, the decoder's input. Default: the input text
      shifted right behind the decoder start token (teacher forcing on the text itself).
    - ``explain``: also record the residual stream's parts in this pass, for ``w.explain`` and
      ``w.writes`` (without it, they run a second pass when first asked).
    """
    if images is not None:
        for name, value in (("text_pair", text_pair), ("decoder_text", decoder_text), ("example", example)):
            if value is not None:
                raise ValueError(f"{name} is for text inputs; with images, capture takes one prompt (text) only")
        return capture_images(model, processor, text, images)
    if text is None:
        raise TypeError("capture needs text (or images=): give a str or a list of str to tokenize")
    tokenizer = processor if getattr(processor, "tokenizer", None) is None else processor.tokenizer  # a processor's text side

    texts = check_text(text)
    index = _check_example(example, len(texts))
    config = getattr(model, "config", None)
    padding = len(texts) > 1
    if padding and getattr(tokenizer, "pad_token", None) is None:
        tokenizer.pad_token = tokenizer.eos_token  # GPT-2 style tokenizers ship no pad token
    pairs = None if text_pair is None else check_text(text_pair, "text_pair")
    if pairs is not None and len(pairs) != len(texts):
        raise ValueError(f"text_pair has {len(pairs)} entries but text has {len(texts)}")
    encoded = dict(tokenizer(texts, pairs, return_tensors="pt", padding=padding))
    decoder = None
    if getattr(config, "is_encoder_decoder", False):
        if decoder_text is not None:
            targets = check_text(decoder_text, "decoder_text")
            if len(targets) != len(texts):
                raise ValueError(f"decoder_text has {len(targets)} entries but text has {len(texts)}")
            dec = tokenizer(text_target=targets, return_tensors="pt", padding=padding)
            decoder = (dec["input_ids"], dec.get("attention_mask"))
        else:
            decoder = _shift_right(encoded["input_ids"], encoded.get("attention_mask"), config, model)
    elif decoder_text is not None:
        raise ValueError("decoder_text is only for encoder-decoder models; this model has no decoder input")
    return capture_ids(model, tokenizer, encoded, decoder=decoder, example=index, explain=explain)


def capture_ids(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    encoded: dict[str, Any],
    *,
    decoder: tuple[Any, Any] | None = None,
    example: int = 0,
    generated_from: int | None = None,
    explain: bool = False,
) -> Capture:
    """The capture of already tokenized inputs (``input_ids``, ``attention_mask``, ...).

    ``decoder`` = (decoder_input_ids, decoder_attention_mask) for encoder-decoder models.
    ``generated_from``: the first generated position of the (decoder) sequence, to mark them.
    """
    import torch

    config = getattr(model, "config", None)
    ids = encoded["input_ids"]
    _check_length(config, int(ids.shape[1]), "text")
    check_capture_fits(model, int(ids.shape[1]), None if decoder is None else int(decoder[0].shape[1]))
    device = device_of(model)
    inputs = {k: v.to(device) for k, v in encoded.items() if hasattr(v, "to")}
    if decoder is not None:
        inputs["decoder_input_ids"] = decoder[0].to(device)
        if decoder[1] is not None:
            inputs["decoder_attention_mask"] = decoder[1].to(device)
    extra: dict[str, Any] = {"use_cache": False, "return_dict": True}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        extra["logits_to_keep"] = 1  # the capture needs no logits: skip the (N, vocab) matrix
    whole = explain and decoder is None and residuals_fit(model, int(ids.shape[1]))  # else: row chunks when asked
    explaining = residuals_kept(model, example) if whole else nullcontext([])
    with recording(model, example) as rec, explaining as residuals, torch.no_grad():
        model(**inputs, **extra)
    # A family that never calls the attention interface: its own weights, kept whole (exact).
    arrays = None if rec.calls else eager_weights(model, inputs, {"return_dict": True, "use_cache": False}, example)

    enc_keep = _kept(encoded.get("attention_mask"), example, int(ids.shape[1]))
    # Generated tokens are on the only sequence of a decoder-only model, on the decoder side otherwise.
    enc_axis = _axis(tokenizer, ids[example], enc_keep, generated_from if decoder is None else None)
    if decoder is None:
        if arrays is not None:
            return _array_capture(model, {"self": (arrays["self"], enc_keep, enc_keep, enc_axis, enc_axis)})
        calls = [_restrict(c, enc_keep, enc_keep) for c in rec.calls]
        captured = Capture([_kind("self", calls, enc_axis, enc_axis, config)])
        remember_source(captured, model, tokenizer, inputs, example, enc_keep, residuals[0] if residuals else None)
        return captured

    dec_ids = decoder[0]
    dec_keep = _kept(decoder[1], example, int(dec_ids.shape[1]))
    dec_axis = _axis(tokenizer, dec_ids[example], dec_keep, generated_from)
    sides = {
        "encoder": (enc_keep, enc_keep, enc_axis, enc_axis),
        "decoder": (dec_keep, dec_keep, dec_axis, dec_axis),
        "cross": (dec_keep, enc_keep, dec_axis, enc_axis),
    }
    if arrays is not None:
        return _array_capture(model, {name: (arrays[name], *side) for name, side in sides.items()})
    groups: dict[str, list[RecordedCall]] = {"encoder": [], "decoder": [], "cross": []}
    for call in rec.calls:
        groups[_kind_of(call.module_name)].append(call)
    kinds: list[Kind] = []
    for name, (q_keep, k_keep, q_axis, k_axis) in sides.items():
        if groups[name]:
            calls = [_restrict(c, q_keep, k_keep) for c in groups[name]]
            kinds.append(_kind(name, calls, q_axis, k_axis, config))
    return Capture(kinds)


def _array_capture(model: PreTrainedModel, parts: dict[str, tuple[Any, Any, Any, Axis, Axis]]) -> Capture:
    """The capture of a family without the attention interface: {kind: (weights (L, H, Nq, Nk) of
    the padded sequence, kept rows, kept columns, query axis, key axis)} as arrays (eager_fallback.py)."""
    kinds: list[Kind] = []
    for name, (weights, q_keep, k_keep, q_axis, k_axis) in parts.items():
        kept = np.ascontiguousarray(weights[:, :, q_keep.numpy()][:, :, :, k_keep.numpy()], dtype=np.float32)
        kinds.append(ArrayKind(name, kept, q_axis, k_axis))
    return Capture(kinds, note=no_long_input_note(model))


def _kind(name: str, calls: list[RecordedCall], queries: Axis, keys: Axis, config: Any) -> Kind:
    expected = layer_count(config, name)
    if expected is not None and len(calls) != expected:
        raise RuntimeError(
            f"recorded {len(calls)} {name} attention layers but the config has {expected}: refusing to show a partial result"
        )
    return RecordedKind(name, calls, queries, keys)


def _kind_of(module_name: str) -> str:
    parts = module_name.split(".")
    if any(p in ("encoder_attn", "crossattention", "cross_attn", "EncDecAttention") for p in parts):
        return "cross"
    return "decoder" if "decoder" in parts else "encoder"


def _restrict(call: RecordedCall, q_keep: Any, k_keep: Any) -> RecordedCall:
    """Drop padding positions: keep only the example's real query and key rows."""
    n_q, n_k = int(call.q.shape[1]), int(call.k.shape[1])
    if len(q_keep) == n_q and len(k_keep) == n_k:
        return call
    qi = q_keep.to(call.q.device)
    ki = k_keep.to(call.k.device)
    # a window over one run of kept positions (padding on one side) is the same window
    band = call.band if call.band is not None and _same_run(q_keep, k_keep) else None
    mask = None if band is not None else call.allowed(call.q.device)
    if mask is not None:
        mask = mask.index_select(0, qi).index_select(1, ki)
    return RecordedCall(
        module_name=call.module_name,
        q=call.q.index_select(1, qi),
        k=call.k.index_select(1, ki),
        mask=mask,
        causal=False,
        scaling=call.scaling,
        softcap=call.softcap,
        bias=None if call.bias is None else call.bias.restricted(q_keep, k_keep),
        sink=call.sink,
        band=band,
    )


def _same_run(q_keep: Any, k_keep: Any) -> bool:
    """Queries and keys kept are the same consecutive positions."""
    n = len(q_keep)
    return n == len(k_keep) and bool((q_keep == k_keep).all()) and (n < 2 or int(q_keep[-1]) - int(q_keep[0]) == n - 1)


def _kept(mask: Any, example: int, n: int) -> Any:
    import torch

    if mask is None:
        return torch.arange(n)
    return torch.nonzero(mask[example].cpu() != 0).flatten()


def _axis(tokenizer: PreTrainedTokenizerBase, ids: Any, keep: Any, generated_from: int | None) -> Axis:
    kept = [int(i) for i in keep]
    labels, special = readable_tokens(tokenizer, [int(ids[i]) for i in kept])
    generated = None if generated_from is None else [i >= generated_from for i in kept]
    return Axis.of(labels, special, generated)


def _shift_right(ids: Any, mask: Any, config: Any, model: Any = None) -> tuple[Any, Any]:
    import torch

    start = decoder_start_token(config, model)
    if start is None:
        raise ValueError("the model has no decoder_start_token_id (in its config or generation_config): pass decoder_text=")
    shifted = torch.cat([torch.full_like(ids[:, :1], int(start)), ids[:, :-1]], dim=1)
    if mask is None:
        return shifted, None
    return shifted, torch.cat([torch.ones_like(mask[:, :1]), mask[:, :-1]], dim=1)


def _check_example(example: Any, n_texts: int) -> int:
    if n_texts > 1 and example is None:
        raise ValueError(
            f"text holds a batch of {n_texts} strings; pass example=i (0 <= i < {n_texts}) to choose which one to show"
        )
    index = 0 if example is None else example
    if not is_int(index, numpy_ok=False) or not 0 <= index < n_texts:
        raise ValueError(f"example must be an int in [0, {n_texts - 1}], got {example!r}")
    return index


def _check_length(config: Any, n_tokens: int, what: str) -> None:
    limit = position_limit(config)
    if limit is not None and n_tokens > int(limit):
        raise ValueError(
            f"{what} is {n_tokens} tokens long but the model accepts at most {limit} positions; "
            "shorten it (attn_widget does not truncate silently)"
        )


def capture_generation(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    *,
    max_new_tokens: int = 20,
    **generate_kwargs: Any,
) -> Capture:
    """Generate after ``prompt`` (greedy unless told otherwise), then capture the attention over the
    prompt and the generated tokens in one forward pass; generated tokens are marked."""
    import torch

    check_text(prompt, "prompt")
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    check_int("max_new_tokens", max_new_tokens, low=1)
    config = getattr(model, "config", None)
    encoded = dict(tokenizer(prompt, return_tensors="pt"))
    device = device_of(model)
    generate_kwargs.setdefault("do_sample", False)
    if getattr(tokenizer, "pad_token_id", None) is None and getattr(tokenizer, "eos_token_id", None) is not None:
        generate_kwargs.setdefault("pad_token_id", tokenizer.eos_token_id)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model.generate(
                **{k: v.to(device) for k, v in encoded.items()}, max_new_tokens=max_new_tokens, **generate_kwargs
            )
    finally:
        model.train(was_training)
    sequence = out[:1].cpu()
    if getattr(config, "is_encoder_decoder", False):
        return capture_ids(model, tokenizer, encoded, decoder=(sequence, None), generated_from=1)
    n_prompt = int(encoded["input_ids"].shape[1])
    full = {"input_ids": sequence, "attention_mask": torch.ones_like(sequence)}
    return capture_ids(model, tokenizer, full, generated_from=n_prompt)
