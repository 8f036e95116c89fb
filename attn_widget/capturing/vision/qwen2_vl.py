"""Qwen2-VL and Qwen2.5-VL: dynamic resolution. Each picture is resized to sides that are
multiples of patch x merge (``smart_resize``; ``image_grid_thw`` says the grid it got), cut into
patches that the vision tower sees in merge-unit order (each 2 x 2 block of patches one after the
other), and every block becomes one image token of the text (``PatchMerger``).

Qwen2.5-VL's tower also reorders the merge units window by window (``get_vision_window_index``,
transformers' own function) and keeps that order through all its layers, windowed and full; the
text gets the blocks back in their natural order.
"""

from __future__ import annotations

from .geometry import Frame
from .layout import ImageToken, VisionInputs, VisionLayout, patch_grid


def windowed_layout(inputs: VisionInputs) -> VisionLayout:
    """Qwen2.5-VL: Qwen2-VL's tokens, the tower's in window order."""
    from transformers.vision_utils import get_vision_window_index

    natural = layout(inputs)
    vision = inputs.config.vision_config
    unit = int(vision.spatial_merge_size) ** 2
    window_index, _ = get_vision_window_index(
        inputs.encoded["image_grid_thw"],
        spatial_merge_size=int(vision.spatial_merge_size),
        window_size=int(vision.window_size),
        patch_size=int(vision.patch_size),
    )
    tokens = natural.tower_tokens
    ordered = [tokens[u * unit + k] for u in window_index.tolist() for k in range(unit)]
    return VisionLayout([ordered], natural.features)


def layout(inputs: VisionInputs) -> VisionLayout:
    vision = inputs.config.vision_config
    patch = int(vision.patch_size)
    merge = int(vision.spatial_merge_size)
    grids = inputs.encoded["image_grid_thw"].tolist()
    if len(grids) != len(inputs.sizes):
        raise RuntimeError(f"the processor made {len(grids)} image grids for {len(inputs.sizes)} images")
    tower: list[list[ImageToken]] = []
    features: list[ImageToken] = []
    for i, ((frames, rows, cols), (height, width)) in enumerate(zip(grids, inputs.sizes)):
        if frames != 1:
            raise NotImplementedError(f"image {i} has {frames} temporal frames; attn_widget maps still images only")
        frame = Frame.of_image(height, width).resized(rows * patch, cols * patch)
        patches = patch_grid(frame, i, rows, cols, patch)
        # the tower's order: merge windows row by row, the patches of each window row by row
        sequence = [
            patches[(br * merge + r) * cols + bc * merge + c]
            for br in range(rows // merge)
            for bc in range(cols // merge)
            for r in range(merge)
            for c in range(merge)
        ]
        tower.append(sequence)
        features += patch_grid(frame, i, rows // merge, cols // merge, patch, block=merge)
    return VisionLayout(tower, features)
