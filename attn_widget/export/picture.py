"""The static picture of a widget output: a PNG for readers that run no JavaScript (GitHub,
nbviewer, a notebook opened without its widget state). It shows what the widget opens on: the
layer x head grid coloured by its metric, the selected head outlined, and that head's overview
(block maxima, as the heatmap pools a long input), on the page's colour ramp (``colormap.py``).

Drawn with Pillow from numbers the widget already has (its grid payload and one tile), never
from an N x N array. Small on purpose (``MAX_BYTES``): it rides in the notebook file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .colormap import colours, text_colour

#: The picture's budget: it is stored in the notebook next to the widget state.
MAX_BYTES = 150 * 1000
#: Blocks per side of the overview at most: the tile's resolution (and the PNG's size) stay small.
OVERVIEW_BLOCKS = 128

_PANEL = 300  # the grid's and the overview's side at most, pixels
_MARGIN = 16
_INK = (31, 31, 31)
_MUTED = (110, 110, 110)
_BACKGROUND = (255, 255, 255)
_UNDEFINED = (224, 224, 224)  # a head with no value for the metric (the page strikes it out)
_SELECTED = (228, 26, 28)


@dataclass(frozen=True)
class GridPicture:
    """The grid: ``values`` (layers, heads), NaN where a head has no value, ``label`` the metric."""

    values: np.ndarray
    label: str
    selected: tuple[int, int]  # (layer, head); -1 marks a mean (a whole row or column)


@dataclass(frozen=True)
class OverviewPicture:
    """One head's tile over the whole matrix: ``values`` (rows, cols) block maxima of
    ``block`` (rows, cols) cells, for ``n_queries`` x ``n_keys`` positions."""

    values: np.ndarray
    block: tuple[int, int]
    n_queries: int
    n_keys: int
    label: str
    query_tokens: list[str] | None = None  # labels of the rows when every row is one token and they fit
    key_tokens: list[str] | None = None


def overview_block(n_queries: int, n_keys: int) -> tuple[int, int]:
    """The smallest power-of-two blocks that put a whole head in ``OVERVIEW_BLOCKS`` a side."""

    def side(n: int) -> int:
        b = 1
        while -(-n // b) > OVERVIEW_BLOCKS:
            b *= 2
        return b

    return side(n_queries), side(n_keys)


def draw_picture(title: str, grid: GridPicture, overview: OverviewPicture | None, note: str) -> bytes:
    """The PNG's bytes: ``title`` on top, the grid left, the overview right (or ``note`` alone
    where the head cannot be drawn), and ``note`` at the bottom."""
    from PIL import Image, ImageDraw

    font = _font(12)
    small = _font(10)
    heading = _font(14)
    grid_w, grid_h, cell = _grid_size(grid.values.shape)
    over = _overview_size(overview) if overview is not None else (0, 0, 1, 1)
    left_axis = 44 if overview is None or overview.query_tokens is None else 96
    width = _MARGIN + 40 + grid_w + 70 + left_axis + over[0] + _MARGIN
    width = max(width, 520)
    top = _MARGIN + 26
    body_h = max(grid_h, over[1]) + 34  # panel titles and axis labels above
    height = top + body_h + 84 + 30
    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((_MARGIN, _MARGIN), title, fill=_INK, font=heading)

    gx, gy = _MARGIN + 40, top + 34
    _draw_grid(draw, image, grid, gx, gy, cell, font, small)
    if overview is not None:
        ox = gx + grid_w + 70 + left_axis
        _draw_overview(draw, image, overview, ox, gy, over, font, small)
    draw.text((_MARGIN, height - 22), note, fill=_MUTED, font=small)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _font(size: int):  # noqa: ANN202 (a Pillow font; Pillow is imported only to draw)
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow's own scalable font (needs FreeType)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _grid_size(shape: tuple[int, ...]) -> tuple[int, int, int]:
    layers, heads = shape
    cell = int(max(4, min(28, _PANEL // max(layers, heads, 1))))
    return heads * cell, layers * cell, cell


def _overview_size(overview: OverviewPicture) -> tuple[int, int, int, int]:
    rows, cols = overview.values.shape
    px = max(1, _PANEL // max(rows, cols, 1))
    return cols * px, rows * px, px, px


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, lo + (abs(lo) or 1.0)) if lo == hi else (lo, hi)  # extentScale of js/draw/colormap.ts


def _ticks(n: int, cell: float, spacing: int = 18) -> list[int]:
    step = 1
    while step * cell < spacing:
        step *= 2 if step < 2 else 5 if str(step)[0] == "2" else 2
    return list(range(0, n, step))


def _draw_grid(draw, image, grid: GridPicture, x: int, y: int, cell: int, font, small) -> None:  # noqa: ANN001
    from PIL import Image

    values = np.asarray(grid.values, dtype=np.float64)
    layers, heads = values.shape
    lo, hi = _finite_range(values)
    rgb = colours(values, lo, hi)
    rgb[~np.isfinite(values)] = _UNDEFINED
    cells = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).resize((heads * cell, layers * cell), Image.NEAREST)
    image.paste(cells, (x, y))
    draw.text((x, y - 32), "layer x head grid", fill=_INK, font=font)
    draw.text((x, y - 16), "heads", fill=_MUTED, font=small)
    draw.text((x - 40, y - 16), "layers", fill=_MUTED, font=small)
    for h in _ticks(heads, cell):
        draw.text((x + h * cell + cell / 2, y + layers * cell + 2), str(h), fill=_MUTED, font=small, anchor="ma")
    for l in _ticks(layers, cell, 14):
        draw.text((x - 4, y + l * cell + cell / 2), str(l), fill=_MUTED, font=small, anchor="rm")
    if cell >= 22:  # the values themselves, as the page prints them in large cells
        tiny = _font(8)
        for l in range(layers):
            for h in range(heads):
                if np.isfinite(values[l, h]):
                    centre = (x + h * cell + cell / 2, y + l * cell + cell / 2)
                    ink = text_colour(rgb[l, h])
                    draw.text(centre, f"{values[l, h]:.3g}", fill=ink, font=tiny, anchor="mm")
    layer, head = grid.selected
    box = [
        x + (0 if head < 0 else head * cell),
        y + (0 if layer < 0 else layer * cell),
        x + (heads if head < 0 else head + 1) * cell - 1,
        y + (layers if layer < 0 else layer + 1) * cell - 1,
    ]
    draw.rectangle(box, outline=_SELECTED, width=2)
    _colorbar(draw, x, y + layers * cell + 20, max(heads * cell, 160), lo, hi, grid.label, small)


def _draw_overview(draw, image, overview: OverviewPicture, x: int, y: int, size, font, small) -> None:  # noqa: ANN001
    from PIL import Image

    values = np.asarray(overview.values, dtype=np.float64)
    rows, cols = values.shape
    w, h, px, _ = size
    peak = float(np.nanmax(values)) if values.size else 0.0
    hi = peak if peak > 0 else 1.0
    rgb = colours(values, 0.0, hi)
    image.paste(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).resize((w, h), Image.NEAREST), (x, y))
    draw.rectangle([x - 1, y - 1, x + w, y + h], outline=_MUTED)
    draw.text((x, y - 32), overview.label, fill=_INK, font=font)
    draw.text((x, y - 16), f"keys ({overview.n_keys})", fill=_MUTED, font=small)
    br, bc = overview.block
    if overview.query_tokens is not None:
        for i, token in enumerate(overview.query_tokens):
            draw.text((x - 4, y + i * px + px / 2), _short(token), fill=_MUTED, font=small, anchor="rm")
    else:
        draw.text((x - 4, y), f"queries ({overview.n_queries})", fill=_MUTED, font=small, anchor="ra")
        for r in _ticks(rows, px, 20)[1:]:
            draw.text((x - 4, y + r * px), str(r * br), fill=_MUTED, font=small, anchor="rm")
    for c in _ticks(cols, px, 36)[1:]:
        draw.text((x + c * px, y + h + 2), str(c * bc), fill=_MUTED, font=small, anchor="ma")
    pooled = "" if (br, bc) == (1, 1) else f" (max of each {br} x {bc} block)"
    _colorbar(draw, x, y + h + 20, max(w, 160), 0.0, hi, f"attention weight{pooled}", small)


def _colorbar(draw, x: int, y: int, width: int, lo: float, hi: float, label: str, font) -> None:  # noqa: ANN001
    ramp = colours(np.linspace(lo, hi, width), lo, hi)
    for i, (r, g, b) in enumerate(ramp):
        draw.line([(x + i, y), (x + i, y + 9)], fill=(int(r), int(g), int(b)))
    draw.text((x, y + 12), f"{lo:.3g}", fill=_MUTED, font=font)
    draw.text((x + width, y + 12), f"{hi:.3g}", fill=_MUTED, font=font, anchor="ra")
    for i, line in enumerate(label.split("\n")):
        draw.text((x, y + 26 + 13 * i), line, fill=_INK, font=font)


def _short(token: str, limit: int = 14) -> str:
    text = token.replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= limit else text[: limit - 1] + "…"
