"""Where a processed picture's pixels come from in the original image, exactly.

Processors resize, crop, pad and cut pictures into tiles; each step maps coordinates affinely, so
a chain of them is one affine map per axis, kept here in exact fractions (no float drift at tile
edges). Coordinates are continuous: pixel ``i`` spans ``[i, i + 1)`` and its centre is ``i + 1/2``;
resizing maps centres to centres (PIL's and torchvision's half-pixel convention).

A box of processed pixels stands for the original pixels whose centres fall inside it. With this
rule the boxes of one patch grid never overlap and tile the part of the image the grid covers;
resampling filters still mix a few pixels across each edge (a pixel near an edge also moves the
neighbouring patch a little), which the one-patch tests account for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

#: (x0, y0, x1, y1) in original pixels, end exclusive
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Frame:
    """A processed picture of ``height`` x ``width`` pixels: its point (u, v) (column, row) comes from
    the original point (x_offset + x_scale * u, y_offset + y_scale * v) of an image of
    ``image_height`` x ``image_width`` pixels."""

    image_height: int
    image_width: int
    height: int
    width: int
    y_scale: Fraction = Fraction(1)
    y_offset: Fraction = Fraction(0)
    x_scale: Fraction = Fraction(1)
    x_offset: Fraction = Fraction(0)

    @classmethod
    def of_image(cls, height: int, width: int) -> Frame:
        return cls(height, width, height, width)

    def resized(self, height: int, width: int) -> Frame:
        """The picture resized (stretched) to ``height`` x ``width``."""
        if height < 1 or width < 1:
            raise ValueError(f"cannot resize to {height} x {width}")
        return replace(
            self,
            height=height,
            width=width,
            y_scale=self.y_scale * Fraction(self.height, height),
            x_scale=self.x_scale * Fraction(self.width, width),
        )

    def cropped(self, top: int, left: int, height: int, width: int) -> Frame:
        """The ``height`` x ``width`` window whose top-left corner is (``top``, ``left``) of this
        picture; negative or overhanging windows are padding (no original pixels there)."""
        return replace(
            self,
            height=height,
            width=width,
            y_offset=self.y_offset + self.y_scale * top,
            x_offset=self.x_offset + self.x_scale * left,
        )

    def padded(self, top: int, left: int, height: int, width: int) -> Frame:
        """The picture placed at (``top``, ``left``) of a ``height`` x ``width`` canvas."""
        return self.cropped(-top, -left, height, width)

    def box(self, top: int, left: int, bottom: int, right: int) -> Box | None:
        """The original pixels whose centres fall in rows [top, bottom) and columns [left, right) of
        this picture, as (x0, y0, x1, y1); None when none do (padding, or outside the picture)."""
        y0 = _edge(self.y_offset + self.y_scale * top, self.image_height)
        y1 = _edge(self.y_offset + self.y_scale * bottom, self.image_height)
        x0 = _edge(self.x_offset + self.x_scale * left, self.image_width)
        x1 = _edge(self.x_offset + self.x_scale * right, self.image_width)
        if y1 <= y0 or x1 <= x0:
            return None
        return (x0, y0, x1, y1)


def _edge(position: Fraction, size: int) -> int:
    """The first original pixel whose centre is at or after ``position``, within [0, size]."""
    return min(max(math.ceil(position - Fraction(1, 2)), 0), size)
