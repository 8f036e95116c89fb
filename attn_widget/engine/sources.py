"""What a heatmap can show, and where each head's numbers come from.

A *quantity* is one matrix per head: the attention weights, attention x gradient for an explained
prediction, attention rollout through the head's layer (one matrix per layer: every head of it
shows the same), or for a comparison of two runs ``b - a`` and each run. ``QUANTITIES`` is the one
table of them (its twin for the page is ``js/wire/quantities.ts``): adding a quantity is one entry
here. Which quantities a widget offers follows from its *mode*, fixed when it is made:

- ``"plain"``: attention, and rollout for self-attention kinds;
- ``"saliency"`` (``from_model(..., saliency=True)``): those, and attention x gradient of the
  kind the saliency explains (a vision-language model's ``self``);
- ``"comparison"`` (``AttentionWidget.compare``): ``difference``, ``a`` and ``b``.

``Sources`` answers "(quantity, kind, layer, head) -> tile source" for every part of the widget
(tiles, the strip's mean row, the offline page); layer or head -1 is the mean over that axis.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..attribution.layer_rollout import LayerRollout, rollout_matrix
from ..capturing.head_source import HeadSource, ValueHead
from ..capturing.result import Capture
from .comparison import Comparison
from .derived_heads import MeanHead, Part, mean_rows
from .row_stats import safe_lse
from .tiles import Tile, TileEngine

if TYPE_CHECKING:
    from ..attribution.saliency_cache import SaliencyCache

PLAIN, SALIENCY, COMPARISON = "plain", "saliency", "comparison"


@dataclass(frozen=True)
class HeadKey:
    """One head of one quantity at one saliency version (and, for a capture that grows while a
    model writes, at one length): the key of every cache of its numbers."""

    quantity: str
    kind: str
    layer: int
    head: int
    version: int = 0
    length: int = 0


@dataclass(frozen=True)
class Quantity:
    id: str
    signed: bool  # values of either sign, drawn on a diverging scale centred on 0
    versioned: bool  # changes with the saliency target: requests name the version they want
    modes: tuple[str, ...]  # the widgets that offer it
    head: Callable[[Sources, str, int, int], Any]  # (sources, kind, layer, head) -> a tile source
    matrix: Callable[[Sources, str, int, int], np.ndarray]  # the same head, float32 (Nq, Nk), for pages
    on_request: bool = False  # an offline page carries it only when it is the quantity shown


def _axg(s: Sources, kind: str, layer: int, head: int) -> np.ndarray:
    cache = s.saliency_cache()
    if kind != cache.kind:
        raise ValueError(f"attention x gradient explains the prediction through kind {cache.kind!r}, not {kind!r}")
    return cache.current.attention_x_gradient[layer, head]


def _rollout(s: Sources, kind: str, layer: int, head: int) -> np.ndarray:
    return rollout_matrix(s.rollouts, s.capture, kind, layer)


def _run_weights(run: str) -> Quantity:
    """The attention weights of one run of a comparison."""
    return Quantity(
        run,
        signed=False,
        versioned=False,
        modes=(COMPARISON,),
        head=lambda s, k, l, h: s.runs().run(run).kind(k).source(l, h),
        matrix=lambda s, k, l, h: s.runs().run(run).attention(l, h, k),
    )


QUANTITIES: dict[str, Quantity] = {
    q.id: q
    for q in (
        Quantity(
            "attention",
            signed=False,
            versioned=False,
            modes=(PLAIN, SALIENCY),
            head=lambda s, k, l, h: s.capture.kind(k).source(l, h),
            matrix=lambda s, k, l, h: s.capture.attention(l, h, k),
        ),
        Quantity(
            "attention_x_gradient",
            signed=True,
            versioned=True,
            modes=(SALIENCY,),
            head=lambda s, k, l, h: ValueHead(_axg(s, k, l, h), signed=True),
            matrix=_axg,
        ),
        Quantity(
            "rollout",
            signed=False,
            versioned=False,
            modes=(PLAIN, SALIENCY),
            head=lambda s, k, l, h: ValueHead(_rollout(s, k, l, h)),
            matrix=_rollout,
            on_request=True,
        ),
        Quantity(
            "difference",
            signed=True,
            versioned=False,
            modes=(COMPARISON,),
            head=lambda s, k, l, h: s.runs().source(k, l, h, s.run_lse(k)),
            matrix=lambda s, k, l, h: s.runs().difference(l, h, k),
        ),
        *(_run_weights(run) for run in ("a", "b")),
    )
}


@dataclass(frozen=True)
class QuantityMatrices:
    """One quantity's heads as dense matrices, for a page that holds them whole."""

    matrix: Callable[[int, int], np.ndarray]  # (layer, head) -> float32 (Nq, Nk)
    signed: bool
    version: int


class Sources:
    """Every head's numbers for one widget, for each quantity its mode offers, with the tile engine
    that caches their passes. ``version`` counts saliency recomputations (``new_version``)."""

    def __init__(self, capture: Capture, *, saliency: SaliencyCache | None = None, comparison: Comparison | None = None) -> None:
        if saliency is not None and comparison is not None:
            raise ValueError("a comparison cannot explain a prediction too: use saliency=True on one run at a time")
        self.capture = comparison.shown if comparison is not None else capture
        self.engine = TileEngine()
        self._saliency = saliency
        self._comparison = comparison
        self.mode = COMPARISON if comparison is not None else SALIENCY if saliency is not None else PLAIN
        self.quantities = tuple(q for q, spec in QUANTITIES.items() if self.mode in spec.modes)
        self.labels: tuple[str, ...] = comparison.labels if comparison is not None else ()
        self.version = 0
        self.rollouts: dict[str, LayerRollout] = {}  # per kind, the rollout product computed last
        #: Positions of a capture that grows (``grow``); 0 for one that never does.
        self.length = 0
        #: Held while a head's numbers are made and while the capture grows: a tile is cut from one
        #: capture, and its passes are cached under that capture's length.
        self.lock = threading.RLock()

    # The mode's own inputs: only quantities of that mode reach them.
    def saliency_cache(self) -> SaliencyCache:
        if self._saliency is None:
            raise AttributeError("this widget shows no saliency: create it with from_model(..., saliency=True)")
        return self._saliency

    def runs(self) -> Comparison:
        if self._comparison is None:
            raise AttributeError("this widget compares no runs: create it with AttentionWidget.compare(a, b)")
        return self._comparison

    def run_lse(self, kind: str) -> Callable[[str, int, int, Any], Any]:
        """For a comparison: ``lse(run, layer, head, source)`` of run "a" or "b", cached by the engine
        under that run's own quantity."""
        return lambda run, layer, head, source: self.engine.lse(HeadKey(run, kind, layer, head), source)

    # ----------------------------------------------------------------- heads
    def shapes(self) -> dict[str, tuple[int, int, int, int]]:
        """(layers, heads, queries, keys) of each kind."""
        return {k: self.capture.kind(k).shape for k in self.capture.kinds}

    def offered(self, kind: str) -> tuple[str, ...]:
        """The quantities that apply to ``kind``: rollout to self-attention, attention x gradient
        to the kind the saliency explains."""
        k = self.capture.kind(kind)
        return tuple(
            q
            for q in self.quantities
            if not (q == "rollout" and not k.square) and not (q == "attention_x_gradient" and kind != self.saliency_cache().kind)
        )

    def version_of(self, quantity: str) -> int:
        return self.version if QUANTITIES[quantity].versioned else 0

    def key(self, quantity: str, kind: str, layer: int, head: int) -> HeadKey:
        return HeadKey(quantity, kind, layer, head, self.version_of(quantity), self.length)

    def grow(self, capture: Capture) -> None:
        """A live generation's capture has more positions: show it; each head's pass of the shorter
        one is kept only to be extended by the next (engine/grown_pass.py)."""
        with self.lock:
            self.capture = capture
            self.length = capture.kind().shape[2]
            self.rollouts.clear()
            self.engine.grown(
                lambda key: isinstance(key, HeadKey) and key.length != self.length,
                lambda key: dataclasses.replace(key, length=0),
            )

    def source(self, quantity: str, kind: str, layer: int, head: int) -> HeadSource | Any:
        """The tile source of a head, or of an aggregate (layer or head -1: the mean of the heads it
        covers, each part with its own log-sum-exp)."""
        if layer >= 0 and head >= 0:
            return QUANTITIES[quantity].head(self, kind, layer, head)
        n_layers, n_heads = self.capture.kind(kind).shape[:2]
        layers = range(n_layers) if layer < 0 else [layer]
        heads = range(n_heads) if head < 0 else [head]
        parts = [self.part(quantity, kind, ly, hd) for ly in layers for hd in heads]
        return MeanHead(parts, signed=QUANTITIES[quantity].signed)

    def part(self, quantity: str, kind: str, layer: int, head: int) -> Part:
        """A head's (or an aggregate's) source with its rows' log-sum-exp when it has logits."""
        source = self.source(quantity, kind, layer, head)
        if not source.logits:
            return source, None
        return source, self.engine.lse(self.key(quantity, kind, layer, head), source)

    def tile(
        self, quantity: str, kind: str, layer: int, head: int, window: Sequence[int], block: Sequence[int]
    ) -> tuple[Tile, float, bool]:
        """(tile, the head's peak for the colour scale, signed) of a window pooled into blocks."""
        with self.lock:
            source = self.source(quantity, kind, layer, head)
            key = self.key(quantity, kind, layer, head)
            tile = self.engine.tile(key, source, tuple(window), tuple(block))  # type: ignore[arg-type]
            sink = getattr(source, "sink", None)
            if sink is not None and tuple(block) == (1, 1):  # the sink's share of each row, for the tooltip
                lse = self.engine.lse(key, source)
                shares = torch_exp(sink - safe_lse(lse[window[0] : window[1]]))
                tile = dataclasses.replace(tile, sink=shares)
            peak = self.engine.peak(key)
        if peak is None:
            peak = float(np.abs(tile.values).max())
        return tile, peak, bool(source.signed)

    def mean_row(self, quantity: str, kind: str, layer: int, head: int, rows: list[int]) -> np.ndarray:
        """The mean of the query ``rows`` of a head (or aggregate), float32 (Nk,), exact."""
        with self.lock:
            return mean_rows(*self.part(quantity, kind, layer, head), rows)

    def matrix(self, quantity: str, kind: str, layer: int, head: int) -> np.ndarray:
        return QUANTITIES[quantity].matrix(self, kind, layer, head)

    def page_quantities(self, kind: str, shown: str = "attention") -> dict[str, QuantityMatrices]:
        """Every quantity offered (those made on request only when ``shown``), as matrices of
        ``kind``'s heads (``w.to_html``)."""
        return {
            q: QuantityMatrices(lambda l, h, q=q: self.matrix(q, kind, l, h), QUANTITIES[q].signed, self.version_of(q))
            for q in self.offered(kind)
            if q == shown or not QUANTITIES[q].on_request
        }

    def new_version(self) -> None:
        """The saliency target changed: versioned quantities start afresh."""
        self.version += 1
        self.engine.forget(lambda key: isinstance(key, HeadKey) and QUANTITIES[key.quantity].versioned)


def torch_exp(values: Any) -> np.ndarray:
    """exp of a torch tensor, as float32 numpy on the CPU."""
    return values.exp().float().cpu().numpy()
