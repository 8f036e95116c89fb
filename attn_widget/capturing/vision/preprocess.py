"""The steps most image processors share, as frames: resize by a ``size`` rule, pad to a square,
center crop. Sizes come from transformers' own helpers, the ones its processors call, so the
frames follow the processor of the installed version.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .geometry import Frame

# Processors whose pipeline is exactly [pad to square] -> resize -> center crop -> [pad bottom/right].
# Others have their own family module; an unknown one is refused rather than guessed.
STANDARD_PROCESSORS = (
    "ViTImageProcessor",
    "DeiTImageProcessor",
    "BitImageProcessor",
    "CLIPImageProcessor",
    "SiglipImageProcessor",
    "LlavaImageProcessor",
    "Gemma3ImageProcessor",  # without pan and scan (gemma.py refuses its crops)
)


def processor_name(image_processor: Any) -> str:
    """The class name without the backend suffix (``CLIPImageProcessorPil`` -> ``CLIPImageProcessor``)."""
    name = type(image_processor).__name__
    for suffix in ("Pil", "Fast"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def resize_target(size: Any, height: int, width: int) -> tuple[int, int]:
    """The (height, width) a processor's ``resize`` makes of a ``height`` x ``width`` picture for a
    ``size`` (a SizeDict), by the same branches as transformers' PIL and torchvision backends."""
    from transformers.image_transforms import get_resize_output_image_size, get_size_with_aspect_ratio
    from transformers.image_utils import ChannelDimension, get_image_size_for_max_height_width

    if size.shortest_edge and size.longest_edge:
        return tuple(get_size_with_aspect_ratio((height, width), size.shortest_edge, size.longest_edge))  # type: ignore[return-value]
    if size.shortest_edge:
        shape_only = np.broadcast_to(np.zeros((1, 1, 1), np.uint8), (1, height, width))  # no pixels allocated
        new = get_resize_output_image_size(
            shape_only, size=size.shortest_edge, default_to_square=False, input_data_format=ChannelDimension.FIRST
        )
        return int(new[0]), int(new[1])
    if size.max_height and size.max_width:
        return tuple(get_image_size_for_max_height_width((height, width), size.max_height, size.max_width))  # type: ignore[return-value]
    if size.height and size.width:
        return int(size.height), int(size.width)
    raise ValueError(f"an image processor size that attn_widget cannot follow: {size}")


def center_crop(frame: Frame, height: int, width: int, backend: str) -> Frame:
    """The processor's center crop; a crop larger than the picture pads it (the PIL backend puts
    the odd pixel of padding first, torchvision last)."""
    top = _crop_start(frame.height, height, backend)
    left = _crop_start(frame.width, width, backend)
    return frame.cropped(top, left, height, width)


def _crop_start(have: int, want: int, backend: str) -> int:
    if want <= have:
        return (have - want) // 2
    pad = want - have
    return -((pad + 1) // 2) if backend == "pil" else -(pad // 2)


def square_padded(frame: Frame) -> Frame:
    """LLaVA's pad_to_square: the picture centred on a square canvas of its longer side."""
    side = max(frame.height, frame.width)
    return frame.padded((side - frame.height) // 2, (side - frame.width) // 2, side, side)


def standard_frame(image_processor: Any, height: int, width: int) -> Frame:
    """The frame of one picture after a standard processor (``STANDARD_PROCESSORS``)."""
    name = processor_name(image_processor)
    if name not in STANDARD_PROCESSORS:
        raise NotImplementedError(
            f"attn_widget does not know how {type(image_processor).__name__} prepares pictures, so it cannot "
            f"say which pixels each patch covers (it follows {', '.join(STANDARD_PROCESSORS)})"
        )
    frame = Frame.of_image(height, width)
    pad = bool(getattr(image_processor, "do_pad", False))
    if pad and name == "LlavaImageProcessor":
        frame = square_padded(frame)
    if getattr(image_processor, "do_resize", False):
        frame = frame.resized(*resize_target(image_processor.size, frame.height, frame.width))
    if getattr(image_processor, "do_center_crop", False):
        crop = image_processor.crop_size
        frame = center_crop(frame, int(crop.height), int(crop.width), str(getattr(image_processor, "backend", "pil")))
    pad_size = getattr(image_processor, "pad_size", None)
    if pad and name != "LlavaImageProcessor" and pad_size is not None and pad_size.height:
        frame = frame.padded(0, 0, int(pad_size.height), int(pad_size.width))
    return frame
