"""``capture(model, processor, text, images=...)``: one forward pass over pictures (and a prompt),
every attention call recorded, then split into kinds and laid on axes whose image positions are
named and mapped to the pixels they cover.

Kinds: ``"vision"`` is the vision tower's self-attention (all its images or tiles side by side on
one axis, block-diagonal: nothing attends across them unless the model does, as Mllama's tiles
do); ``"self"`` the language model's, its image placeholders labelled by what they stand for;
``"cross"`` text-to-image cross-attention (Mllama). Which module belongs to which kind is read
from its name (``_kind_of``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..block_diagonal import joined
from ..images import as_pil, check_images
from ..memory import check_capture_fits
from ..model_config import device_of, layer_count, position_limit
from ..recorder import RecordedCall, recording
from ..result import Axis, Capture, Kind, RecordedKind
from ..tokens import readable_tokens
from .families import check_supported, layout_of
from .layout import ImageToken, VisionInputs, VisionLayout, patch_rows

if TYPE_CHECKING:
    from transformers import PreTrainedModel

# Module-name parts of vision towers in transformers v5 (LLaVA's and Gemma 3's vision_tower,
# Idefics3's and Mllama's vision_model, Qwen2-VL's visual) and of cross-attention layers.
VISION_PARTS = frozenset({"vision_tower", "vision_model", "visual", "vision_encoder"})
CROSS_PARTS = frozenset({"cross_attn", "crossattention", "encoder_attn"})
CROSS_LABEL = "cross-attention (text queries, image keys)"


@dataclass
class VisionRun:
    """What a capture with pictures runs the model on, and how its positions are laid out."""

    pictures: list[Any]
    config: Any
    tokenizer: Any
    layout: VisionLayout
    inputs: dict[str, Any]  # the processor's tensors on the model's device and dtype
    ids: Any  # the prompt's token ids (1, N), or None for a vision-only model
    text_axis: Axis | None


def prepare_images(model: PreTrainedModel, processor: Any, text: str | None, images: Any) -> VisionRun:
    """Check and encode ``images`` (and the prompt), lay out their tokens, and check the sizes."""
    pictures = check_images(images)
    config = model.config
    check_supported(config)
    text = _check_prompt(config, text)
    image_processor, tokenizer, encoded = _encode(processor, text, pictures)
    sizes = [(int(p.shape[0]), int(p.shape[1])) for p in pictures]
    layout = layout_of(VisionInputs(config, image_processor, sizes, encoded))
    ids = encoded.get("input_ids")
    n_text = 0 if ids is None else int(ids.shape[1])
    limit = position_limit(config) if ids is not None else None
    if limit is not None and n_text > limit:
        raise ValueError(f"the prompt with its image tokens is {n_text} tokens long but the model accepts at most {limit}")
    check_capture_fits(model, n_text, vision_tokens=[len(s) for s in layout.tower])
    device = device_of(model)
    dtype = next(model.parameters()).dtype
    inputs = {k: _to(v, device, dtype) for k, v in encoded.items() if hasattr(v, "to") and k != "labels"}
    text_axis = None if ids is None else _text_axis(config, tokenizer, ids[0], layout)
    return VisionRun(pictures, config, tokenizer, layout, inputs, ids, text_axis)


def capture_images(model: PreTrainedModel, processor: Any, text: str | None, images: Any) -> Capture:
    """The capture of ``images`` (and the prompt ``text`` for a model that reads text too)."""
    import torch

    run = prepare_images(model, processor, text, images)
    extra: dict[str, Any] = {"use_cache": False, "return_dict": True}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        extra["logits_to_keep"] = 1
    with recording(model, 0, whole_batch=True) as rec, torch.no_grad():
        model(**run.inputs, **extra)
    if not rec.calls:
        raise RuntimeError(
            f"{type(model).__name__} made no attention calls through transformers' AttentionInterface; "
            "this architecture computes attention its own way and cannot be captured"
        )
    return built_capture(run, rec.calls)


def built_capture(run: VisionRun, calls: list[RecordedCall], text_axis: Axis | None = None) -> Capture:
    """The kinds of a capture with pictures from its recorded ``calls``; ``text_axis`` replaces the
    prompt's (a live generation's, with the tokens written after it)."""
    groups = _grouped(calls, text_model=run.ids is not None)
    text_axis = run.text_axis if text_axis is None else text_axis
    kinds: list[Kind] = []
    for name in ("self", "cross", "vision"):
        if not groups.get(name):
            continue
        if name == "vision":
            queries = keys = _image_axis(run.layout.tower_tokens)
        elif name == "cross":
            assert text_axis is not None
            queries, keys = text_axis, _image_axis(run.layout.cross or [])
        else:
            assert text_axis is not None
            queries = keys = text_axis
        kinds.append(_kind(name, groups[name], queries, keys, run.config))
    if run.ids is not None and not run.layout.features and run.layout.cross is None:
        kinds.sort(key=lambda k: k.id != "vision")  # a two-tower model (CLIP): the pictures first
    return Capture(kinds, images=run.pictures)


def processor_inputs(model: PreTrainedModel, processor: Any, text: str | None, images: Any) -> tuple[Any, dict[str, Any]]:
    """(tokenizer or None, the processor's tensors on the model's device and dtype) for ``images``
    and the prompt ``text``, checked as a capture checks them: what attribution runs the model on."""
    pictures = check_images(images)
    check_supported(model.config)
    _, tokenizer, encoded = _encode(processor, _check_prompt(model.config, text), pictures)
    device = device_of(model)
    dtype = next(model.parameters()).dtype
    return tokenizer, {k: _to(v, device, dtype) for k, v in encoded.items() if hasattr(v, "to") and k != "labels"}


def _check_prompt(config: Any, text: Any) -> str | None:
    reads_text = getattr(config, "vision_config", None) is not None
    if text is None:
        if reads_text:
            raise ValueError(
                f"{type(config).__name__.removesuffix('Config')} reads text with its pictures: give text= a prompt "
                "(with the processor's image placeholder where the picture goes, e.g. '<image> What is this?')"
            )
        return None
    if not reads_text:
        raise ValueError(f"{type(config).__name__.removesuffix('Config')} reads pictures only: leave text out (text=None)")
    if not isinstance(text, str):
        raise TypeError(f"with images, text must be one str (the prompt), got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty: give a prompt to go with the pictures")
    return text


def _encode(processor: Any, text: str | None, pictures: list[Any]) -> tuple[Any, Any, dict[str, Any]]:
    """(image processor, tokenizer or None, the processor's tensors) for ``processor``, which may
    be a processor (an image processor and a tokenizer), or an image processor alone."""
    pil = [as_pil(p) for p in pictures]
    shown = pil[0] if len(pil) == 1 else pil
    if hasattr(processor, "image_processor"):
        kwargs: dict[str, Any] = {"images": shown, "return_tensors": "pt"}
        if text is not None:
            kwargs["text"] = text
        return processor.image_processor, getattr(processor, "tokenizer", None), dict(processor(**kwargs))
    if hasattr(processor, "convert_ids_to_tokens"):
        raise TypeError(
            "images need an image processor or a processor (e.g. AutoProcessor.from_pretrained(name)), "
            f"got a tokenizer ({type(processor).__name__})"
        )
    if not callable(getattr(processor, "preprocess", None)):
        raise TypeError(f"expected a processor or an image processor, got {type(processor).__name__}")
    if text is not None:
        raise ValueError(f"{type(processor).__name__} prepares pictures only; pass the model's processor to give it text")
    return processor, None, dict(processor(images=shown, return_tensors="pt"))


def _to(value: Any, device: Any, dtype: Any) -> Any:
    if getattr(value, "is_floating_point", lambda: False)():
        return value.to(device=device, dtype=dtype)
    return value.to(device)


def _kind_of(module_name: str, text_model: bool) -> str:
    parts = set(module_name.split("."))
    if not text_model or parts & VISION_PARTS:
        return "vision"
    return "cross" if parts & CROSS_PARTS else "self"


def _grouped(calls: list[RecordedCall], *, text_model: bool) -> dict[str, list[RecordedCall]]:
    """The calls by kind, consecutive calls of one module (a batch's rows, a tower's chunks) joined."""
    masks: dict[tuple[Any, ...], Any] = {}
    runs: list[list[RecordedCall]] = []
    for call in calls:
        if runs and runs[-1][0].module_name == call.module_name:
            runs[-1].append(call)
        else:
            runs.append([call])
    groups: dict[str, list[RecordedCall]] = {}
    for run in runs:
        groups.setdefault(_kind_of(run[0].module_name, text_model), []).append(joined(run, masks))
    return groups


def _kind(name: str, calls: list[RecordedCall], queries: Axis, keys: Axis, config: Any) -> Kind:
    expected = layer_count(config, name)
    if expected is not None and len(calls) != expected:
        raise RuntimeError(
            f"recorded {len(calls)} {name} attention layers but the config has {expected}: refusing to show a partial result"
        )
    n_q, n_k = int(calls[0].q.shape[1]), int(calls[0].k.shape[1])
    if (n_q, n_k) != (len(queries), len(keys)):
        raise RuntimeError(
            f"the model's {name} attention has {n_q} x {n_k} positions where attn_widget laid out "
            f"{len(queries)} x {len(keys)}: its map of this model's image tokens is wrong, so it refuses to show it"
        )
    kind = RecordedKind(name, calls, queries, keys)
    if name == "cross":
        kind.label = CROSS_LABEL
    return kind


def _image_axis(tokens: list[ImageToken]) -> Axis:
    return Axis.of([t.label for t in tokens], [t.box is None for t in tokens], patches=patch_rows(tokens))


def _text_axis(config: Any, tokenizer: Any, ids: Any, layout: VisionLayout) -> Axis:
    """The prompt's tokens, each image placeholder labelled by what it stands for (in order)."""
    labels, special = readable_tokens(tokenizer, [int(i) for i in ids])
    at: list[ImageToken | None] = [None] * len(labels)
    if layout.features:
        image_id = getattr(config, "image_token_id", None)
        if image_id is None:
            image_id = getattr(config, "image_token_index", None)
        places = [i for i, token in enumerate(ids.tolist()) if token == image_id]
        if len(places) != len(layout.features):
            raise RuntimeError(
                f"the prompt has {len(places)} image tokens where attn_widget expected {len(layout.features)} "
                "image features: its map of this model's image tokens is wrong, so it refuses to show it"
            )
        for i, token in zip(places, layout.features):
            at[i] = token
            labels[i], special[i] = token.label, token.box is None
    return Axis.of(labels, special, patches=patch_rows(at))
