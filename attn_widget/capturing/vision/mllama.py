"""Mllama (Llama 3.2 Vision): each picture is resized to fit the best canvas of up to
``max_image_tiles`` tiles (aspect kept, padded at the bottom and right) and cut into tiles row by
row. The vision tower sees all tiles of a picture as one sequence: per tile a CLS token, its
patches, and padding up to a multiple of 8; tiles the picture does not need are padding too. The
text attends to the tower's output through cross-attention: per tile, CLS then patches.
"""

from __future__ import annotations

from .geometry import Frame
from .layout import ImageToken, VisionInputs, VisionLayout, name, patch_grid


def layout(inputs: VisionInputs) -> VisionLayout:
    from transformers.models.mllama.image_processing_pil_mllama import (
        get_image_size_fit_to_canvas,
        get_optimal_tiled_canvas,
    )

    vision = inputs.config.vision_config
    ip = inputs.image_processor
    patch = int(vision.patch_size)
    tile = int(ip.size.height)
    side = tile // patch
    pixels = inputs.encoded["pixel_values"]  # (batch, images, tiles, channels, height, width)
    n_tiles = int(pixels.shape[2])
    padding = (8 - (side * side + 1) % 8) % 8  # the tower pads each tile's tokens to a multiple of 8
    valid = inputs.encoded["aspect_ratio_mask"].reshape(-1, n_tiles).sum(dim=1).tolist()
    tower: list[list[ImageToken]] = []
    cross: list[ImageToken] = []
    for i, (height, width) in enumerate(inputs.sizes):
        canvas_h, canvas_w = get_optimal_tiled_canvas(height, width, int(ip.max_image_tiles), tile)
        tiles_h, tiles_w = int(canvas_h) // tile, int(canvas_w) // tile
        if tiles_h * tiles_w != int(valid[i]):
            raise RuntimeError(f"image {i}: the processor used {valid[i]} tiles where attn_widget expected {tiles_h * tiles_w}")
        new_h, new_w = get_image_size_fit_to_canvas(height, width, int(canvas_h), int(canvas_w), tile)
        canvas = Frame.of_image(height, width).resized(int(new_h), int(new_w)).padded(0, 0, int(canvas_h), int(canvas_w))
        sequence: list[ImageToken] = []
        for t in range(n_tiles):
            view = f" t{t}"
            if t < tiles_h * tiles_w:
                r, c = divmod(t, tiles_w)
                frame = canvas.cropped(r * tile, c * tile, tile, tile)
                tokens = [name(i, "cls", view), *patch_grid(frame, i, side, side, patch, row0=r * side, col0=c * side)]
            else:
                tokens = [name(i, "pad", view)] * (1 + side * side)
            sequence += tokens + [name(i, "pad", view)] * padding
            cross += tokens
        tower.append(sequence)
    return VisionLayout(tower, cross=cross)
