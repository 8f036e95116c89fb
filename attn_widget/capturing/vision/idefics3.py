"""Idefics3 and SmolVLM: the picture's longest edge is resized to ``size``, then both sides up to
multiples of the tile size, and cut into tiles row by row; unless it fits one tile, a global
image (the whole picture squeezed into one tile) follows its tiles. Each tile's patches are
pixel-shuffled: every ``scale_factor`` x ``scale_factor`` block of patches becomes one token.

The sizes mirror transformers' Idefics3 image processor (``_resize_output_size_rescale_to_max_len``,
``resize_for_vision_encoder``, ``split_images``); the number of tiles is checked against what the
processor made.
"""

from __future__ import annotations

import math
from typing import Any

from .geometry import Frame
from .layout import ImageToken, VisionInputs, VisionLayout, patch_grid

MAX_IMAGE_SIZE = 4096  # the processor's cap on either side


def _longest_edge_size(height: int, width: int, longest: int) -> tuple[int, int]:
    aspect = width / height
    if width >= height:
        width = longest
        height = int(width / aspect)
        height += height % 2
    else:
        height = longest
        width = int(height * aspect)
        width += width % 2
    height, width = max(height, 1), max(width, 1)
    aspect = width / height
    if width >= height and width > MAX_IMAGE_SIZE:
        width, height = MAX_IMAGE_SIZE, int(MAX_IMAGE_SIZE / aspect)
    elif height > width and height > MAX_IMAGE_SIZE:
        height, width = MAX_IMAGE_SIZE, int(MAX_IMAGE_SIZE * aspect)
    return max(height, 1), max(width, 1)


def _tile_multiple_size(height: int, width: int, tile: int) -> tuple[int, int]:
    aspect = width / height
    if width >= height:
        width = math.ceil(width / tile) * tile
        height = math.ceil(int(width / aspect) / tile) * tile
    else:
        height = math.ceil(height / tile) * tile
        width = math.ceil(int(height * aspect) / tile) * tile
    return height, width


def picture_frames(image_processor: Any, height: int, width: int) -> tuple[list[Frame], int, int]:
    """The frames of one picture's tiles then its global image, and the tile grid (rows, cols)."""
    frame = Frame.of_image(height, width)
    if image_processor.do_resize:
        frame = frame.resized(*_longest_edge_size(frame.height, frame.width, int(image_processor.size.longest_edge)))
    tile = int(image_processor.max_image_size["longest_edge"])
    if not image_processor.do_image_splitting:
        return [frame.resized(tile, tile)], 0, 0
    frame = frame.resized(*_tile_multiple_size(frame.height, frame.width, tile))
    if frame.height <= tile and frame.width <= tile:
        return [frame], 0, 0
    rows = (frame.height - tile) // tile + 1
    cols = (frame.width - tile) // tile + 1
    tiles = [frame.cropped(r * tile, c * tile, tile, tile) for r in range(rows) for c in range(cols)]
    return [*tiles, frame.resized(tile, tile)], rows, cols


def layout(inputs: VisionInputs) -> VisionLayout:
    config = inputs.config
    patch = int(config.vision_config.patch_size)
    scale = int(config.scale_factor)
    tower: list[list[ImageToken]] = []
    features: list[ImageToken] = []
    for i, (height, width) in enumerate(inputs.sizes):
        frames, rows, cols = picture_frames(inputs.image_processor, height, width)
        for k, frame in enumerate(frames):
            is_global = rows > 0 and k == len(frames) - 1
            view = " global" if is_global else ""
            tile_row, tile_col = (0, 0) if is_global or rows == 0 else divmod(k, cols)
            side = frame.height // patch
            origin = dict(view=view, row0=tile_row * side, col0=tile_col * side)
            tower.append(patch_grid(frame, i, side, frame.width // patch, patch, **origin))
            features += patch_grid(frame, i, side // scale, frame.width // patch // scale, patch, block=scale, **origin)
    made = int(inputs.encoded["pixel_values"].shape[1])
    if made < len(tower):
        raise RuntimeError(f"the processor made {made} tiles where attn_widget expected {len(tower)}")
    return VisionLayout(tower, features)
