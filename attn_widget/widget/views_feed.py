"""What the views draw besides the grid, kept in step with the widget: the kind shown (its token
axes, sizes, patch maps and, for small inputs, every head at once), the input's pictures and the
mean row of the selected queries."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..capturing.result import AXIS_FLAGS, Kind
from ..engine.grid_scores import Foreground
from ..engine.sources import Sources
from ..wire.payloads import heads_payload, images_payload, patches_payload, strip_payload
from .grid_feed import GridFeed
from .state import WidgetState

#: Below this many bytes (dec3, 2 per weight) every head travels with the widget: instant head
#: switches, and it works without a kernel. Above it the views ask for tiles of what they show.
#: Kept under wire.protocol.MAX_MESSAGE_BYTES: the widget's first message carries these bytes.
DEFAULT_EAGER_BYTES = 1024 * 1024


class ViewsFeed:
    def __init__(self, widget: WidgetState, sources: Sources, grid: GridFeed, foreground: Foreground, eager_bytes: int) -> None:
        self._widget = widget
        self._sources = sources
        self._grid_feed = grid
        self._foreground = foreground
        self._eager_bytes = eager_bytes
        #: Every head of the kind shown travels with the widget (at most ``eager_bytes`` of dec3).
        self.eager = False
        #: The pictures travel once (encoded here, at birth); {} without pictures: no image panel.
        self._images = images_payload(sources.capture.images)
        widget.observe(self._selection_changed, names=["queries", "layer", "head", "kind", "heatmap_quantity"])

    def _selection_changed(self, change: dict[str, Any]) -> None:
        if self._widget._ready:
            self.send_queries_row()

    def _eager_payload(self, k: Kind) -> dict[str, Any]:
        """Every head of the kind shown, and for heads with a sink each row's share of it (what the
        row's weights lack of 1)."""
        weights = self._sources.capture.attentions(k.id)
        sinks = 1.0 - weights.sum(-1, dtype=np.float64) if k.has_sink else None
        return heads_payload(k.id, weights, None if sinks is None else np.clip(sinks, 0.0, 1.0).astype(np.float32))

    def show_kind(self) -> None:
        """Every trait that depends on the kind shown, its axes and sizes first; the selection kept
        where it fits. Run again whenever what the kind holds changes."""
        w = self._widget
        k = self._sources.capture.kind(w.kind)
        n_layers, n_heads, n_q, n_k = k.shape
        # The heads sent at once are the attention weights: a widget that offers none (a comparison's
        # b - a and runs) asks for tiles.
        self.eager = "attention" in self._sources.quantities and 2 * n_layers * n_heads * n_q * n_k <= self._eager_bytes
        self.send_axes()
        if self._sources.capture.note:  # a family without the long-input path says so
            w.set_trait("status", self._sources.capture.note)
        w.set_trait("_images", self._images)  # the same object on a kind switch: nothing is resent
        w.set_trait("_query_patches", {})  # resent: on the wire it may say "the same as the keys"
        w.set_trait("_patches", patches_payload(k.id, k.keys.patches))
        w.set_trait("_query_patches", patches_payload(k.id, k.queries.patches))
        w._quantities = self._sources.offered(k.id)  # what heatmap_quantity accepts for this kind
        if w.heatmap_quantity not in w._quantities:
            w.heatmap_quantity = w._quantities[0]
        w.set_trait("_grid_metric_options", self._grid_feed.options(k.id))
        if w.grid_metric not in w._metric_ids():  # a detector, and a kind without positions in common
            w.grid_metric = "entropy"
        w.queries = [q for q in w.queries if q < n_q]
        w.set_trait("_attention_data", self._eager_payload(k) if self.eager else {})
        self._grid_feed.send()
        w.window = [0, n_q, 0, n_k]
        w.layer, w.head = min(w.layer, n_layers - 1), min(w.head, n_heads - 1)
        w.query, w.key = min(w.query, n_q - 1), min(w.key, n_k - 1)

    def send_heads(self, eager_bytes: int) -> None:
        """Decide again whether every head travels at once (a live generation that has ended)."""
        w = self._widget
        self._eager_bytes = eager_bytes
        n_layers, n_heads, n_q, n_k = self._sources.capture.kind(w.kind).shape
        self.eager = "attention" in self._sources.quantities and 2 * n_layers * n_heads * n_q * n_k <= eager_bytes
        w.set_trait("_attention_data", heads_payload(w.kind, self._sources.capture.attentions(w.kind)) if self.eager else {})

    def send_axes(self) -> None:
        """The kind shown's token axes and sizes (also when a live generation has grown them)."""
        w = self._widget
        k = self._sources.capture.kind(w.kind)
        for prefix, axis in (("", k.keys), ("_query_", k.queries)):
            if prefix:  # always resent: on the wire they may say "the same as the keys" (wire/axis.py)
                for name in ("tokens", *AXIS_FLAGS):
                    w.set_trait(f"{prefix}{name}", [])
            for name in ("tokens", *AXIS_FLAGS):
                w.set_trait(f"{prefix}{name}", getattr(axis, name))
        for name, size in zip(("n_layers", "n_heads", "n_queries", "n_tokens"), k.shape, strict=True):
            w.set_trait(name, size)

    def send_queries_row(self) -> None:
        """The strip's row for several selected queries: their mean, exact, for the head shown."""
        w = self._widget
        if not w.queries:
            w.set_trait("_queries_row", {})
            return
        quantity, kind, layer, head = w.heatmap_quantity, w.kind, w.layer, w.head
        with self._foreground:
            row = self._sources.mean_row(quantity, kind, layer, head, w.queries)
        fields = {"kind": kind, "layer": layer, "head": head, "quantity": quantity}
        version = self._sources.version_of(quantity)
        w.set_trait("_queries_row", strip_payload("queries", row, **fields, version=version, queries=list(w.queries)))
