"""LLaVA, LLaVA-NeXT and LLaVA-OneVision: a CLIP-like vision tower whose patch features (CLS dropped by the
``default`` feature-select strategy) fill the text's ``<image>`` placeholders.

LLaVA-NeXT ("anyres") sees each picture twice: the whole picture squeezed into one tile (the base
image), and the picture resized to the best of ``image_grid_pinpoints`` (aspect kept, padded to
centre) and cut into tiles. The text gets the base image's patches, then the tiles' patches as one
grid with the padding rows or columns removed and a newline token after each row.
"""

from __future__ import annotations

from typing import Any

from .geometry import Frame
from .layout import ImageToken, VisionInputs, VisionLayout, name
from .plain import checked_frame, tower_sequence
from .preprocess import center_crop, resize_target, square_padded


def _without_prefix(config: Any, sequence: list[ImageToken]) -> list[ImageToken]:
    """The features the language model gets from one tower sequence."""
    strategy = getattr(config, "vision_feature_select_strategy", "default")
    if strategy == "default":
        return sequence[1:]  # the CLS token is dropped
    if strategy == "full":
        return sequence
    raise NotImplementedError(f"vision_feature_select_strategy={strategy!r} is not one attn_widget can follow")


def layout(inputs: VisionInputs) -> VisionLayout:
    """LLaVA: one picture, one tower sequence, its patches as the image tokens."""
    vision = inputs.config.vision_config
    pixels = inputs.encoded["pixel_values"]
    tower: list[list[ImageToken]] = []
    features: list[ImageToken] = []
    for i, size in enumerate(inputs.sizes):
        frame = checked_frame(inputs.image_processor, size, pixels[i])
        sequence = tower_sequence(vision, frame, i)
        tower.append(sequence)
        features += _without_prefix(inputs.config, sequence)
    return VisionLayout(tower, features)


def _tile_step(image_processor: Any, frame: Frame) -> Frame:
    """What LLaVA-NeXT's processor does to each tile and to the base image: resize, center crop."""
    if getattr(image_processor, "do_resize", False):
        frame = frame.resized(*resize_target(image_processor.size, frame.height, frame.width))
    if getattr(image_processor, "do_center_crop", False):
        crop = image_processor.crop_size
        frame = center_crop(frame, int(crop.height), int(crop.width), str(getattr(image_processor, "backend", "pil")))
    return frame


def next_layout(inputs: VisionInputs) -> VisionLayout:
    """LLaVA-NeXT: per image, the base tile, then the grid of tiles (unpadded, with newlines)."""
    return _anyres(inputs, onevision=False)


def onevision_layout(inputs: VisionInputs) -> VisionLayout:
    """LLaVA-OneVision: LLaVA-NeXT's layout, except that pictures its processor got as one group
    (``batch_num_images`` > 1) are seen whole (padded to a square, one tile, one newline), and
    that a tile grid larger than ``anyres_max_N`` tiles is shrunk by interpolation, which is
    refused (a token would blend several patches)."""
    return _anyres(inputs, onevision=True)


def _anyres(inputs: VisionInputs, *, onevision: bool) -> VisionLayout:
    from transformers.image_processing_utils import select_best_resolution

    config = inputs.config
    vision = config.vision_config
    ip = inputs.image_processor
    patch = int(vision.patch_size)
    tile = int(vision.image_size)  # the model cuts its grid by this size (get_anyres_image_grid_shape)
    side = tile // patch  # patches per tile side
    size = ip.size
    base_size = (size.height, size.width) if size.height and size.width else (size.shortest_edge, size.shortest_edge)
    tiled = [True] * len(inputs.sizes)
    counts = inputs.encoded.get("batch_num_images")
    if onevision and counts is not None:  # pictures given together (a nested list) are seen whole, untiled
        tiled = [int(n) == 1 for n in counts.tolist() for _ in range(int(n))]
    tower: list[list[ImageToken]] = []
    features: list[ImageToken] = []
    for i, (height, width) in enumerate(inputs.sizes):
        if not tiled[i]:
            frame = _tile_step(ip, square_padded(Frame.of_image(height, width)))
            sequence = tower_sequence(vision, frame, i)
            tower.append(sequence)
            features += [*_without_prefix(config, sequence), name(i, "newline")]
            continue
        best_h, best_w = select_best_resolution((height, width), config.image_grid_pinpoints)
        tiles_h, tiles_w = best_h // tile, best_w // tile
        base = _tile_step(ip, Frame.of_image(height, width).resized(*base_size))
        placed = _placed(Frame.of_image(height, width), best_h, best_w)
        grid: dict[tuple[int, int], ImageToken] = {}
        base_sequence = tower_sequence(vision, base, i, view=" base")
        tower.append(base_sequence)
        for tr in range(tiles_h):
            for tc in range(tiles_w):
                frame = _tile_step(ip, placed.cropped(tr * tile, tc * tile, tile, tile))
                tile_name = f" t{tr * tiles_w + tc}"
                sequence = tower_sequence(vision, frame, i, tile=tile_name, row0=tr * side, col0=tc * side)
                tower.append(sequence)
                patches = _without_prefix(config, sequence)[-side * side :]
                for k, token in enumerate(patches):
                    grid[(tr * side + k // side, tc * side + k % side)] = token
        features += _without_prefix(config, base_sequence)
        rows, cols = _unpadded(tiles_h * side, tiles_w * side, height, width)
        if onevision:
            _refuse_interpolation(config, len(rows), len(cols), side, i)
        for r in rows:
            features += [grid[(r, c)] for c in cols]
            features.append(name(i, "newline"))
    _check_tiles(inputs, tower)
    return VisionLayout(tower, features)


def _refuse_interpolation(config: Any, rows: int, cols: int, side: int, image: int) -> None:
    """LLaVA-OneVision shrinks an unpadded grid of more than ``anyres_max_N`` tiles' worth of
    patches by bilinear interpolation (``pack_image_features``): its tokens have no single box."""
    import math

    most = int(str(getattr(config, "vision_aspect_ratio", "anyres_max_9")).removeprefix("anyres_max_"))
    ratio = math.sqrt(rows * cols / (most * side**2))
    if ratio > 1.1:
        raise NotImplementedError(
            f"LLaVA-OneVision shrinks image {image}'s grid of {rows} x {cols} patches by bilinear interpolation "
            f"(more than {config.vision_aspect_ratio} tiles): its image tokens blend several patches and have no "
            "single box, so attn_widget does not map them; use a smaller picture"
        )


def _placed(frame: Frame, best_h: int, best_w: int) -> Frame:
    """The picture resized to fit ``best_h`` x ``best_w`` (aspect kept) and padded to centre it,
    as LLaVA-NeXT's ``_resize_for_patching`` and ``_pad_for_patching`` do."""
    import math

    scale_w, scale_h = best_w / frame.width, best_h / frame.height
    if scale_w < scale_h:
        new_w, new_h = best_w, min(math.ceil(frame.height * scale_w), best_h)
    else:
        new_h, new_w = best_h, min(math.ceil(frame.width * scale_h), best_w)
    return frame.resized(new_h, new_w).padded((best_h - new_h) // 2, (best_w - new_w) // 2, best_h, best_w)


def _unpadded(grid_h: int, grid_w: int, height: int, width: int) -> tuple[range, range]:
    """The rows and columns of the tile grid that ``unpad_image`` keeps."""
    if width / height > grid_w / grid_h:
        new_h = int(round(height * (grid_w / width), 7))
        pad = (grid_h - new_h) // 2
        return range(pad, grid_h - pad), range(grid_w)
    new_w = int(round(width * (grid_h / height), 7))
    pad = (grid_w - new_w) // 2
    return range(grid_h), range(pad, grid_w - pad)


def _check_tiles(inputs: VisionInputs, tower: list[list[ImageToken]]) -> None:
    pixels = inputs.encoded["pixel_values"]
    made = int(pixels.shape[0] * pixels.shape[1]) if pixels.dim() == 5 else int(pixels.shape[0])
    if len(tower) > made:
        raise RuntimeError(f"the processor made {made} tiles where attn_widget expected {len(tower)}")
