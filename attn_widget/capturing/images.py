"""Pictures users pass to ``capture(images=...)``: a PIL image, an H x W x 3 uint8 array, or a
list of them; checked here, with errors that say which one is wrong and how."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_images(images: Any) -> list[np.ndarray]:
    """Each picture as an (H, W, 3) uint8 array (PIL images converted to RGB)."""
    pictures = list(images) if isinstance(images, (list, tuple)) else [images]
    if not pictures:
        raise ValueError("images is empty: give a PIL image, an H x W x 3 uint8 array, or a list of them")
    return [
        _picture(p, "images" if len(pictures) == 1 and not isinstance(images, (list, tuple)) else f"images[{i}]")
        for i, p in enumerate(pictures)
    ]


def _picture(picture: Any, where: str) -> np.ndarray:
    if hasattr(picture, "convert") and hasattr(picture, "size") and hasattr(picture, "mode"):
        return np.asarray(picture.convert("RGB"))
    if not isinstance(picture, np.ndarray):
        raise TypeError(f"{where} must be a PIL image or an H x W x 3 uint8 numpy array, got {type(picture).__name__}")
    if picture.ndim != 3 or picture.shape[2] != 3:
        raise ValueError(f"{where} must have shape (height, width, 3) (RGB, channels last), got {picture.shape}")
    if picture.dtype != np.uint8:
        raise TypeError(f"{where} must be uint8 (0-255), got {picture.dtype}; convert with (x * 255).round().astype(np.uint8)")
    if picture.shape[0] < 1 or picture.shape[1] < 1:
        raise ValueError(f"{where} is empty: {picture.shape}")
    return picture


def as_pil(picture: np.ndarray) -> Any:
    """The picture as a PIL image: processors read its channel layout without guessing."""
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(picture))
