"""AttentionWidget: the traits the views share, selection sync, and answers to head requests."""

from __future__ import annotations

import pathlib
from collections import OrderedDict
from typing import Any, Sequence

import anywidget
import numpy as np
import traitlets

from .capture import capture, capture_generation
from .captured import Capture, Kind
from .encoding import dec3_bytes, max_pool
from .linked_saliency import SALIENCY_METRICS, LinkedSaliency
from .metrics import GRID_METRICS
from .saliency_traits import SaliencyTraits

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
#: Above this, a new view's first head travels as a pooled preview and the exact matrix follows on
#: request (N = 2048: 8.4 MB goes with the widget; N = 4096: 34 MB would not).
INITIAL_HEAD_BYTES = 9 * 1024 * 1024


class AttentionWidget(SaliencyTraits, anywidget.AnyWidget):
    """A layer x head grid linked to the token x token heatmap of the selected head.

    ``attention`` is a ``Capture`` (``attn_widget.capture``), what Hugging Face returns with
    ``output_attentions=True`` (a tuple with one ``(1, H, N, N)`` tensor per layer), or a torch
    tensor / numpy array ``(L, H, N, N)`` with ``tokens`` (one label per position); rows are
    queries (the attending token), columns keys. The selection (``layer``, ``head``, ``query``,
    ``key``; 0-based, -1 = none) and the attention ``kind`` are shared with the browser both ways:
    read them, ``observe`` them, or set them and every view follows.
    """

    _esm = _BUNDLE if _BUNDLE.exists() else _UNBUILT_ESM
    _css = _STATIC / "widget.css" if (_STATIC / "widget.css").exists() else ""

    # What the views draw. Columns are keys (``tokens``), rows are queries (``query_tokens``):
    # the same list for self-attention, decoder vs encoder tokens for cross-attention.
    kinds = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), read_only=True).tag(sync=True)
    special = traitlets.List(traitlets.Bool(), read_only=True).tag(sync=True)
    generated = traitlets.List(traitlets.Bool(), read_only=True).tag(sync=True)
    query_tokens = traitlets.List(traitlets.Unicode(), read_only=True).tag(sync=True)
    query_special = traitlets.List(traitlets.Bool(), read_only=True).tag(sync=True)
    query_generated = traitlets.List(traitlets.Bool(), read_only=True).tag(sync=True)
    n_layers = traitlets.Int(read_only=True).tag(sync=True)
    n_heads = traitlets.Int(read_only=True).tag(sync=True)
    n_tokens = traitlets.Int(read_only=True).tag(sync=True)
    n_queries = traitlets.Int(read_only=True).tag(sync=True)
    grid_metric = traitlets.Unicode("entropy").tag(sync=True)
    grid_metric_options = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    grid_scores = traitlets.Bytes(read_only=True).tag(sync=True)
    attention_data = traitlets.Bytes(read_only=True).tag(sync=True)
    head_data = traitlets.Bytes(read_only=True).tag(sync=True)
    # layer, head, kind index, quantity (0 attention, 1 attention x gradient), saliency version:
    # a view that switched kind or quantity ignores a head meant for the previous one.
    head_data_for = traitlets.List(traitlets.Int(), read_only=True).tag(sync=True)
    head_preview = traitlets.Bytes(read_only=True).tag(sync=True)
    head_preview_for = traitlets.List(traitlets.Int(), read_only=True).tag(sync=True)  # layer, head, factor, rows, cols

    # The selection, synced both ways.
    kind = traitlets.Unicode("self").tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    query = traitlets.Int(-1).tag(sync=True)
    key = traitlets.Int(-1).tag(sync=True)

    def __init__(
        self,
        attention: Any,
        tokens: Sequence[str] | None = None,
        *,
        kind: str | None = None,
        layer: int = 0,
        head: int = 0,
        query: int = -1,
        key: int = -1,
        grid_metric: str = "entropy",
        special: Sequence[bool] | None = None,
        example: int | None = None,
        eager_bytes: int = DEFAULT_EAGER_BYTES,
        spans: Sequence[Any] = (),
        saliency: LinkedSaliency | None = None,
        target: str | int | None = None,
        position: int | None = None,
        strip_method: str = "attention",
        heatmap_quantity: str = "attention",
        flow_span: str = "",
        **kwargs: Any,
    ) -> None:
        self._saliency = saliency
        if isinstance(attention, Capture):
            if tokens is not None or special is not None or example is not None:
                raise ValueError(
                    "a Capture brings its own tokens: pass tokens, special and example only with an array"
                )
            self._capture = attention
        else:
            if tokens is None:
                raise TypeError("tokens is required with an attention array: one label per position")
            self._capture = Capture.from_array(attention, tokens, special=special, example=example)
        self._scores: dict[tuple[str, str], np.ndarray] = {}
        self._encoded_heads: OrderedDict[tuple[str, str, int, int], bytes] = OrderedDict()  # (quantity, kind, layer, head)
        self._eager_bytes = eager_bytes
        self._eager = False
        self._ready = False  # observers wait until __init__ has set every trait
        super().__init__(**kwargs)
        with self.hold_sync():
            self.set_trait("kinds", [{"id": k, "label": self._capture.kind(k).label} for k in self._capture.kinds])
            self.kind = self._capture.kinds[0] if kind is None else kind
            self.set_trait("n_tokens", self._kind().shape[3])  # for the target_position and spans checks
            options = [{"id": m.id, "label": m.label, "description": m.description} for m in GRID_METRICS.values()]
            if saliency is not None:
                options += [{"id": k, "label": lab, "description": d} for k, (lab, d) in SALIENCY_METRICS.items()]
                self._start_saliency(target, position)
            self.set_trait("grid_metric_options", options)
            self.grid_metric = grid_metric
            self.spans = list(spans)
            self.flow_span = flow_span
            self._load_kind()
            self.layer, self.head, self.query, self.key = layer, head, query, key
            self.strip_method = strip_method
            self.heatmap_quantity = heatmap_quantity
            self._send_strip()
            self._send_first_head()
        self._ready = True
        self.on_msg(self._answer_request)

    # ----------------------------------------------------------------- construction helpers
    @classmethod
    def from_capture(cls, capture: Capture, **kwargs: Any) -> "AttentionWidget":
        """Show a ``Capture`` (from ``attn_widget.capture``): grid eagerly, heads on request."""
        if not isinstance(capture, Capture):
            raise TypeError(f"capture must be an attn_widget.Capture, got {type(capture).__name__}")
        return cls(capture, **kwargs)

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        text: str | Sequence[str],
        *,
        example: int | None = None,
        text_pair: str | Sequence[str] | None = None,
        decoder_text: str | Sequence[str] | None = None,
        saliency: bool = False,
        ig_steps: int = 32,
        ig_baseline: str | int = "zero",
        **kwargs: Any,
    ) -> "AttentionWidget":
        """Tokenize ``text``, run ``model`` once (eval mode, no gradients) and show its attention.

        Works whatever the model's attention implementation (see ``attn_widget.capture``). A list
        of texts is a padded batch; ``example`` chooses the sequence shown, with its real tokens.

        ``saliency=True`` (causal language models, one text) also explains the prediction of
        ``target`` (a word or id; default the model's top prediction) after ``position`` (default
        the last token): head importance and attention x gradient flow in the grid, attention x
        gradient in the heatmap, per-token saliency in the strip; the target can be changed from
        the widget or through ``w.target_token`` / ``w.target_position``. ``spans`` names token
        ranges, e.g. ``[("<ENV>", 0, 7), ("<LAN>", 7, 13)]``, drawn as brackets.
        """
        captured = capture(model, tokenizer, text, example=example, text_pair=text_pair, decoder_text=decoder_text)
        if saliency:
            if not isinstance(text, str):
                raise ValueError("saliency=True explains one text: pass text as a str")
            kwargs["saliency"] = LinkedSaliency(model, tokenizer, text, ig_steps=ig_steps, ig_baseline=ig_baseline)
        return cls(captured, **kwargs)

    @classmethod
    def from_generate(
        cls,
        model: Any,
        tokenizer: Any,
        prompt: str,
        *,
        max_new_tokens: int = 20,
        generate_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> "AttentionWidget":
        """Generate after ``prompt`` (greedy by default) and show attention over the prompt and
        the generated tokens; generated tokens are marked (``w.generated``)."""
        captured = capture_generation(model, tokenizer, prompt, max_new_tokens=max_new_tokens, **(generate_kwargs or {}))
        return cls(captured, **kwargs)

    # ----------------------------------------------------------------- the numbers, for Python
    @property
    def capture(self) -> Capture:
        """The capture shown: ``w.capture.attention(layer, head, kind)`` gives any head."""
        return self._capture

    @property
    def attention(self) -> np.ndarray:
        """Every head of the kind shown, float32 ``(L, H, Nq, Nk)`` (read-only; built on demand for
        a capture, refused above 4 GiB: use ``w.capture.attention(layer, head)``)."""
        view = self._capture.attentions(self.kind).view()
        view.flags.writeable = False
        return view

    def scores(self, metric: str | None = None, kind: str | None = None) -> np.ndarray:
        """The grid's per-head scores ``(L, H)`` for ``metric`` (default: the one shown)."""
        name = self.grid_metric if metric is None else metric
        if name in SALIENCY_METRICS and self._saliency is not None:
            return self._saliency.grid(name, self._flow_span())
        if name not in GRID_METRICS:
            raise ValueError(f"metric must be one of {self._metric_ids()}, got {name!r}")
        which = self._capture.kind(self.kind if kind is None else kind)
        key = (which.id, name)
        if key not in self._scores:
            self._scores[key] = GRID_METRICS[name].compute(which)
        return self._scores[key]

    @property
    def eager(self) -> bool:
        """True when every head travels with the widget; False when heads are sent on request."""
        return self._eager

    def _kind(self) -> Kind:
        return self._capture.kind(self.kind)

    # ----------------------------------------------------------------- validation
    def _check_index(self, name: str, value: int, upper: int, allow_none: bool) -> int:
        lower = -1 if allow_none else 0
        if not lower <= value < upper:
            extra = " (-1 = none)" if allow_none else ""
            raise traitlets.TraitError(
                f"{name} must be in [{lower}, {upper - 1}]{extra}, got {value}"
            )
        return value

    @traitlets.validate("kind")
    def _valid_kind(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in self._capture.kinds:
            raise traitlets.TraitError(
                f"kind must be one of {list(self._capture.kinds)}, got {proposal['value']!r}"
            )
        return proposal["value"]

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: dict[str, Any]) -> int:
        return self._check_index("layer", proposal["value"], self.n_layers, False)

    @traitlets.validate("head")
    def _valid_head(self, proposal: dict[str, Any]) -> int:
        return self._check_index("head", proposal["value"], self.n_heads, False)

    @traitlets.validate("query")
    def _valid_query(self, proposal: dict[str, Any]) -> int:
        return self._check_index("query", proposal["value"], self.n_queries, True)

    @traitlets.validate("key")
    def _valid_key(self, proposal: dict[str, Any]) -> int:
        return self._check_index("key", proposal["value"], self.n_tokens, True)

    def _metric_ids(self) -> list[str]:
        return sorted(GRID_METRICS) + (sorted(SALIENCY_METRICS) if self._saliency is not None else [])

    @traitlets.validate("grid_metric")
    def _valid_metric(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in self._metric_ids():
            raise traitlets.TraitError(
                f"grid_metric must be one of {self._metric_ids()}, got {proposal['value']!r}"
            )
        return proposal["value"]

    # ----------------------------------------------------------------- keeping the views fed
    def _load_kind(self) -> None:
        """Every trait that depends on the kind shown, in one message; selection kept if it fits."""
        k = self._kind()
        n_layers, n_heads, n_q, n_k = k.shape
        self._eager = 2 * n_layers * n_heads * n_q * n_k <= self._eager_bytes
        for name, axis in (("", k.keys), ("query_", k.queries)):
            self.set_trait(f"{name}tokens", axis.tokens)
            self.set_trait(f"{name}special", axis.special)
            self.set_trait(f"{name}generated", axis.generated)
        self.set_trait("n_layers", n_layers)
        self.set_trait("n_heads", n_heads)
        self.set_trait("n_queries", n_q)
        self.set_trait("n_tokens", n_k)
        self.set_trait("attention_data", dec3_bytes(self._capture.attentions(k.id)) if self._eager else b"")
        self.set_trait("grid_scores", dec3_bytes(self.scores()))
        self.layer = min(self.layer, n_layers - 1)
        self.head = min(self.head, n_heads - 1)
        self.query = min(self.query, n_q - 1)
        self.key = min(self.key, n_k - 1)

    @traitlets.observe("kind")
    def _kind_changed(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        self._ready = False  # layer/head clamping must not push a head of the old kind
        try:
            with self.hold_sync():
                self._load_kind()
                self._send_first_head()
        finally:
            self._ready = True

    @traitlets.observe("grid_metric", "flow_span")
    def _grid_metric_changed(self, change: dict[str, Any]) -> None:
        if self.n_layers:
            self.set_trait("grid_scores", dec3_bytes(self.scores()))

    @traitlets.observe("layer", "head")
    def _selected_head_changed(self, change: dict[str, Any]) -> None:
        if self._ready:
            self._send_selected_head()
            if self.strip_method == "attention_x_gradient":
                self._send_strip()

    def _send_first_head(self) -> None:
        """The head a view draws first (a new widget, a new kind). Up to INITIAL_HEAD_BYTES it is the
        exact matrix; above, only its pooled preview, so the first picture never waits for tens of
        megabytes: the view asks for the exact head as soon as it has drawn the preview."""
        if self._eager and self.heatmap_quantity == "attention":
            return
        if self._preview_factor() > 1 and 2 * self.n_tokens * self.n_queries > INITIAL_HEAD_BYTES and self.heatmap_quantity == "attention":
            with self.hold_sync():
                self.set_trait("head_data", b"")  # no exact head yet: the view requests it
                self.set_trait("head_data_for", [])
                self._send_preview(self._capture.attention(self.layer, self.head, self.kind))
            return
        self._send_selected_head(preview=False)

    def _preview_factor(self) -> int:
        """The block size that pools the shown matrix down to at most PREVIEW_SIZE a side."""
        return -(-max(self.n_tokens, self.n_queries) // PREVIEW_SIZE)  # ceil

    def _send_preview(self, matrix: np.ndarray) -> None:
        factor = self._preview_factor()
        pooled = max_pool(matrix, factor)
        with self.hold_sync():
            self.set_trait("head_preview", dec3_bytes(pooled))
            self.set_trait("head_preview_for", [self.layer, self.head, factor, pooled.shape[0], pooled.shape[1]])

    def _send_selected_head(self, preview: bool = True) -> None:
        """Lazy mode: keep the selected head's matrix in a trait, so it reaches every view (and a
        re-display, and a Python-driven switch) without a request. Long inputs send a max-pooled
        preview first, in its own message, then the exact matrix."""
        if self._eager and self.heatmap_quantity == "attention":
            return
        kind, layer, head = self.kind, self.layer, self.head
        matrix = None
        if preview and self._preview_factor() > 1 and self.heatmap_quantity == "attention" and ("attention", kind, layer, head) not in self._encoded_heads:
            matrix = self._capture.attention(layer, head, kind)  # recomputed once, for both messages
            self._send_preview(matrix)
        with self.hold_sync():
            self.set_trait("head_data", self._head_bytes(kind, layer, head, self.heatmap_quantity, matrix))
            quantity = 0 if self.heatmap_quantity == "attention" else 1
            self.set_trait("head_data_for", [layer, head, self._capture.kinds.index(kind), quantity, self.saliency_version if quantity else 0])

    def _head_bytes(self, kind: str, layer: int, head: int, quantity: str = "attention", matrix: np.ndarray | None = None) -> bytes:
        key = (quantity, kind, layer, head)
        if key in self._encoded_heads:
            self._encoded_heads.move_to_end(key)
            return self._encoded_heads[key]
        if matrix is not None:
            data = dec3_bytes(matrix)
        elif quantity == "attention_x_gradient" and self._saliency is not None:
            data = dec3_bytes(self._saliency.current.attention_x_gradient[layer, head])
        else:
            data = dec3_bytes(self._capture.attention(layer, head, kind))
        self._encoded_heads[key] = data
        while len(self._encoded_heads) > _HEAD_CACHE_SIZE:
            self._encoded_heads.popitem(last=False)
        return data

    def _answer_request(self, _widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        """Answer ``{"type": "head", "id", "layer", "head", "kind"}`` with that head's bytes, by id."""
        if not isinstance(content, dict) or content.get("type") != "head":
            return
        request_id = content.get("id")
        layer, head = content.get("layer"), content.get("head")
        kind = content.get("kind", self.kind)
        quantity = content.get("quantity", "attention")
        reply: dict[str, Any] = {"type": "head", "id": request_id, "layer": layer, "head": head, "kind": kind}
        if "quantity" in content:
            reply["quantity"] = quantity
            reply["version"] = self.saliency_version  # the target these numbers explain
        if quantity not in ("attention", "attention_x_gradient") or (quantity != "attention" and self._saliency is None):
            reply["error"] = f"no {quantity!r} for this widget"
            self.send(reply)
            return
        try:
            which = self._capture.kind(kind)
        except ValueError as err:
            reply["error"] = str(err)
            self.send(reply)
            return
        valid = (
            isinstance(layer, int)
            and isinstance(head, int)
            and 0 <= layer < which.n_layers
            and 0 <= head < which.n_heads
        )
        if not valid:
            reply["error"] = (
                f"no head (layer={layer!r}, head={head!r}): layer must be in "
                f"[0, {which.n_layers - 1}] and head in [0, {which.n_heads - 1}]"
            )
            self.send(reply)
            return
        self.send(reply, buffers=[self._head_bytes(kind, layer, head, quantity)])
