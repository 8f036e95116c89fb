"""``AttentionWidget``: the Python API over the synced state (state.py). The work is delegated:
``Sources`` maps (quantity, kind, layer, head) to numbers, ``GridFeed`` keeps the grid fed,
``Messages`` answers the views, a saliency panel explains a prediction, ``Status`` says what runs."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets

from ..attribution.saliency_cache import SaliencyCache
from ..capturing.induction_probe import induction_capture
from ..capturing.result import Capture, Kind
from ..capturing.run import capture
from ..capturing.transformer_lens import capture_from_cache
from ..engine.comparison import Comparison, runs_to_compare
from ..engine.grid_scores import Foreground
from ..engine.sources import Sources
from ..engine.tiles import Tile
from ..export.figure import SaveJob
from ..export.page import DEFAULT_MAX_BYTES as DEFAULT_PAGE_BYTES
from ..export.page import build_page, check_heads, check_page_path, write_page
from .arguments import as_capture, check_arguments, parameters, refuse_unknown_keywords, saliency_cache
from .explaining import Explaining
from .grid_feed import GridFeed
from .live_generation import LiveGeneration
from .messages import Messages
from .notebook_output import NotebookOutput
from .saliency_panel import saliency_panel
from .state import WidgetState
from .status import Status
from .views_feed import DEFAULT_EAGER_BYTES, ViewsFeed

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class AttentionWidget(LiveGeneration, Explaining, NotebookOutput, WidgetState):
    """A layer x head grid linked to the token x token heatmap of the selected head.

    ``attention`` is a ``Capture`` (``attn_widget.capture``), what Hugging Face returns with
    ``output_attentions=True`` (a tuple with one ``(1, H, N, N)`` tensor per layer), or a torch
    tensor / numpy array ``(L, H, N, N)`` with ``tokens`` (one label per position); rows are
    queries (the attending token), columns keys. The selection (``layer``, ``head``, ``query``,
    ``key``; 0-based, -1 = none), the attention ``kind`` and the heatmap's visible ``window`` are
    shared with the browser both ways: read them, ``observe`` them, or set them and every view
    follows.
    """

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
        saliency, runs = check_arguments(eager_bytes, linked_saliency, comparison, target, position)
        shown = as_capture(attention, tokens, special, example)  # a comparison's: run a, labelled with both
        self._sources = Sources(shown, saliency=saliency, comparison=runs)
        self._quantities = self._sources.quantities
        self._foreground = Foreground()  # the kernel's answers go first; the grid worker waits
        self._status = Status(self)
        self._grid_feed = GridFeed(self, self._sources, self._foreground)
        self._messages = Messages(self, self._sources, self._foreground)
        self._views_feed = ViewsFeed(self, self._sources, self._grid_feed, self._foreground, eager_bytes)
        refuse_unknown_keywords(kwargs, self.trait_names(), _OWN, _MODEL_ONLY, {"linked_saliency", "comparison"})
        super().__init__(**kwargs)
        with self.hold_sync():
            self.set_trait("kinds", [{"id": k, "label": shown.kind(k).label} for k in shown.kinds])
            self.kind = shown.kinds[0] if kind is None else kind
            self.set_trait("n_tokens", self._kind().shape[3])  # for the target_position and spans checks
            self.set_trait("n_queries", self._kind().shape[2])
            self.set_trait("compare_labels", list(self._sources.labels))
            self._saliency = saliency_panel(self, self._sources, self._grid_feed, self._status, target, position)
            self.set_trait("_grid_metric_options", self._grid_feed.options(self.kind))
            offered = self._metric_ids()
            self.grid_metric = offered[0] if grid_metric == "entropy" and grid_metric not in offered else grid_metric
            self.spans = list(spans)
            self.flow_span = flow_span
            self._views_feed.show_kind()
            self.layer, self.head, self.query, self.key = layer, head, query, key
            self.queries = list(queries)
            if window is not None:
                self.window = list(window)
            self.strip_method = strip_method
            self.heatmap_quantity = heatmap_quantity or self._quantities[0]
            self._saliency.send_strip()
            self._views_feed.send_queries_row()
        self._ready = True
        self.on_msg(self._messages.answer)
        self._grid_feed.start(self.kind)

    # ----------------------------------------------------------------- other ways in
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
        tokenizer: PreTrainedTokenizerBase | Any,
        text: str | Sequence[str] | None = None,
        *,
        images: Any = None,
        example: int | None = None,
        text_pair: str | Sequence[str] | None = None,
        decoder_text: str | Sequence[str] | None = None,
        saliency: bool = False,
        ig_steps: int | str = "auto",
        ig_baseline: str | int = "zero",
        **kwargs: Any,
    ) -> AttentionWidget:
        """Tokenize ``text``, run ``model`` once (eval mode, no gradients) and show its attention,
        whatever the model's attention implementation. A list of texts is a padded batch;
        ``example`` chooses the sequence shown. With ``images`` (a PIL image, an H x W x 3 uint8
        array, or a list), ``tokenizer`` is the model's processor and ``text`` its prompt (None for
        a vision-only model); ``w.capture.patches(kind)`` maps image tokens to pixels.

        ``saliency=True`` (causal language models, one text) also explains the prediction of
        ``target`` (a word or id; default the top prediction) after ``position`` (default the last
        token): head importance and saliency flow in the grid, attention x gradient in the heatmap,
        per-token saliency in the strip. ``spans`` names token ranges, drawn as brackets.
        """
        explained = saliency_cache(model, tokenizer, text, images, saliency, ig_steps, ig_baseline)
        captured = capture(model, tokenizer, text, images=images, example=example, text_pair=text_pair, decoder_text=decoder_text)
        return cls(captured, linked_saliency=explained, **kwargs)

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
        """Compare two runs over the same positions: the heatmap shows ``b - a`` on a diverging
        scale, the grid how much each head's rows differ (``"js_divergence"``, ``"max_abs_difference"``).

        ``a`` and ``b``: two Captures, two attention arrays (with ``tokens``), two texts (with
        ``model`` and ``tokenizer``), or two models (with ``tokenizer``, or a pair, and ``text``).
        ``labels`` names them. ``w.heatmap_quantity = "a"`` (or ``"b"``) shows one run's weights.
        """
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
        """Show a TransformerLens ``ActivationCache`` with ``tokens = model.to_str_tokens(prompt)``:
        its patterns, else every head rebuilt from its (rotary) queries and keys."""
        return cls(capture_from_cache(cache, tokens, example=example, causal=causal, attn_scale=attn_scale), **kwargs)

    @classmethod
    def induction_probe(
        cls, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, length: int = 50, seed: int = 0, **kwargs: Any
    ) -> AttentionWidget:
        """Run ``model`` on ``length`` random tokens repeated once (after a BOS/CLS token) and show
        the grid coloured by the induction score: induction heads light up on the second copy."""
        kwargs.setdefault("grid_metric", "induction")
        return cls(induction_capture(model, tokenizer, length, seed), **kwargs)

    # ----------------------------------------------------------------- the numbers, for Python
    @property
    def query_tokens(self) -> list[str]:
        """The heatmap's rows: the tokens that attend (the decoder's for cross-attention; else ``tokens``)."""
        return list(self._query_tokens)

    @property
    def query_generated(self) -> list[bool]:
        """Per query row: True where the token was generated (``from_generate``)."""
        return list(self._query_generated)

    @property
    def capture(self) -> Capture:
        """The capture shown: ``w.capture.attention(layer, head, kind)`` gives any head."""
        return self._sources.capture

    @property
    def attention(self) -> np.ndarray:
        """Every head of the kind shown, float32 ``(L, H, Nq, Nk)`` (read-only; built on demand for
        a capture, refused above 4 GiB: use ``w.capture.attention(layer, head)``)."""
        view = self.capture.attentions(self.kind).view()
        view.flags.writeable = False
        return view

    @property
    def saliency(self) -> Any:
        """The current ``attribution.Saliency`` (attention x gradient, head importance, target)."""
        return self._saliency.current

    def scores(self, metric: str | None = None, kind: str | None = None, *, exact: bool = True) -> np.ndarray:
        """The grid's per-head scores ``(L, H)`` for ``metric`` (default: the one shown).

        ``exact=True`` waits for (or computes) every head's exact value; ``exact=False`` returns
        what the grid shows now: exact where refined, estimated from sampled rows elsewhere."""
        which = self.kind if kind is None else kind
        return self._grid_feed.scores(metric or self.grid_metric, which, self.span_range(), exact=exact)

    @property
    def grid_progress(self) -> tuple[int, int]:
        """(heads with exact scores, all heads) for the kind shown."""
        return self._grid_feed.attention.progress(self.kind)

    def wait_scores(self, timeout: float | None = None) -> bool:
        """Wait for the grid's background refinement; True when every score is exact."""
        return self._grid_feed.wait(self.kind, timeout)

    @property
    def eager(self) -> bool:
        """True when every head travels with the widget; False when views ask for tiles."""
        return self._views_feed.eager

    def queries_row(self) -> np.ndarray:
        """The mean row of the selected ``queries`` for the head and quantity shown (what the strip
        shows), float32 (Nk,); the selected ``query``'s row when ``queries`` is empty."""
        rows = self.queries or ([self.query] if self.query >= 0 else [])
        if not rows:
            raise ValueError("no query is selected: set w.query or w.queries first")
        return self._sources.mean_row(self.heatmap_quantity, self.kind, self.layer, self.head, rows)

    def tile(
        self, layer: int, head: int, window: Sequence[int], block: int | Sequence[int] = 1, *, kind: str | None = None
    ) -> Tile:
        """The tile a view would get: ``window`` (q0, q1, k0, k1) of a head pooled into blocks of
        ``block`` cells (a power of two, or (rows, cols)); ``.values`` are the block maxima."""
        blocks = [block, block] if isinstance(block, int) else list(block)
        fields = {"id": "python", "kind": self.kind if kind is None else kind, "layer": layer, "head": head}
        request = self._messages.parse({**fields, "window": [int(v) for v in window], "block": blocks}, ("attention",))
        with self._foreground:  # the grid worker steps aside, as for a view's request
            return self._sources.tile("attention", request["kind"], layer, head, request["window"], request["block"])[0]

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
        target = check_page_path(path)
        chosen = check_heads(heads, self.n_layers, self.n_heads)
        grids = self._grid_feed.page_grids(self.kind, [s["name"] for s in self.spans], self.span_range)
        strips = self._saliency.page_strips(chosen)
        quantities = self._sources.page_quantities(self.kind, self.heatmap_quantity)
        write_page(target, build_page(self.get_state(), self._kind(), chosen, quantities, grids, strips, max_bytes))
        return target

    def save(self, path: str | pathlib.Path, panel: str = "all", scale: int = 2) -> SaveJob:
        """Save what a displayed view shows as ``.png`` (``scale`` = 1, 2 or 4 device pixels per
        CSS pixel) or ``.svg`` (vector; text stays text): the whole widget (``panel="all"``) or
        one panel (``"grid"``, ``"heatmap"``, ``"strip"``, or ``"image"``: the picture).

        The view draws the figure and sends the bytes; in a notebook they arrive once the cell
        has finished, so this returns a ``SaveJob`` at once: ``job.done``, and ``job.result()`` in
        a later cell gives the path or raises what went wrong. Needs a displayed view.
        """
        return self._messages.save(path, panel, scale)

    def close(self) -> None:
        if hasattr(self, "_grid_feed"):  # __del__ may run on a half-made widget
            self._grid_feed.stop()
        super().close()

    # ----------------------------------------------------------------- keeping the views fed
    def _kind(self) -> Kind:
        return self.capture.kind(self.kind)

    @traitlets.observe("kind")
    def _kind_changed(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        self._ready = False  # layer/head clamping must not start work for the old kind
        try:
            self._grid_feed.stop()
            with self.hold_sync():
                self._views_feed.show_kind()
        finally:
            self._ready = True
        self._views_feed.send_queries_row()  # the selected queries kept, for the new kind's head
        self._grid_feed.start(self.kind)


_OWN = parameters(AttentionWidget.__init__)
_MODEL_ONLY = parameters(AttentionWidget.from_model) - _OWN - {"cls", "model", "tokenizer", "text"}
