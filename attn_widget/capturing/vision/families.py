"""Which layout follows which model family (by ``config.model_type``), and the families refused
with the reason: a capture whose patch map could be wrong is worse than none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import gemma, idefics3, llava, mllama, plain, qwen2_vl
from .layout import VisionInputs, VisionLayout

FAMILIES: dict[str, Callable[[VisionInputs], VisionLayout]] = {
    "vit": plain.layout,
    "deit": plain.layout,
    "dinov2": plain.layout,
    "dinov2_with_registers": plain.layout,
    "clip": plain.layout,
    "clip_vision_model": plain.layout,
    "siglip": plain.layout,
    "siglip_vision_model": plain.layout,
    "llava": llava.layout,
    "llava_next": llava.next_layout,
    "qwen2_vl": qwen2_vl.layout,
    "gemma3": gemma.gemma3_layout,
    "paligemma": gemma.paligemma_layout,
    "idefics3": idefics3.layout,
    "smolvlm": idefics3.layout,
    "mllama": mllama.layout,
}

REFUSED: dict[str, str] = {
    "llava_onevision": (
        "its anyres_max packing shrinks a large tile grid by bilinear interpolation, so an image token can "
        "blend several patches and has no single box (use LLaVA-NeXT's layout, which keeps every patch)"
    ),
    "qwen2_5_vl": (
        "its vision tower reorders patches into windows and mixes windowed and full attention layers; "
        "attn_widget maps Qwen2-VL's order only"
    ),
}


def layout_of(inputs: VisionInputs) -> VisionLayout:
    """The layout of ``inputs`` by the model family, or NotImplementedError naming the family."""
    family = str(getattr(inputs.config, "model_type", type(inputs.config).__name__))
    if family in REFUSED:
        raise NotImplementedError(f"capture(images=...) does not support {family}: {REFUSED[family]}")
    if family not in FAMILIES:
        raise NotImplementedError(
            f"capture(images=...) does not know how {family} turns pixels into tokens; "
            f"supported families: {', '.join(sorted(FAMILIES))}"
        )
    return FAMILIES[family](inputs)


def family_of(config: Any) -> str:
    return str(getattr(config, "model_type", type(config).__name__))
