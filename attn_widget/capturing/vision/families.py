"""Which layout follows which model family (by ``config.model_type``). Any other family is
refused by name: a capture whose patch map could be wrong is worse than none. (Inputs a known
family cannot map are refused by its own module, with the reason.)"""

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
    "llava_onevision": llava.onevision_layout,
    "qwen2_vl": qwen2_vl.layout,
    "qwen2_5_vl": qwen2_vl.windowed_layout,
    "gemma3": gemma.gemma3_layout,
    "paligemma": gemma.paligemma_layout,
    "idefics3": idefics3.layout,
    "smolvlm": idefics3.layout,
    "mllama": mllama.layout,
}


def check_supported(config: Any) -> None:
    """NotImplementedError naming the family when its pixels cannot be mapped (before any work)."""
    family = family_of(config)
    if family not in FAMILIES:
        raise NotImplementedError(
            f"capture(images=...) does not know how {family} turns pixels into tokens; "
            f"supported families: {', '.join(sorted(FAMILIES))}"
        )


def layout_of(inputs: VisionInputs) -> VisionLayout:
    """The layout of ``inputs`` by the model family, or NotImplementedError naming the family."""
    check_supported(inputs.config)
    return FAMILIES[family_of(inputs.config)](inputs)


def family_of(config: Any) -> str:
    return str(getattr(config, "model_type", type(config).__name__))
