"""Plain vision transformers (ViT, DeiT, DINOv2 with or without registers, CLIP's and SigLIP's
vision towers): each picture is resized (and cropped) by a standard processor, cut into a grid of
patches, and a few learned tokens go first: CLS, DeiT's distillation token, DINOv2's registers.
"""

from __future__ import annotations

from typing import Any

from .geometry import Frame
from .layout import ImageToken, VisionInputs, VisionLayout, name, patch_grid
from .preprocess import standard_frame


def prefix_tokens(config: Any, image: int, view: str = "") -> list[ImageToken]:
    """The learned tokens a tower puts before the patches, by the config's model type."""
    kind = str(getattr(config, "model_type", ""))
    if kind.startswith("siglip"):
        return []
    tokens = [name(image, "cls", view)]
    if kind == "deit":
        tokens.append(name(image, "dist", view))
    registers = int(getattr(config, "num_register_tokens", 0) or 0)
    tokens += [name(image, f"reg {i}", view) for i in range(registers)]
    return tokens


def tower_sequence(
    vision_config: Any,
    frame: Frame,
    image: int,
    *,
    view: str = "",
    tile: str = "",
    row0: int = 0,
    col0: int = 0,
) -> list[ImageToken]:
    """The tokens of one picture (or tile) ``frame`` in a plain tower: its learned tokens (named
    with ``tile`` when the picture is one tile of several), then its patches."""
    patch = _patch_size(vision_config)
    grid = patch_grid(frame, image, frame.height // patch, frame.width // patch, patch, view=view, row0=row0, col0=col0)
    return prefix_tokens(vision_config, image, view + tile) + grid


def _patch_size(vision_config: Any) -> int:
    patch = vision_config.patch_size
    return int(patch[0] if isinstance(patch, (list, tuple)) else patch)


def checked_frame(image_processor: Any, size: tuple[int, int], pixels: Any) -> Frame:
    """The standard frame of one picture, checked against the size of what the processor made."""
    frame = standard_frame(image_processor, *size)
    made = (int(pixels.shape[-2]), int(pixels.shape[-1]))
    if (frame.height, frame.width) != made:
        raise RuntimeError(
            f"{type(image_processor).__name__} made a {made[0]} x {made[1]} picture where attn_widget expected "
            f"{frame.height} x {frame.width}; cannot map its patches to pixels"
        )
    return frame


def layout(inputs: VisionInputs) -> VisionLayout:
    """A vision-only model (or the vision side of CLIP and SigLIP): one sequence per image."""
    config = getattr(inputs.config, "vision_config", None) or inputs.config
    pixels = inputs.encoded["pixel_values"]
    tower = []
    for i, size in enumerate(inputs.sizes):
        frame = checked_frame(inputs.image_processor, size, pixels[i])
        tower.append(tower_sequence(config, frame, i))
    return VisionLayout(tower)
