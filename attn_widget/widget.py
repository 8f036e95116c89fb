"""AttentionWidget: the traits the views share, selection sync, and answers to head requests."""

from __future__ import annotations

import pathlib
from collections import OrderedDict
from typing import Any, Sequence

import anywidget
import numpy as np
import traitlets

from .capture import capture_attention
from .encoding import dec3_bytes, max_pool, normalize_attention
from .metrics import GRID_METRICS
from .tokens import check_tokens

_STATIC = pathlib.Path(__file__).parent / "static"
_BUNDLE = _STATIC / "widget.js"
# Shown instead of a crash when the package is used from a checkout whose bundle was not built.
_UNBUILT_ESM = """
export default { render({ el }) {
  el.textContent = "attn_widget: the frontend bundle is missing; run `npm ci && npm run build`.";
} };
"""

#: Below this many bytes every head travels with the widget (instant head switches, works
#: without a kernel); above it only the selected head does and the rest are fetched on request.
DEFAULT_EAGER_BYTES = 4 * 1024 * 1024
#: Lazy widgets with more tokens than this send a max-pooled preview of a newly selected head
#: (at most PREVIEW_SIZE x PREVIEW_SIZE) ahead of its full matrix, so the picture changes within
#: tens of milliseconds even when the exact values take longer to encode and travel.
PREVIEW_SIZE = 256
_HEAD_CACHE_SIZE = 16


class AttentionWidget(anywidget.AnyWidget):
    """A layer x head grid linked to the token x token heatmap of the selected head.

    ``attention`` is what Hugging Face returns with ``output_attentions=True`` (a tuple with one
    ``(1, H, N, N)`` tensor per layer), or a torch tensor / numpy array ``(L, H, N, N)``; rows are
    queries (the attending token), columns keys. ``tokens`` has one label per position.
    The selection (``layer``, ``head``, ``query``, ``key``; 0-based, -1 = none) is shared with the
    browser both ways: read it, ``observe`` it, or set it and every view follows.
    """

    _esm = _BUNDLE if _BUNDLE.exists() else _UNBUILT_ESM
    _css = _STATIC / "widget.css" if (_STATIC / "widget.css").exists() else ""

    # What the views draw. Arrays travel as dec3 bytes (encoding.py), never as JSON lists.
    tokens = traitlets.List(traitlets.Unicode(), read_only=True).tag(sync=True)
    special = traitlets.List(traitlets.Bool(), read_only=True).tag(sync=True)
    n_layers = traitlets.Int(read_only=True).tag(sync=True)
    n_heads = traitlets.Int(read_only=True).tag(sync=True)
    n_tokens = traitlets.Int(read_only=True).tag(sync=True)
    grid_metric = traitlets.Unicode("entropy").tag(sync=True)
    grid_metric_options = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    grid_scores = traitlets.Bytes(read_only=True).tag(sync=True)
    attention_data = traitlets.Bytes(read_only=True).tag(sync=True)
    head_data = traitlets.Bytes(read_only=True).tag(sync=True)
    head_data_for = traitlets.List(traitlets.Int(), read_only=True).tag(sync=True)
    head_preview = traitlets.Bytes(read_only=True).tag(sync=True)
    head_preview_for = traitlets.List(traitlets.Int(), read_only=True).tag(sync=True)  # layer, head, factor, size

    # The selection, synced both ways.
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    query = traitlets.Int(-1).tag(sync=True)
    key = traitlets.Int(-1).tag(sync=True)

    def __init__(
        self,
        attention: Any,
        tokens: Sequence[str],
        *,
        layer: int = 0,
        head: int = 0,
        query: int = -1,
        key: int = -1,
        grid_metric: str = "entropy",
        special: Sequence[bool] | None = None,
        example: int | None = None,
        eager_bytes: int = DEFAULT_EAGER_BYTES,
        **kwargs: Any,
    ) -> None:
        array = normalize_attention(attention, example=example)
        n_layers, n_heads, n_tokens, _ = array.shape
        labels = check_tokens(tokens, n_tokens)
        marks = [False] * n_tokens if special is None else [bool(s) for s in special]
        if len(marks) != n_tokens:
            raise ValueError(f"special has {len(marks)} entries, expected one per token ({n_tokens})")
        self._attention = array
        self._scores: dict[str, np.ndarray] = {}
        self._encoded_heads: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._eager = 2 * array.size <= eager_bytes
        self._ready = False  # observers wait until __init__ has set every trait
        super().__init__(**kwargs)
        with self.hold_sync():
            self.set_trait("tokens", labels)
            self.set_trait("special", marks)
            self.set_trait("n_layers", n_layers)
            self.set_trait("n_heads", n_heads)
            self.set_trait("n_tokens", n_tokens)
            self.set_trait(
                "grid_metric_options",
                [{"id": m.id, "label": m.label, "description": m.description} for m in GRID_METRICS.values()],
            )
            self.set_trait("attention_data", dec3_bytes(array) if self._eager else b"")
            self.grid_metric = grid_metric
            self.set_trait("grid_scores", dec3_bytes(self.scores()))
            self.layer, self.head, self.query, self.key = layer, head, query, key
            self._send_selected_head(preview=False)  # the first paint needs the exact head only
        self._ready = True
        self.on_msg(self._answer_request)

    # ----------------------------------------------------------------- construction helpers
    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        text: str | Sequence[str],
        *,
        example: int | None = None,
        **kwargs: Any,
    ) -> "AttentionWidget":
        """Tokenize ``text``, run ``model`` (eval mode, no gradients) and show its attention.

        Works whatever the model's attention implementation: SDPA computes no weights, so the model
        is switched to eager attention for this one pass and switched back. A list of texts is a
        padded batch; ``example`` chooses the sequence shown, with its real tokens only.
        """
        captured = capture_attention(model, tokenizer, text, example=example)
        return cls(captured.attention, captured.tokens, special=captured.special, **kwargs)

    # ----------------------------------------------------------------- the numbers, for Python
    @property
    def attention(self) -> np.ndarray:
        """The attention shown, float32 ``(L, H, N, N)`` (a read-only view)."""
        view = self._attention.view()
        view.flags.writeable = False
        return view

    def scores(self, metric: str | None = None) -> np.ndarray:
        """The grid's per-head scores ``(L, H)`` for ``metric`` (default: the one shown)."""
        name = self.grid_metric if metric is None else metric
        if name not in GRID_METRICS:
            raise ValueError(f"metric must be one of {sorted(GRID_METRICS)}, got {name!r}")
        if name not in self._scores:
            self._scores[name] = GRID_METRICS[name].compute(self._attention)
        return self._scores[name]

    @property
    def eager(self) -> bool:
        """True when every head travels with the widget; False when heads are sent on request."""
        return self._eager

    # ----------------------------------------------------------------- validation
    def _check_index(self, name: str, value: int, upper: int, allow_none: bool) -> int:
        lower = -1 if allow_none else 0
        if not lower <= value < upper:
            extra = " (-1 = none)" if allow_none else ""
            raise traitlets.TraitError(
                f"{name} must be in [{lower}, {upper - 1}]{extra}, got {value}"
            )
        return value

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: dict[str, Any]) -> int:
        return self._check_index("layer", proposal["value"], self.n_layers, False)

    @traitlets.validate("head")
    def _valid_head(self, proposal: dict[str, Any]) -> int:
        return self._check_index("head", proposal["value"], self.n_heads, False)

    @traitlets.validate("query")
    def _valid_query(self, proposal: dict[str, Any]) -> int:
        return self._check_index("query", proposal["value"], self.n_tokens, True)

    @traitlets.validate("key")
    def _valid_key(self, proposal: dict[str, Any]) -> int:
        return self._check_index("key", proposal["value"], self.n_tokens, True)

    @traitlets.validate("grid_metric")
    def _valid_metric(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in GRID_METRICS:
            raise traitlets.TraitError(
                f"grid_metric must be one of {sorted(GRID_METRICS)}, got {proposal['value']!r}"
            )
        return proposal["value"]

    # ----------------------------------------------------------------- keeping the views fed
    @traitlets.observe("grid_metric")
    def _grid_metric_changed(self, change: dict[str, Any]) -> None:
        self.set_trait("grid_scores", dec3_bytes(self.scores(change["new"])))

    @traitlets.observe("layer", "head")
    def _selected_head_changed(self, change: dict[str, Any]) -> None:
        if self._ready:
            self._send_selected_head()

    def _send_selected_head(self, preview: bool = True) -> None:
        """Lazy mode: keep the selected head's matrix in a trait, so it reaches every view (and a
        re-display, and a Python-driven switch) without a request. Long inputs send a max-pooled
        preview first, in its own message, then the exact matrix."""
        if self._eager:
            return
        layer, head = self.layer, self.head
        factor = -(-self.n_tokens // PREVIEW_SIZE)  # ceil
        if preview and factor > 1 and (layer, head) not in self._encoded_heads:
            pooled = max_pool(self._attention[layer, head], factor)
            with self.hold_sync():
                self.set_trait("head_preview", dec3_bytes(pooled))
                self.set_trait("head_preview_for", [layer, head, factor, pooled.shape[0]])
        with self.hold_sync():
            self.set_trait("head_data", self._head_bytes(layer, head))
            self.set_trait("head_data_for", [layer, head])

    def _head_bytes(self, layer: int, head: int) -> bytes:
        key = (layer, head)
        if key in self._encoded_heads:
            self._encoded_heads.move_to_end(key)
            return self._encoded_heads[key]
        data = dec3_bytes(self._attention[layer, head])
        self._encoded_heads[key] = data
        while len(self._encoded_heads) > _HEAD_CACHE_SIZE:
            self._encoded_heads.popitem(last=False)
        return data

    def _answer_request(self, _widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        """Answer ``{"type": "head", "id", "layer", "head"}`` with that head's bytes, by id."""
        if not isinstance(content, dict) or content.get("type") != "head":
            return
        request_id = content.get("id")
        layer, head = content.get("layer"), content.get("head")
        reply: dict[str, Any] = {"type": "head", "id": request_id, "layer": layer, "head": head}
        valid = (
            isinstance(layer, int)
            and isinstance(head, int)
            and 0 <= layer < self.n_layers
            and 0 <= head < self.n_heads
        )
        if not valid:
            reply["error"] = (
                f"no head (layer={layer!r}, head={head!r}): layer must be in "
                f"[0, {self.n_layers - 1}] and head in [0, {self.n_heads - 1}]"
            )
            self.send(reply)
            return
        self.send(reply, buffers=[self._head_bytes(layer, head)])
