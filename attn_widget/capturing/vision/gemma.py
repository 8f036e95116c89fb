"""Gemma 3 and PaliGemma: a SigLIP tower (no CLS) over the picture resized to a fixed square.

PaliGemma gives the text one token per patch (a linear projection), placed before the prompt.
Gemma 3 averages k x k patches into each of its ``mm_tokens_per_image`` tokens; with pan and scan
the processor adds crops of the picture, each another full set of tokens after the picture's own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .geometry import Frame
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
    ip = inputs.image_processor
    crops = inputs.encoded.get("num_crops")
    crops = [0] * len(inputs.sizes) if crops is None else [int(n) for n in np.asarray(crops).reshape(-1)]
    tower: list[list[ImageToken]] = []
    features: list[ImageToken] = []
    for i, (height, width) in enumerate(inputs.sizes):
        whole = Frame.of_image(height, width)
        views = [("", whole)] + [(f" crop {k}", frame) for k, frame in enumerate(_pan_and_scan(ip, whole, crops[i]))]
        for view, frame in views:
            frame = frame.resized(int(ip.size.height), int(ip.size.width)) if ip.do_resize else frame
            if (frame.height, frame.width) != (side * patch, side * patch):
                raise RuntimeError(
                    f"Gemma 3's processor made {frame.height} x {frame.width} pictures; the model expects {side * patch}"
                )
            tower.append(patch_grid(frame, i, side, side, patch, view=view))
            features += patch_grid(frame, i, per_side, per_side, patch, block=block, view=view)
    return VisionLayout(tower, features)


def _pan_and_scan(image_processor: Any, frame: Frame, expected: int) -> list[Frame]:
    """The crops Gemma 3's pan and scan cuts from the picture, found by running the processor's own
    ``pan_and_scan`` on a picture whose pixels hold their own coordinates."""
    if expected == 0:
        return []
    height, width = frame.height, frame.width
    index = np.arange(height * width, dtype=np.int64).reshape(1, height, width)
    crops = image_processor.pan_and_scan(
        image=index,
        pan_and_scan_min_crop_size=image_processor.pan_and_scan_min_crop_size,
        pan_and_scan_max_num_crops=image_processor.pan_and_scan_max_num_crops,
        pan_and_scan_min_ratio_to_activate=image_processor.pan_and_scan_min_ratio_to_activate,
    )
    if len(crops) != expected:
        raise RuntimeError(f"pan and scan cut {len(crops)} crops here but the processor reported {expected}")
    frames = []
    for crop in crops:
        top, left = divmod(int(crop[0, 0, 0]), width)
        frames.append(frame.cropped(top, left, int(crop.shape[-2]), int(crop.shape[-1])))
    return frames
