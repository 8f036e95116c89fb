"""AttentionWidget: the traits the views share, selection sync, and answers to head requests."""

from __future__ import annotations

import asyncio
import difflib
import inspect
import pathlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets

from .. import _bundle
from ..attribution.saliency_cache import SALIENCY_METRICS, SaliencyCache
from ..capturing.head_source import ValueHead
from ..capturing.result import Capture, Kind
from ..capturing.run import capture, capture_generation
from ..engine.comparison import COMPARE_METRICS, Comparison
from ..engine.derived_heads import MeanHead, Part, mean_rows
from ..engine.grid_scores import EXACT_CELLS, Foreground, GridScores, Refiner
from ..engine.metrics import GRID_METRICS
from ..engine.tiles import TileEngine
from ..export.figure import SaveJob, check_save_arguments, export_request
from ..export.page import DEFAULT_MAX_BYTES as DEFAULT_PAGE_BYTES
from ..export.page import build_page, check_heads, write_page
from ..wire.axis import flags_to_json, same_as_keys
from ..wire.dec3 import dec3_bytes
from ..wire.protocol import (
    COMPARE_QUANTITIES,
    QUANTITIES,
    VERSIONED,
    ProtocolError,
    parse_tile_request,
    reply,
    tile_payload,
    where_bytes,
)
from .saliency_traits import SaliencyTraits

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


#: Below this many bytes (dec3, 2 per weight) every head travels with the widget: instant head
#: switches, and it works without a kernel. Above it the views ask for tiles of what they show.
#: Kept under protocol.MAX_MESSAGE_BYTES: the widget's first message carries these bytes.
DEFAULT_EAGER_BYTES = 1024 * 1024
#: Encoded tiles kept for re-asking views (a second view, a pan back), by bytes.
_TILE_CACHE_BYTES = 64 * 1024 * 1024


class Index(traitlets.Int):  # type: ignore[type-arg]
    """A position: an int, or a numpy integer taken as one. Refuses True and 1.0, which
    traitlets.Int would quietly take as 1."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise traitlets.TraitError(f"{self.name} must be an int, got {value!r}")
        return super().validate(obj, int(value))


class AttentionWidget(SaliencyTraits, anywidget.AnyWidget):
    """A layer x head grid linked to the token x token heatmap of the selected head.

    ``attention`` is a ``Capture`` (``attn_widget.capture``), what Hugging Face returns with
    ``output_attentions=True`` (a tuple with one ``(1, H, N, N)`` tensor per layer), or a torch
    tensor / numpy array ``(L, H, N, N)`` with ``tokens`` (one label per position); rows are
    queries (the attending token), columns keys. The selection (``layer``, ``head``, ``query``,
    ``key``; 0-based, -1 = none), the attention ``kind`` and the heatmap's visible ``window`` are
    shared with the browser both ways: read them, ``observe`` them, or set them and every view
    follows.
    """

    _esm = _bundle.esm()
    _css = _bundle.css()

    # What the views draw. Columns are keys (``tokens``), rows are queries (``_query_tokens``):
    # the same list for self-attention, decoder vs encoder tokens for cross-attention.
    # Token lists are checked once, where the capture is made (tokens.check_tokens): element traits
    # would check every element again on every set, 0.65 s at 32,768 tokens.
    kinds = traitlets.List(
        traitlets.Dict(),
        read_only=True,
        help="list[dict], read-only: the attention kinds this widget can show, as {id, label}; default from the capture",
    ).tag(sync=True)
    # On the wire (axis_wire.py): flags as one byte per token, query lists equal to the keys as null.
    tokens = traitlets.List(
        read_only=True, help="list[str], read-only: the keys' tokens (the heatmap's columns); default from the input"
    ).tag(sync=True)
    special = traitlets.List(
        read_only=True,
        help="list[bool], read-only: per key token, True for special tokens ([CLS], <s>, padding); default all False",
    ).tag(sync=True, to_json=flags_to_json)
    generated = traitlets.List(
        read_only=True,
        help="list[bool], read-only: per key token, True where it was generated (from_generate); default all False",
    ).tag(sync=True, to_json=flags_to_json)
    _query_tokens = traitlets.List(read_only=True).tag(sync=True, to_json=same_as_keys("tokens"))  # list[str]
    _query_special = traitlets.List(read_only=True).tag(sync=True, to_json=same_as_keys("special", flags_to_json))
    _query_generated = traitlets.List(read_only=True).tag(sync=True, to_json=same_as_keys("generated", flags_to_json))
    n_layers = traitlets.Int(read_only=True, help="int, read-only: layers of the kind shown; default from the input").tag(
        sync=True
    )
    n_heads = traitlets.Int(read_only=True, help="int, read-only: heads per layer of the kind shown; default from the input").tag(
        sync=True
    )
    n_tokens = traitlets.Int(
        read_only=True, help="int, read-only: key positions (the heatmap's columns); default from the input"
    ).tag(sync=True)
    n_queries = traitlets.Int(
        read_only=True, help="int, read-only: query positions (the heatmap's rows); default from the input"
    ).tag(sync=True)
    grid_metric = traitlets.Unicode(
        "entropy",
        help="str: what colours the grid ('entropy', 'max_attention', and with saliency 'head_importance', 'saliency_flow'); default 'entropy'",
    ).tag(sync=True)
    _grid_metric_options = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)
    # Payloads (protocol.py): a header with the bytes inside. _grid_scores: what="scores";
    # _attention_data: what="heads", every head of the kind shown (eager widgets), else {}.
    _grid_scores = traitlets.Dict(read_only=True).tag(sync=True)
    _attention_data = traitlets.Dict(read_only=True).tag(sync=True)

    # The selection and the view, synced both ways.
    kind = traitlets.Unicode(
        "self", help="str: the attention shown ('self', or 'encoder', 'decoder', 'cross'); default the capture's first kind"
    ).tag(sync=True)
    layer = Index(
        0, help="int: the selected layer, 0-based; -1 = the mean over layers (of head `head`, or of every head); default 0"
    ).tag(sync=True)
    head = Index(0, help="int: the selected head in that layer, 0-based; -1 = the mean over the heads of `layer`; default 0").tag(
        sync=True
    )
    query = Index(-1, help="int: the selected query (heatmap row), 0-based; -1 = none; default -1").tag(sync=True)
    queries = traitlets.List(
        help="list[int]: several selected queries (shift-click or shift-drag on the query axis); the strip shows their "
        "mean row; [] = none; default []"
    ).tag(sync=True)
    # A payload (protocol.py): what="strip", method="queries": the mean row of `queries` for the
    # head and quantity shown, computed here (exact), or {} when no queries are selected.
    _queries_row = traitlets.Dict(read_only=True).tag(sync=True)
    compare_labels = traitlets.List(
        read_only=True,
        help="list[str], read-only: the names of runs a and b (AttentionWidget.compare); default [] (not a comparison)",
    ).tag(sync=True)
    key = Index(-1, help="int: the selected key (heatmap column), 0-based; -1 = none; default -1").tag(sync=True)
    window = traitlets.List(
        help="list[int]: the heatmap's visible [q0, q1, k0, k1], end exclusive; [] = everything; default []"
    ).tag(sync=True)  # checked by _valid_window (one message for every mistake)

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
        window: Sequence[int] | None = None,
        grid_metric: str = "entropy",
        special: Sequence[bool] | None = None,
        example: int | None = None,
        eager_bytes: int = DEFAULT_EAGER_BYTES,
        spans: Sequence[Any] = (),
        linked_saliency: SaliencyCache | None = None,
        target: str | int | None = None,
        position: int | None = None,
        strip_method: str = "attention",
        heatmap_quantity: str | None = None,
        flow_span: str = "",
        queries: Sequence[int] = (),
        comparison: Comparison | None = None,
        **kwargs: Any,
    ) -> None:
        self._saliency = linked_saliency
        self._comparison = comparison
        if comparison is not None:
            if not isinstance(comparison, Comparison):
                raise TypeError(f"comparison must come from AttentionWidget.compare, got {type(comparison).__name__}")
            if linked_saliency is not None:
                raise ValueError("a comparison cannot explain a prediction too: use saliency=True on one run at a time")
            attention = comparison.shown  # run a's heads, labelled with both runs' tokens
            eager_bytes = 0  # the page asks for b - a and each run's tiles; no one array holds them
        # Checked before any work: a bad argument must not surface later, when a view first asks.
        if isinstance(eager_bytes, bool) or not isinstance(eager_bytes, int) or eager_bytes < 0:
            raise ValueError(f"eager_bytes must be an int >= 0 (bytes of weights sent up front), got {eager_bytes!r}")
        if linked_saliency is None and (target is not None or position is not None):
            raise ValueError(
                "target and position choose the prediction to explain: they need "
                "AttentionWidget.from_model(model, tokenizer, text, saliency=True, target=..., position=...)"
            )
        if isinstance(attention, Capture):
            if tokens is not None or special is not None or example is not None:
                raise ValueError("a Capture brings its own tokens: pass tokens, special and example only with an array")
            self._capture = attention
        else:
            if tokens is None:
                raise TypeError("tokens is required with an attention array: one label per position")
            self._capture = Capture.from_array(attention, tokens, special=special, example=example)
        self._engine = TileEngine()
        self._foreground = Foreground()
        self._grids: dict[str, GridScores] = {}
        self._refiner: Refiner | None = None
        self._tiles: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], list[bytes]]] = OrderedDict()
        self._tile_bytes = 0
        self._eager_bytes = eager_bytes
        self._eager = False
        self._sync_lock = threading.Lock()
        self._views: set[str] = set()  # views on screen now (they say so when they open and close)
        self._saves: dict[str, SaveJob] = {}
        try:  # a kernel runs cells inside its event loop: the grid worker hands results to it
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._ready = False  # observers wait until __init__ has set every trait
        _refuse_unknown_keywords(kwargs, self)
        super().__init__(**kwargs)
        with self.hold_sync():
            self.set_trait("kinds", [{"id": k, "label": self._capture.kind(k).label} for k in self._capture.kinds])
            self.kind = self._capture.kinds[0] if kind is None else kind
            self.set_trait("n_tokens", self._kind().shape[3])  # for the target_position and spans checks
            self.set_trait("n_queries", self._kind().shape[2])
            if comparison is not None:
                self.set_trait("compare_labels", list(comparison.labels))
            if linked_saliency is not None:
                self._start_saliency(target, position)
            self.set_trait("_grid_metric_options", self._metric_options())
            self.grid_metric = "js_divergence" if comparison is not None and grid_metric == "entropy" else grid_metric
            self.spans = list(spans)
            self.flow_span = flow_span
            self._load_kind()
            self.layer, self.head, self.query, self.key = layer, head, query, key
            self.queries = list(queries)
            if window is not None:
                self.window = list(window)
            self.strip_method = strip_method
            self.heatmap_quantity = heatmap_quantity or ("difference" if comparison is not None else "attention")
            self._send_strip()
            self._send_queries_row()
        self._ready = True
        self.on_msg(self._answer_request)
        self._start_refiner()

    # ----------------------------------------------------------------- construction helpers
    @classmethod
    def from_capture(cls, capture: Capture, **kwargs: Any) -> AttentionWidget:
        """Show a ``Capture`` (from ``attn_widget.capture``): grid eagerly, heads on request."""
        if not isinstance(capture, Capture):
            raise TypeError(f"capture must be an attn_widget.Capture, got {type(capture).__name__}")
        return cls(capture, **kwargs)

    @classmethod
    def from_model(
        cls,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        text: str | Sequence[str],
        *,
        example: int | None = None,
        text_pair: str | Sequence[str] | None = None,
        decoder_text: str | Sequence[str] | None = None,
        saliency: bool = False,
        ig_steps: int | str = "auto",
        ig_baseline: str | int = "zero",
        **kwargs: Any,
    ) -> AttentionWidget:
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
            kwargs["linked_saliency"] = SaliencyCache(model, tokenizer, text, ig_steps=ig_steps, ig_baseline=ig_baseline)
        return cls(captured, **kwargs)

    @classmethod
    def from_generate(
        cls,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        prompt: str,
        *,
        max_new_tokens: int = 20,
        generate_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AttentionWidget:
        """Generate after ``prompt`` (greedy by default) and show attention over the prompt and
        the generated tokens; generated tokens are marked (``w.generated``)."""
        captured = capture_generation(model, tokenizer, prompt, max_new_tokens=max_new_tokens, **(generate_kwargs or {}))
        return cls(captured, **kwargs)

    @classmethod
    def compare(
        cls,
        a: Any,
        b: Any,
        tokens: Sequence[str] | None = None,
        *,
        model: PreTrainedModel | None = None,
        tokenizer: Any = None,
        text: str | None = None,
        labels: Sequence[str] = ("a", "b"),
        **kwargs: Any,
    ) -> AttentionWidget:
        """Compare two runs over the same positions: the heatmap shows ``b - a`` on a diverging scale
        (tooltip: the difference and both weights), the grid how much each head's rows differ
        (``"js_divergence"``, or ``"max_abs_difference"``).

        ``a`` and ``b``: two Captures, two attention arrays (with ``tokens``), two texts (with
        ``model`` and ``tokenizer``), or two models (with ``tokenizer``, or a pair, and
        ``text``). ``labels`` names them in the widget, e.g. ``("clean", "corrupted")``. A position
        whose token differs between the runs is labelled ``"a/b"``; runs with different numbers of
        tokens are refused with both token lists. ``w.heatmap_quantity = "a"``
        (or ``"b"``) shows one run's weights.
        """
        from ..engine.comparison import runs_to_compare

        comparison = runs_to_compare(a, b, tokens, model=model, tokenizer=tokenizer, text=text, labels=tuple(labels))
        return cls(comparison.shown, comparison=comparison, **kwargs)

    @classmethod
    def from_cache(
        cls,
        cache: Any,
        tokens: Sequence[str],
        *,
        example: int = 0,
        causal: bool | None = None,
        attn_scale: float | None = None,
        **kwargs: Any,
    ) -> AttentionWidget:
        """Show a TransformerLens ``ActivationCache`` (``logits, cache = model.run_with_cache(...)``)
        with ``tokens = model.to_str_tokens(prompt)``: the patterns when the cache kept them, else
        every head rebuilt from its (rotary) queries and keys. See ``attn_widget.transformer_lens_cache``."""
        from ..capturing.transformer_lens import capture_from_cache

        captured = capture_from_cache(cache, tokens, example=example, causal=causal, attn_scale=attn_scale)
        return cls(captured, **kwargs)

    @classmethod
    def induction_probe(
        cls,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        length: int = 50,
        seed: int = 0,
        **kwargs: Any,
    ) -> AttentionWidget:
        """Run ``model`` on ``length`` random tokens repeated once (after a BOS/CLS token) and show
        the grid coloured by the induction score: induction heads light up on the second copy."""
        from ..capturing.induction_probe import induction_capture

        kwargs.setdefault("grid_metric", "induction")
        return cls(induction_capture(model, tokenizer, length, seed), **kwargs)

    # ----------------------------------------------------------------- the numbers, for Python
    @property
    def query_tokens(self) -> list[str]:
        """The heatmap's rows: the tokens that attend (the decoder's for cross-attention; else ``tokens``)."""
        return list(self._query_tokens)

    @property
    def query_generated(self) -> list[bool]:
        """Per query row: True where the token was generated (``from_generation``)."""
        return list(self._query_generated)

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

    def scores(self, metric: str | None = None, kind: str | None = None, *, exact: bool = True) -> np.ndarray:
        """The grid's per-head scores ``(L, H)`` for ``metric`` (default: the one shown).

        ``exact=True`` waits for (or computes) every head's exact value; ``exact=False`` returns
        what the grid shows now: exact where refined, estimated from sampled rows elsewhere."""
        name = self.grid_metric if metric is None else metric
        which = self.kind if kind is None else kind
        if name in SALIENCY_METRICS and self._saliency is not None:
            return self._saliency.grid(name, self._flow_span())
        if self._comparison is not None and name in COMPARE_METRICS:
            return self._comparison.scores(name, which, self._run_lse(which))
        if name not in self._metric_ids(which):
            raise ValueError(f"metric must be one of {self._metric_ids(which)} for kind {which!r}, got {name!r}")
        grid = self._grid(which)
        if not exact:
            return grid.values(name)[0]
        if self._refiner is not None and self._refiner.grid is grid:
            self._refiner.join()
        return grid.exact_values(name)

    @property
    def grid_progress(self) -> tuple[int, int]:
        """(heads with exact scores, all heads) for the kind shown."""
        grid = self._grid(self.kind)
        return grid.done, grid.total

    def wait_scores(self, timeout: float | None = None) -> bool:
        """Wait for the grid's background refinement; True when every score is exact."""
        if self._refiner is not None:
            self._refiner.join(timeout)
            if not self._refiner.thread.is_alive():
                self._publish_grid()
        return self._grid(self.kind).complete

    @property
    def eager(self) -> bool:
        """True when every head travels with the widget; False when views ask for tiles."""
        return self._eager

    def _kind(self) -> Kind:
        return self._capture.kind(self.kind)

    def _grid(self, kind: str) -> GridScores:
        if kind not in self._grids:
            which = self._capture.kind(kind)
            grid = GridScores(which, self._engine, lambda layer, head, k=kind: ("attention", k, layer, head, 0))
            if grid.cells <= EXACT_CELLS:
                grid.refine_all()
            else:
                grid.estimate()
            self._grids[kind] = grid
        return self._grids[kind]

    # ----------------------------------------------------------------- validation
    def _check_index(self, name: str, value: int, upper: int, allow_none: bool) -> int:
        lower = -1 if allow_none else 0
        if not lower <= value < upper:
            extra = " (-1 = none)" if allow_none else ""
            raise traitlets.TraitError(f"{name} must be in [{lower}, {upper - 1}]{extra}, got {value}")
        return value

    @traitlets.validate("kind")
    def _valid_kind(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in self._capture.kinds:
            raise traitlets.TraitError(f"kind must be one of {list(self._capture.kinds)}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: dict[str, Any]) -> int:
        return self._check_aggregate("layer", proposal["value"], self.n_layers, "the mean over layers")

    @traitlets.validate("head")
    def _valid_head(self, proposal: dict[str, Any]) -> int:
        return self._check_aggregate("head", proposal["value"], self.n_heads, "the mean over heads")

    def _check_aggregate(self, name: str, value: int, upper: int, mean: str) -> int:
        if not -1 <= value < upper:
            raise traitlets.TraitError(f"{name} must be in [-1, {upper - 1}] (-1 = {mean}), got {value}")
        return value

    @traitlets.validate("queries")
    def _valid_queries(self, proposal: dict[str, Any]) -> list[int]:
        value = proposal["value"]
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v < self.n_queries for v in value
        )
        if not ok:
            raise traitlets.TraitError(
                f"queries must be a list of query positions (ints in [0, {self.n_queries - 1}]), got {value!r}"
            )
        return sorted({int(v) for v in value})

    @traitlets.validate("query")
    def _valid_query(self, proposal: dict[str, Any]) -> int:
        return self._check_index("query", proposal["value"], self.n_queries, True)

    @traitlets.validate("key")
    def _valid_key(self, proposal: dict[str, Any]) -> int:
        return self._check_index("key", proposal["value"], self.n_tokens, True)

    @traitlets.validate("window")
    def _valid_window(self, proposal: dict[str, Any]) -> list[int]:
        value = proposal["value"]
        n_q, n_k = self.n_queries, self.n_tokens
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == 4
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
        )
        if ok:
            q0, q1, k0, k1 = (int(v) for v in value)
            ok = 0 <= q0 < q1 <= n_q and 0 <= k0 < k1 <= n_k
        if not ok:
            raise traitlets.TraitError(
                f"window must be (q0, q1, k0, k1) with 0 <= q0 < q1 <= {n_q} and 0 <= k0 < k1 <= {n_k} "
                f"(query and key ranges, end exclusive), got {value!r}"
            )
        return [int(v) for v in value]

    def _metric_options(self, kind: str | None = None) -> list[dict[str, str]]:
        """What the grid's control offers for ``kind``: a comparison's metrics, or the attention
        metrics (detectors on square kinds only), plus the saliency metrics when explained."""
        if self._comparison is not None:
            return [{"id": k, "label": lab, "description": d} for k, (lab, d) in COMPARE_METRICS.items()]
        k = self._capture.kind(self.kind if kind is None else kind)
        square = k.id in ("self", "encoder", "decoder") and k.shape[2] == k.shape[3]
        options = [
            {"id": m.id, "label": m.label, "description": m.description}
            for m in GRID_METRICS.values()
            if square or not m.square_only
        ]
        if self._saliency is not None:
            options += [{"id": k, "label": lab, "description": d} for k, (lab, d) in SALIENCY_METRICS.items()]
        return options

    def _metric_ids(self, kind: str | None = None) -> list[str]:
        return [o["id"] for o in self._metric_options(kind)]

    @traitlets.validate("grid_metric")
    def _valid_metric(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in self._metric_ids():
            raise traitlets.TraitError(f"grid_metric must be one of {self._metric_ids()}, got {proposal['value']!r}")
        return proposal["value"]

    # ----------------------------------------------------------------- keeping the views fed
    def _load_kind(self) -> None:
        """Every trait that depends on the kind shown, in one message; selection kept if it fits."""
        k = self._kind()
        n_layers, n_heads, n_q, n_k = k.shape
        self._eager = 2 * n_layers * n_heads * n_q * n_k <= self._eager_bytes
        for name, axis in (("", k.keys), ("_query_", k.queries)):
            if name:  # always resent: on the wire they may say "the same as the keys" (axis_wire.py)
                for field in ("tokens", "special", "generated"):
                    self.set_trait(f"{name}{field}", [])
            self.set_trait(f"{name}tokens", axis.tokens)
            self.set_trait(f"{name}special", axis.special)
            self.set_trait(f"{name}generated", axis.generated)
        self.set_trait("n_layers", n_layers)
        self.set_trait("n_heads", n_heads)
        self.set_trait("n_queries", n_q)
        self.set_trait("n_tokens", n_k)
        self.set_trait("_grid_metric_options", self._metric_options())
        if self.grid_metric not in self._metric_ids():  # a detector, and a kind without positions in common
            self.grid_metric = "entropy"
        self.queries = [q for q in self.queries if q < n_q]
        heads: dict[str, Any] = {}
        if self._eager:
            heads = {
                "what": "heads",
                "kind": k.id,
                "shape": [n_layers, n_heads, n_q, n_k],
                "encoding": "dec3",
                "data": dec3_bytes(self._capture.attentions(k.id)),
            }
        self.set_trait("_attention_data", heads)
        self._send_grid()
        self.window = [0, n_q, 0, n_k]
        self.layer = min(self.layer, n_layers - 1)
        self.head = min(self.head, n_heads - 1)
        self.query = min(self.query, n_q - 1)
        self.key = min(self.key, n_k - 1)

    @traitlets.observe("kind")
    def _kind_changed(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        self._ready = False  # layer/head clamping must not start work for the old kind
        try:
            self._stop_refiner()
            with self.hold_sync():
                self._load_kind()
        finally:
            self._ready = True
        self._send_queries_row()  # the selected queries kept, for the new kind's head
        self._start_refiner()

    @traitlets.observe("grid_metric", "flow_span")
    def _grid_metric_changed(self, change: dict[str, Any]) -> None:
        if self.n_layers:
            self._send_grid()

    @traitlets.observe("layer", "head")
    def _selected_head_changed(self, change: dict[str, Any]) -> None:
        if self._ready and self.strip_method == "attention_x_gradient":
            self._send_strip()

    @traitlets.observe("queries", "layer", "head", "kind", "heatmap_quantity")
    def _queries_changed(self, change: dict[str, Any]) -> None:
        if self._ready:
            self._send_queries_row()

    def _send_queries_row(self) -> None:
        """The strip's row for several selected queries: their mean, exact, for the head shown."""
        if not self.queries:
            self.set_trait("_queries_row", {})
            return
        quantity, kind, layer, head = self.heatmap_quantity, self.kind, self.layer, self.head
        with self._foreground:
            row = mean_rows(*self._part(quantity, kind, layer, head), self.queries)
        self.set_trait(
            "_queries_row",
            {
                "what": "strip",
                "method": "queries",
                "kind": kind,
                "layer": layer,
                "head": head,
                "quantity": quantity,
                "version": self._version_of(quantity),
                "queries": list(self.queries),
                "shape": [int(row.size)],
                "encoding": "dec3",
                "data": dec3_bytes(row),
            },
        )

    def queries_row(self) -> np.ndarray:
        """The mean row of the selected ``queries`` for the head and quantity shown (what the strip
        shows), float32 (Nk,); the selected ``query``'s row when ``queries`` is empty."""
        rows = self.queries or ([self.query] if self.query >= 0 else [])
        if not rows:
            raise ValueError("no query is selected: set w.query or w.queries first")
        return mean_rows(*self._part(self.heatmap_quantity, self.kind, self.layer, self.head), rows)

    def _send_grid(self) -> None:
        with self._sync_lock:
            self.set_trait("_grid_scores", self._grid_payload(self.grid_metric))

    def _grid_payload(self, metric: str, *, exact: bool = False, flow_span: str | None = None) -> dict[str, Any]:
        """The grid's payload: values, standard errors (0 = exact, NaN = a lower bound) and which
        heads are exact, with the sample they were estimated from. ``exact=True`` waits for (or
        computes) every exact score; ``flow_span`` names the span of the saliency-flow metric."""
        k = self._kind()
        payload: dict[str, Any] = {
            "what": "scores",
            "kind": k.id,
            "metric": metric,
            "shape": [k.n_layers, k.n_heads],
            "encoding": "dec3",
        }
        if metric in SALIENCY_METRICS and self._saliency is not None:
            span = (
                self._flow_span()
                if flow_span is None
                else next(((s["start"], s["end"]) for s in self.spans if s["name"] == flow_span), None)
            )
            values = self._saliency.grid(metric, span)
            payload.update(exact=True, done=values.size, total=values.size, sample=0, rows=k.shape[2])
        elif exact or self._comparison is not None:
            values = self.scores(metric)
            payload.update(exact=True, done=values.size, total=values.size, sample=0, rows=k.shape[2])
        else:
            grid = self._grid(k.id)
            values, errors = grid.values(metric)
            lower_bound = np.isnan(errors)
            payload.update(
                exact=grid.complete,
                done=grid.done,
                total=grid.total,
                sample=grid.sample_size,
                rows=grid.n_q,
                error=dec3_bytes(np.where(lower_bound, 0.0, errors)),
                exact_heads=grid.exact.astype(np.uint8).tobytes(),
                lower_bound=lower_bound.astype(np.uint8).tobytes(),
            )
        payload.update(_values_with_aggregates(values))
        return payload

    def _publish_grid(self) -> None:
        """From the grid worker: hand the new scores to the kernel's loop when there is one."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._send_grid)
        else:
            self._send_grid()

    def _start_refiner(self) -> None:
        if self._comparison is not None:
            return  # a comparison's scores are computed whole (comparison.py)
        grid = self._grid(self.kind)
        if grid.complete:
            return
        self._refiner = Refiner(
            grid, self._foreground, lambda: (max(0, self.layer), max(0, self.head)), self._publish_grid
        ).start()

    def _stop_refiner(self) -> None:
        if self._refiner is not None:
            self._refiner.stop.set()
            self._refiner.join()
            self._refiner = None

    def close(self) -> None:
        if getattr(self, "_refiner", None) is not None:  # __del__ may run on a half-made widget
            self._stop_refiner()
        super().close()

    # ----------------------------------------------------------------- answering the views
    def _source(self, quantity: str, kind: str, layer: int, head: int) -> Any:
        """The tile source of a head, or of an aggregate (layer or head -1: the mean of the heads
        it covers, each part with its own log-sum-exp)."""
        if layer >= 0 and head >= 0:
            return self._head_source(quantity, kind, layer, head)
        n_layers, n_heads = self._capture.kind(kind).shape[:2]
        layers = range(n_layers) if layer < 0 else [layer]
        heads = range(n_heads) if head < 0 else [head]
        parts = [self._part(quantity, kind, ly, hd) for ly in layers for hd in heads]
        return MeanHead(parts, signed=quantity in ("attention_x_gradient", "difference"))

    def _part(self, quantity: str, kind: str, layer: int, head: int) -> Part:
        """A head's (or an aggregate's) source with its rows' log-sum-exp when it has logits,
        cached by the tile engine."""
        source = self._source(quantity, kind, layer, head)
        if not source.logits:
            return source, None
        key = self._engine_key(quantity, kind, layer, head, self._version_of(quantity))
        return source, self._engine.lse(key, source)

    def _version_of(self, quantity: str) -> int:
        """The saliency version a quantity is at (0 for those that do not change with the target)."""
        return self._saliency_version if quantity in VERSIONED else 0

    def _head_source(self, quantity: str, kind: str, layer: int, head: int) -> Any:
        if quantity == "attention_x_gradient":
            return ValueHead(self._saliency.current.attention_x_gradient[layer, head], signed=True)
        if self._comparison is not None:
            if quantity == "difference":
                return self._comparison.source(kind, layer, head, self._run_lse(kind))
            run = self._comparison.b if quantity == "b" else self._comparison.a
            return run.kind(kind).source(layer, head)
        return self._capture.kind(kind).source(layer, head)

    def _run_lse(self, kind: str) -> Any:
        """For a comparison: ``lse(run, layer, head, source)`` of run "a" or "b" (tile engine cache)."""
        return lambda run, layer, head, source: self._engine.lse((run, kind, layer, head, 0), source)

    def _engine_key(self, quantity: str, kind: str, layer: int, head: int, version: int) -> tuple[Any, ...]:
        return (quantity, kind, layer, head, version)

    def tile(
        self, layer: int, head: int, window: Sequence[int], block: int | Sequence[int] = 1, *, kind: str | None = None
    ) -> Any:
        """The tile a view would get: ``window`` (q0, q1, k0, k1) of a head pooled into blocks of
        ``block`` cells (a power of two, or (rows, cols)); ``.values`` are the block maxima."""
        blocks = [block, block] if isinstance(block, int) else list(block)
        request = parse_tile_request(
            {
                "id": "python",
                "kind": self.kind if kind is None else kind,
                "layer": layer,
                "head": head,
                "window": [int(v) for v in window],
                "block": blocks,
            },
            kinds=self._kind_shapes(),
            quantities=("attention",),
            version=self._saliency_version,
        )
        key = self._engine_key("attention", request["kind"], layer, head, 0)
        with self._foreground:  # the grid worker steps aside, as for a view's request
            return self._engine.tile(
                key, self._source("attention", request["kind"], layer, head), tuple(request["window"]), tuple(request["block"])
            )

    def _quantities(self) -> tuple[str, ...]:
        """What the heatmap can show: attention, attention x gradient when a prediction is
        explained, b - a and either run for a comparison."""
        if self._comparison is not None:
            return COMPARE_QUANTITIES
        return QUANTITIES if self._saliency is not None else ("attention",)

    def _kind_shapes(self) -> dict[str, tuple[int, int, int, int]]:
        return {k: self._capture.kind(k).shape for k in self._capture.kinds}

    # ----------------------------------------------------------------- figures and pages
    def to_html(
        self, path: str | pathlib.Path, heads: str | Sequence[tuple[int, int]] = "all", *, max_bytes: int = DEFAULT_PAGE_BYTES
    ) -> pathlib.Path:
        """Write one self-contained HTML page: the same widget, with no kernel and no network
        (bundle, CSS and data inline; open it from disk, send it by mail).

        ``heads`` is ``"all"`` or a list of ``(layer, head)`` pairs to include; the grid keeps every
        head's score and a head left out says so in the heatmap. Pages above ``max_bytes``
        are refused with the size they would have. Shows the kind on screen now.
        """
        target = pathlib.Path(path).expanduser()
        if target.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"path must end in .html, got {str(path)!r}")
        if not target.parent.is_dir():
            raise FileNotFoundError(f"path: the folder {str(target.parent)!r} does not exist (to_html does not create folders)")
        chosen = check_heads(heads, self.n_layers, self.n_heads)
        write_page(target, build_page(self, chosen, max_bytes))
        return target

    def save(self, path: str | pathlib.Path, panel: str = "all", scale: int = 2) -> SaveJob:
        """Save what a displayed view shows as ``.png`` (``scale`` = 1, 2 or 4 device pixels per
        CSS pixel) or ``.svg`` (vector; text stays text): the whole widget (``panel="all"``) or
        one panel (``"grid"``, ``"heatmap"``, ``"strip"``).

        The view draws the figure and sends the bytes; in a notebook they arrive once the cell
        has finished, so this returns a ``SaveJob`` at once: ``job.done``, and ``job.result()`` in
        a later cell gives the path or raises what went wrong. Needs a displayed view.
        """
        target, fmt = check_save_arguments(path, panel, scale)
        if not self._views:
            raise RuntimeError(
                "display the widget first: save() asks a view on screen to draw the figure "
                "(make `w` a cell's last line, or display(w)), then call w.save(...) in a later cell"
            )
        request = export_request(panel, fmt, scale)
        job = SaveJob(target, request)
        self._saves[request["id"]] = job
        self.send(request)
        return job

    def _export_chunk(self, content: dict[str, Any], buffers: list[Any]) -> None:
        job = self._saves.get(str(content.get("id")))
        if job is None:
            return
        job.receive(content, buffers)
        if job.done:
            self._saves.pop(str(content.get("id")), None)

    def _view_event(self, content: dict[str, Any]) -> None:
        view = content.get("view")
        if not isinstance(view, str) or len(view) > 64:
            raise ProtocolError(f"view must be a short string, got {view!r}")
        if content.get("event") == "open":
            self._views.add(view)
        elif content.get("event") == "close":
            self._views.discard(view)
        else:
            raise ProtocolError(f"event must be 'open' or 'close', got {content.get('event')!r}")

    def _answer_request(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        """Answer a view's request (protocol.py). Never raises: every failure is an error reply."""
        request_id = content.get("id") if isinstance(content, dict) else None
        if isinstance(content, dict) and content.get("type") in ("view", "export-chunk"):
            try:
                if content["type"] == "view":
                    self._view_event(content)
                else:
                    self._export_chunk(content, buffers)
            except ProtocolError as err:
                self.send(reply(request_id, error=str(err)))
            except Exception as err:  # noqa: BLE001 - the kernel must keep answering
                self._unexpected(request_id, err)
            return
        try:
            with self._foreground:
                if not isinstance(content, dict) or content.get("type") != "tile":
                    kind = content.get("type") if isinstance(content, dict) else type(content).__name__
                    raise ProtocolError(f"unknown request type {kind!r}: expected 'tile'")
                request = parse_tile_request(
                    content, kinds=self._kind_shapes(), quantities=self._quantities(), version=self._saliency_version
                )
                payload, data = self._tile_reply(request)
            self.send(reply(request_id, request=dict(request), payload=payload), buffers=data)
        except ProtocolError as err:
            self.send(reply(request_id, error=str(err)))
        except Exception as err:  # noqa: BLE001 - the kernel must keep answering; the view shows it
            self._unexpected(request_id, err)

    def _unexpected(self, request_id: Any, err: Exception) -> None:
        """A fault of ours, not a bad request: the view shows it, and Python hears of it too."""
        self.send(reply(request_id, error=f"{type(err).__name__}: {err}"))
        warnings.warn(f"attn_widget could not answer a view's request: {type(err).__name__}: {err}", RuntimeWarning, stacklevel=2)

    def _tile_reply(self, request: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        cache_key = (
            request["quantity"],
            request["kind"],
            request["layer"],
            request["head"],
            request["version"],
            tuple(request["window"]),
            tuple(request["block"]),
        )
        hit = self._tiles.get(cache_key)
        if hit is not None:
            self._tiles.move_to_end(cache_key)
            return hit
        quantity, kind, layer, head, version = (request[k] for k in ("quantity", "kind", "layer", "head", "version"))
        source = self._source(quantity, kind, layer, head)
        key = self._engine_key(quantity, kind, layer, head, version)
        tile = self._engine.tile(key, source, tuple(request["window"]), tuple(request["block"]))
        peak = self._engine.peak(key)
        if peak is None:
            peak = float(np.abs(tile.values).max())
        payload = tile_payload(request, tile, peak, source.signed)  # type: ignore[arg-type]
        data = [dec3_bytes(tile.values)]
        if tile.where is not None:
            data.append(where_bytes(tile.where, tile.block))
        self._tiles[cache_key] = (dict(payload), data)
        self._tile_bytes += sum(len(d) for d in data)
        while self._tile_bytes > _TILE_CACHE_BYTES and len(self._tiles) > 1:
            _, (_, dropped) = self._tiles.popitem(last=False)
            self._tile_bytes -= sum(len(d) for d in dropped)
        return dict(payload), data


def _refuse_unknown_keywords(kwargs: dict[str, Any], widget: AttentionWidget) -> None:
    """A misspelt keyword is a TypeError naming the closest valid one (traitlets would only warn)."""
    unknown = sorted(set(kwargs) - set(widget.trait_names()))
    if not unknown:
        return
    own = set(inspect.signature(AttentionWidget.__init__).parameters)
    model_only = set(inspect.signature(AttentionWidget.from_model).parameters) - own - {"cls", "model", "tokenizer", "text"}
    if unknown[0] in model_only:
        raise TypeError(
            f"{unknown[0]!r} is an argument of AttentionWidget.from_model(model, tokenizer, text, ...), not of AttentionWidget()"
        )
    valid = own | model_only | {n for n in widget.trait_names() if not n.startswith("_")}
    valid -= {"self", "cls", "kwargs", "linked_saliency", "comparison"}
    close = difflib.get_close_matches(unknown[0], sorted(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise TypeError(f"AttentionWidget got an unexpected keyword argument {unknown[0]!r}{hint}")


def _values_with_aggregates(values: np.ndarray) -> dict[str, Any]:
    """The grid's values and their aggregates for the payload: per layer the mean over its heads,
    per head the mean over layers, and the mean of every head (heads without a value, NaN, left
    out), each as dec3 with a byte per value saying whether it has none."""
    values = np.asarray(values, dtype=np.float64)
    defined = ~np.isnan(values)
    filled = np.where(defined, values, 0.0)

    def mean(axis: int | None) -> tuple[np.ndarray, np.ndarray]:
        count = defined.sum(axis=axis)
        total = filled.sum(axis=axis)
        return np.where(count > 0, total / np.maximum(count, 1), 0.0), count == 0

    per_layer, none_l = mean(1)
    per_head, none_h = mean(0)
    overall, none_all = mean(None)
    aggregates = np.concatenate([per_layer, per_head, np.atleast_1d(overall)])
    missing = np.concatenate([none_l, none_h, np.atleast_1d(none_all)])
    return {
        "data": dec3_bytes(filled),
        "undefined": (~defined).astype(np.uint8).tobytes(),
        "aggregates": dec3_bytes(aggregates),
        "aggregates_undefined": missing.astype(np.uint8).tobytes(),
    }
