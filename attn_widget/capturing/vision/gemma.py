"""Gemma 3 and PaliGemma: a SigLIP tower (no CLS) over the picture resized to a fixed square.

PaliGemma gives the text one token per patch (a linear projection), placed before the prompt.
Gemma 3 averages k x k patches into each of its ``mm_tokens_per_image`` tokens. Its pan and scan
(crops of a wide picture as extra pictures, off unless the processor is called with
``do_pan_and_scan=True``, which ``capture`` does not do) is refused rather than guessed.
"""

from __future__ import annotations

import math

import numpy as np

from .layout import ImageToken, VisionInputs, VisionLayout, patch_grid
from .plain import checked_frame


def paligemma_layout(inputs: VisionInputs) -> VisionLayout:
    vision = inputs.config.vision_config
    patch = int(vision.patch_size)
    pixels = inputs.encoded["pixel_values"]
    tower: list[list[ImageToken]] = []
    for i, size in enumerate(inputs.sizes):
        frame = checked_frame(inputs.image_processor, size, pixels[i])
        tower.append(patch_grid(frame, i, frame.height // patch, frame.width // patch, patch))
    return VisionLayout(tower, [token for sequence in tower for token in sequence])


def gemma3_layout(inputs: VisionInputs) -> VisionLayout:
    config = inputs.config
    vision = config.vision_config
    patch = int(vision.patch_size)
    side = int(vision.image_size) // patch  # patches per side (the projector assumes this square)
    per_side = math.isqrt(int(config.mm_tokens_per_image))
    block = side // per_side
    crops = inputs.encoded.get("num_crops")
    if crops is not None and int(np.asarray(crops).sum()) > 0:
        raise NotImplementedError("Gemma 3's pan-and-scan crops are not mapped to pixels; call its processor without them")
    pixels = inputs.encoded["pixel_values"]
    tower: list[list[ImageToken]] = []
    features: list[ImageToken] = []
    for i, size in enumerate(inputs.sizes):
        frame = checked_frame(inputs.image_processor, size, pixels[i])
        if (frame.height, frame.width) != (side * patch, side * patch):
            raise RuntimeError(
                f"Gemma 3's processor made {frame.height} x {frame.width} pictures; the model expects {side * patch}"
            )
        tower.append(patch_grid(frame, i, side, side, patch))
        features += patch_grid(frame, i, per_side, per_side, patch, block=block)
    return VisionLayout(tower, features)
