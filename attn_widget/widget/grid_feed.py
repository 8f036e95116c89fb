"""What colours the grid, kept fed: the metrics a widget offers (by its mode), their values for
the kind shown (estimated first on long inputs, made exact by a background ``Refiner``), and the
``_grid_scores`` payload the page draws.

Three families of metrics, each a plain object: attention metrics (``engine/metrics.py``: entropy,
max attention, the detectors), saliency metrics (an explained prediction's head importance and
saliency flow) and comparison metrics (how two runs' heads differ). Which families a widget has
follows from its mode (``engine/sources.py``), decided once, here.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..attribution.saliency_cache import SALIENCY_METRICS
from ..capturing.result import Kind
from ..engine.comparison import COMPARE_METRICS
from ..engine.grid_scores import EXACT_CELLS, Foreground, GridScores, Refiner
from ..engine.growing_grid import GrowingGrid
from ..engine.metrics import GRID_METRICS
from ..engine.sources import COMPARISON, PLAIN, SALIENCY, HeadKey, Sources
from ..wire.payloads import scores_payload
from .state import WidgetState

Span = tuple[int, int] | None
Option = dict[str, str]


class AttentionMetrics:
    """Entropy, max attention and the head detectors, from each head's per-row statistics."""

    uses_span = False

    def __init__(self, sources: Sources, foreground: Foreground) -> None:
        self._sources = sources
        self._foreground = foreground
        self._grids: dict[str, GridScores | GrowingGrid] = {}
        self._refiner: Refiner | None = None

    def ids(self) -> set[str]:
        return set(GRID_METRICS)

    def options(self, kind: Kind) -> list[Option]:
        return [{"id": m.id, "label": m.label, "description": m.description} for m in GRID_METRICS.values() if m.offered(kind)]

    def grid(self, kind: str) -> GridScores | GrowingGrid:
        if kind not in self._grids and self._sources.capture.growing:  # rows computed as they come
            self._grids[kind] = GrowingGrid(self._sources.capture.kind(kind))
        if kind not in self._grids:
            grid = GridScores(
                self._sources.capture.kind(kind), self._sources.engine, lambda l, h: HeadKey("attention", kind, l, h)
            )
            if grid.cells <= EXACT_CELLS:
                grid.refine_all()
            else:
                grid.estimate()
            self._grids[kind] = grid
        return self._grids[kind]

    def values(self, metric: str, kind: Kind, span: Span, *, exact: bool) -> np.ndarray:
        grid = self.grid(kind.id)
        if not exact:
            return grid.values(metric)[0]
        if self._refiner is not None and self._refiner.grid is grid:
            self._refiner.join()
        return grid.exact_values(metric)

    def payload(self, metric: str, kind: Kind, span: Span) -> dict[str, Any]:
        grid = self.grid(kind.id)
        values, errors = grid.values(metric)
        return scores_payload(
            kind.id, metric, values, rows=grid.n_q, errors=errors, exact_heads=grid.exact, sample=grid.sample_size
        )

    def start(self, kind: str, first: Callable[[], tuple[int, int]], publish: Callable[[], None]) -> None:
        grid = self.grid(kind)
        if not grid.complete and isinstance(grid, GridScores):
            self._refiner = Refiner(grid, self._foreground, first, publish).start()

    def stop(self) -> None:
        if self._refiner is not None:
            self._refiner.stop.set()
            self._refiner.join()
            self._refiner = None

    def wait(self, timeout: float | None) -> bool:
        """Wait for the refiner; True when one ran and has finished."""
        if self._refiner is None:
            return False
        self._refiner.join(timeout)
        return not self._refiner.thread.is_alive()

    def progress(self, kind: str) -> tuple[int, int]:
        grid = self.grid(kind)
        return grid.done, grid.total


class _ExactMetrics:
    """A family computed whole, in one go: nothing to refine."""

    uses_span = False
    table: dict[str, tuple[str, str]] = {}

    def ids(self) -> set[str]:
        return set(self.table)

    def options(self, kind: Kind) -> list[Option]:
        return [{"id": k, "label": label, "description": d} for k, (label, d) in self.table.items()]

    def values(self, metric: str, kind: Kind, span: Span, *, exact: bool) -> np.ndarray:
        raise NotImplementedError

    def payload(self, metric: str, kind: Kind, span: Span) -> dict[str, Any]:
        return scores_payload(kind.id, metric, self.values(metric, kind, span, exact=True), rows=kind.shape[2])


class SaliencyMetrics(_ExactMetrics):
    """Head importance and saliency flow into the target row (``attribution/saliency_cache.py``)."""

    uses_span = True  # saliency flow sums over the keys of a span
    table = SALIENCY_METRICS

    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def options(self, kind: Kind) -> list[Option]:
        return super().options(kind) if kind.id == self._sources.saliency_cache().kind else []

    def values(self, metric: str, kind: Kind, span: Span, *, exact: bool) -> np.ndarray:
        return self._sources.saliency_cache().grid(metric, span)


class CompareMetrics(_ExactMetrics):
    """How each head differs between two runs (``engine/comparison.py``)."""

    table = COMPARE_METRICS

    def __init__(self, sources: Sources) -> None:
        self._sources = sources

    def values(self, metric: str, kind: Kind, span: Span, *, exact: bool) -> np.ndarray:
        return self._sources.runs().scores(metric, kind.id, self._sources.run_lse(kind.id))


Family = AttentionMetrics | SaliencyMetrics | CompareMetrics


class GridFeed:
    """The grid's metrics for one widget and the payload of the one shown."""

    def __init__(self, widget: WidgetState, sources: Sources, foreground: Foreground) -> None:
        self._widget = widget
        self._sources = sources
        attention = AttentionMetrics(sources, foreground)
        self.families: list[Family] = {
            PLAIN: [attention],
            SALIENCY: [attention, SaliencyMetrics(sources)],
            COMPARISON: [CompareMetrics(sources)],
        }[sources.mode]
        #: The attention metrics, which every widget can compute (``w.tile``, progress) even when its
        #: grid offers others.
        self.attention = attention
        self._lock = threading.Lock()
        widget.observe(self._metric_changed, names=["grid_metric", "flow_span"])
        try:  # a kernel runs cells inside its event loop: the grid worker hands results to it
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    # ----------------------------------------------------------------- what is offered
    def options(self, kind: str) -> list[Option]:
        k = self._sources.capture.kind(kind)
        return [option for family in self.families for option in family.options(k)]

    def ids(self, kind: str) -> list[str]:
        return [o["id"] for o in self.options(kind)]

    def _family(self, metric: str) -> Family:
        return next(f for f in self.families if metric in f.ids())

    # ----------------------------------------------------------------- values
    def scores(self, metric: str, kind: str, span: Span, *, exact: bool = True) -> np.ndarray:
        if metric not in self.ids(kind):
            raise ValueError(f"metric must be one of {self.ids(kind)} for kind {kind!r}, got {metric!r}")
        return self._family(metric).values(metric, self._sources.capture.kind(kind), span, exact=exact)

    def payload(self, metric: str, kind: str, span: Span, *, exact: bool = False) -> dict[str, Any]:
        """The ``what="scores"`` payload; ``exact=True`` waits for (or computes) every exact value."""
        k = self._sources.capture.kind(kind)
        if exact:
            return scores_payload(kind, metric, self.scores(metric, kind, span), rows=k.shape[2])
        return self._family(metric).payload(metric, k, span)

    def page_grids(self, kind: str, spans: list[str], span_of: Callable[[str], Span]) -> dict[str, Any]:
        """Every grid colour the control offers, exact, keyed "metric|span name" (the span matters only
        for metrics that sum over one): what an offline page needs to switch metrics alone."""
        out = {}
        for metric in self.ids(kind):
            for name in [""] + spans if self._family(metric).uses_span else [""]:
                out[f"{metric}|{name}"] = self.payload(metric, kind, span_of(name), exact=True)
        return out

    # ----------------------------------------------------------------- the page's copy
    def send(self) -> None:
        """Put the shown metric's payload in ``_grid_scores`` (from any thread)."""
        w = self._widget
        with self._lock:
            w.set_trait("_grid_scores", self.payload(w.grid_metric, w.kind, w.span_range()))

    def _metric_changed(self, change: dict[str, Any]) -> None:
        if self._widget.n_layers:
            self.send()

    def publish(self) -> None:
        """From the grid worker: hand the new scores to the kernel's loop when there is one."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self.send)
        else:
            self.send()

    # ----------------------------------------------------------------- background refinement
    def start(self, kind: str) -> None:
        """Refine the grid of ``kind`` in the background, the selected head first."""
        if self.attention in self.families:
            w = self._widget
            self.attention.start(kind, lambda: (max(0, w.layer), max(0, w.head)), self.publish)

    def stop(self) -> None:
        self.attention.stop()

    def wait(self, kind: str, timeout: float | None = None) -> bool:
        """Wait for the background refinement; True when every score of ``kind`` is exact."""
        if self.attention.wait(timeout):
            self.publish()
        done, total = self.attention.progress(kind)
        return done == total
