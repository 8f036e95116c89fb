"""What each image position of a vision model stands for: an ``ImageToken`` (a label, the image it
belongs to, and the box of original pixels it covers), and a family's ``VisionLayout``: the
vision tower's sequences and what the text's image placeholders stand for.

Labels name positions by the patch grid of their image: ``<img 0: r3 c7>`` is image 0's patch in
row 3, column 7 (0-based, counted over the whole picture when it is cut into tiles); a token that
merges or pools patches names their ranges, ``<img 0: r2-3 c6-7>``; a second view of the same
image says so (``<img 0 global: r1 c2>``); positions that are no patch say what they are
(``<img 0: cls>``, ``<img 0: reg 2>``, ``<img 0: newline>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..result import PATCH_COLUMNS
from .geometry import Box, Frame


@dataclass(frozen=True)
class ImageToken:
    """One position that comes from an image: its label, the image's index, and the original
    pixels it covers (``box``: x0, y0, x1, y1, end exclusive), or None for positions that are no
    patch of the picture (CLS, registers, newline markers, padding)."""

    label: str
    image: int
    box: Box | None = None


@dataclass(frozen=True)
class VisionLayout:
    """How one family turned the pictures into positions.

    - ``tower``: the vision tower's sequences, in the order its attention calls see them (a batch
      of images or tiles, or chunks of one sequence): each a list of tokens.
    - ``features``: for a vision-language model, what each image placeholder of the text stands
      for, in order (the model scatters its image features into them in this order).
    - ``cross``: the keys of text-to-image cross-attention (Mllama), else None.
    """

    tower: list[list[ImageToken]]
    features: list[ImageToken] = field(default_factory=list)
    cross: list[ImageToken] | None = None

    @property
    def tower_tokens(self) -> list[ImageToken]:
        return [token for sequence in self.tower for token in sequence]


@dataclass(frozen=True)
class VisionInputs:
    """What a layout is computed from: the model's config, the image processor, each original
    image's (height, width), and the processor's outputs (tensors)."""

    config: Any
    image_processor: Any
    sizes: list[tuple[int, int]]
    encoded: dict[str, Any]


def name(image: int, what: str, view: str = "") -> ImageToken:
    """A position of ``image`` that is no patch (``what``: "cls", "reg 2", "newline", ...)."""
    return ImageToken(f"<img {image}{view}: {what}>", image)


def patch_grid(
    frame: Frame,
    image: int,
    rows: int,
    cols: int,
    patch: int,
    *,
    block: int = 1,
    view: str = "",
    row0: int = 0,
    col0: int = 0,
) -> list[ImageToken]:
    """The tokens of a ``rows`` x ``cols`` grid over ``frame``, row by row: token (r, c) covers
    ``block`` x ``block`` patches of ``patch`` pixels (a merged or pooled token when block > 1).
    ``row0``/``col0``: where this grid's first patch sits in the image's patch grid (tiles)."""
    tokens = []
    side = patch * block
    for r in range(rows):
        for c in range(cols):
            box = frame.box(r * side, c * side, (r + 1) * side, (c + 1) * side)
            tokens.append(ImageToken(_grid_label(image, view, row0 + r * block, col0 + c * block, block), image, box))
    return tokens


def _grid_label(image: int, view: str, row: int, col: int, block: int) -> str:
    if block == 1:
        return f"<img {image}{view}: r{row} c{col}>"
    return f"<img {image}{view}: r{row}-{row + block - 1} c{col}-{col + block - 1}>"


def patch_rows(tokens: Sequence[ImageToken | None]) -> np.ndarray:
    """The patch map of an axis whose positions are ``tokens`` (None for text): int64 (P, 6) rows
    ``PATCH_COLUMNS``, one per position that covers pixels, in axis order."""
    rows = [(i, t.image, *t.box) for i, t in enumerate(tokens) if t is not None and t.box is not None]
    return np.array(rows, dtype=np.int64).reshape(-1, len(PATCH_COLUMNS))
