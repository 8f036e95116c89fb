"""The widget's static picture: an ``image/png`` next to the widget view in every output's mime
bundle, for readers that run no JavaScript (GitHub, nbviewer, a notebook opened without its
widget state). Hosts that draw widgets show the widget; the others show the picture.

Drawn from what the widget already holds: the grid payload it sent (``_grid_scores``) and one
tile of the selected head through ``w.tile`` (pooled into at most 128 blocks a side), never an
N x N array. Needs Pillow; without it the bundle is what it was.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import numpy as np

from ..export.picture import MAX_BYTES, GridPicture, OverviewPicture, draw_picture, overview_block
from ..wire.dec3 import decode_dec3

_NOTE = "A picture of the widget for readers without JavaScript. Run the notebook, or `jupyter nbconvert --to attn_html`, for the live one."


class StaticPicture:
    """Mixin for ``AttentionWidget``: the PNG joins the mime bundle anywidget returns."""

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if not bundle:
            return bundle
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        png = static_png(self)
        if png is None:
            return data, metadata
        return {**data, "image/png": base64.b64encode(png).decode("ascii")}, metadata


def static_png(widget: Any) -> bytes | None:
    """The picture's PNG bytes; None without Pillow, or (with a warning) when it cannot be drawn:
    a picture must never cost the reader the widget."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return None
    try:
        png = draw_picture(_title(widget), _grid(widget), _overview(widget), _NOTE)
    except Exception as err:  # noqa: BLE001 (display goes on without the picture)
        warnings.warn(
            f"attn_widget: no static picture for this output ({type(err).__name__}: {err})", RuntimeWarning, stacklevel=3
        )
        return None
    if len(png) > MAX_BYTES:
        warnings.warn(
            f"attn_widget: the static picture took {len(png)} bytes (over {MAX_BYTES}); left out", RuntimeWarning, stacklevel=3
        )
        return None
    return png


def _kind_label(widget: Any) -> str:
    return next((k["label"] for k in widget.kinds if k["id"] == widget.kind), widget.kind)


def _title(widget: Any) -> str:
    size = (
        f"{widget.n_tokens} tokens" if widget.n_queries == widget.n_tokens else f"{widget.n_queries} x {widget.n_tokens} tokens"
    )
    return f"attn_widget · {_kind_label(widget)} · {widget.n_layers} layers x {widget.n_heads} heads · {size}"


def _grid(widget: Any) -> GridPicture:
    payload = widget._grid_scores
    shape = tuple(payload["shape"])
    values = decode_dec3(np.frombuffer(payload["data"], dtype="<u2")).astype(np.float64).reshape(shape)
    undefined = np.frombuffer(payload.get("undefined", b""), dtype=np.uint8)
    if undefined.size == values.size:
        values[undefined.reshape(shape) == 1] = np.nan
    label = next((o["label"] for o in widget._grid_metric_options if o["id"] == payload["metric"]), payload["metric"])
    if not payload.get("exact", True):
        label += f"\nestimated: {payload['done']} of {payload['total']} heads exact"
    return GridPicture(values, label, (widget.layer, widget.head))


def _head_label(layer: int, head: int) -> str:
    if layer < 0 and head < 0:
        return "the mean of every head"
    if head < 0:
        return f"layer {layer}, mean over heads"
    if layer < 0:
        return f"head {head}, mean over layers"
    return f"layer {layer}, head {head}"


def _overview(widget: Any) -> OverviewPicture | None:
    """The selected head's whole matrix as one tile; None when the widget offers no attention
    tiles (a comparison shows b - a)."""
    n_q, n_k = widget.n_queries, widget.n_tokens
    block = overview_block(n_q, n_k)
    try:
        tile = widget.tile(widget.layer, widget.head, [0, n_q, 0, n_k], block)
    except ValueError:
        return None
    rows = list(widget._query_tokens or widget.tokens)
    fits = block[0] == 1 and n_q <= 40 and len(rows) == n_q
    return OverviewPicture(
        values=np.asarray(tile.values, dtype=np.float32),
        block=block,
        n_queries=n_q,
        n_keys=n_k,
        label=f"{_head_label(widget.layer, widget.head)} · attention",
        query_tokens=rows if fits else None,
    )
