"""The grid's numbers for one attention kind: estimated at once from a sample of query rows, then
refined head by head to exact values by a background worker.

Small inputs are computed exactly up front (below EXACT_CELLS every head costs milliseconds; heads
given as an array go a layer at a time through one batched pass, value_heads.py). Above
that the widget appears with estimates: each metric is a reduction over query rows (metrics.py),
so a stratified random sample of rows gives a mean with its standard error, or a lower bound for
a maximum. The worker then runs each head's full pass (tiles.py), which also caches the head's
log-sum-exp and base level, so a later click on a refined head shows its overview at once. It
steps aside whenever the kernel's main thread is answering the views (``Foreground``).
"""

from __future__ import annotations

import atexit
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .detectors import TokenIds
from .image_roles import ImageRoles
from .metrics import GRID_METRICS
from .row_stats import row_stats
from .value_heads import value_heads_row_stats

if TYPE_CHECKING:
    from ..capturing.result import Kind
    from .row_stats import RowStats
    from .tiles import TileEngine

#: At or below this many attention cells (layers x heads x Nq x Nk) every head is exact at once.
EXACT_CELLS = 1 << 26
#: Cells the estimate may touch (layers x heads x sampled rows x Nk): about 0.3 s on 2 cores.
ESTIMATE_CELLS = 1 << 26
MIN_SAMPLE, MAX_SAMPLE = 32, 256


class Foreground:
    """Counts work on the kernel's main thread; background work waits while there is any, and for
    ``quiet`` seconds after it (the page draws what the kernel just sent, and the next request of
    a burst is usually on its way)."""

    def __init__(self, quiet: float = 0.3) -> None:
        self._busy = 0
        self._last = -math.inf
        self.quiet = quiet
        self._cond = threading.Condition()

    def __enter__(self) -> Foreground:
        with self._cond:
            self._busy += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self._busy -= 1
            self._last = time.monotonic()
            self._cond.notify_all()

    def wait_idle(self, stop: threading.Event | None = None) -> None:
        with self._cond:
            while not (stop and stop.is_set()):
                rest = self._last + self.quiet - time.monotonic()
                if not self._busy and rest <= 0:
                    return
                self._cond.wait(0.05 if self._busy else min(0.05, rest))


def sample_rows(n_rows: int, m: int, seed: int = 0) -> np.ndarray:
    """``m`` query rows, one drawn at random from each of ``m`` equal strata (sorted)."""
    if m >= n_rows:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    edges = np.linspace(0, n_rows, m + 1)
    lo, hi = np.floor(edges[:-1]).astype(np.int64), np.floor(edges[1:]).astype(np.int64)
    return lo + (rng.random(m) * np.maximum(1, hi - lo)).astype(np.int64)


class GridScores:
    """Per-head metric values for one kind: exact where refined, estimated elsewhere."""

    def __init__(self, kind: Kind, engine: TileEngine, key: Callable[[int, int], Any]) -> None:
        self.kind = kind
        self.engine = engine
        self.key = key
        self.layers, self.heads, self.n_q, self.n_k = kind.shape
        self.square = kind.square
        self.ids = TokenIds(kind.keys.tokens) if self.square else None  # for the detectors
        self.images = ImageRoles.of(kind)  # for the image metrics
        self.exact = np.zeros((self.layers, self.heads), dtype=bool)
        self._exact_values = {m: np.zeros((self.layers, self.heads), dtype=np.float32) for m in GRID_METRICS}
        self._estimates = {m: np.zeros((self.layers, self.heads), dtype=np.float32) for m in GRID_METRICS}
        self._errors = {m: np.zeros((self.layers, self.heads), dtype=np.float32) for m in GRID_METRICS}
        self.sample_size = self.n_q
        self._lock = threading.Lock()

    @property
    def cells(self) -> int:
        return self.layers * self.heads * self.n_q * self.n_k

    @property
    def done(self) -> int:
        return int(self.exact.sum())

    @property
    def total(self) -> int:
        return self.layers * self.heads

    @property
    def complete(self) -> bool:
        return bool(self.exact.all())

    def estimate(self) -> None:
        """Estimates for every head from one sample of rows (the same rows for every head)."""
        per_row = self.layers * self.heads * self.n_k
        m = int(np.clip(ESTIMATE_CELLS // max(1, per_row), MIN_SAMPLE, MAX_SAMPLE))
        rows = sample_rows(self.n_q, m)
        self.sample_size = len(rows)
        for layer in range(self.layers):
            for head in range(self.heads):
                stats = row_stats(self.kind.source(layer, head), rows, square=self.square, ids=self.ids, images=self.images)
                for name, metric in GRID_METRICS.items():
                    value, error = metric.estimate(stats, self.n_q)
                    self._estimates[name][layer, head] = value
                    self._errors[name][layer, head] = error

    def refine(self, layer: int, head: int, pause: Callable[[], None] | None = None) -> None:
        """Exact values for one head (one full pass over its rows)."""
        if self.exact[layer, head]:
            return
        done = self.engine.full_pass(
            self.key(layer, head),
            self.kind.source(layer, head),
            metrics=True,
            square=self.square,
            ids=self.ids,
            images=self.images,
            pause=pause,
        )
        stats: RowStats | None = done.stats
        assert stats is not None
        with self._lock:
            for name, metric in GRID_METRICS.items():
                self._exact_values[name][layer, head] = metric.exact(stats)
            self.exact[layer, head] = True

    def refine_all(self) -> None:
        from ..capturing.result import ArrayKind

        if isinstance(self.kind, ArrayKind):  # heads given as values: a layer at a time
            for layer in range(self.layers):
                self._refine_layer_of_values(layer, self.kind.array[layer])
            return
        for layer in range(self.layers):
            for head in range(self.heads):
                self.refine(layer, head)

    def _refine_layer_of_values(self, layer: int, heads: np.ndarray) -> None:
        """Exact values for every head of ``layer`` not yet exact, from its (H, Nq, Nk) values in
        one batched pass per run of consecutive heads (views, never copies). Unlike ``refine``, it
        leaves nothing in the tile engine: a head's first tile makes its base level."""
        todo = np.flatnonzero(~self.exact[layer])
        for run in np.split(todo, np.flatnonzero(np.diff(todo) != 1) + 1) if todo.size else []:
            first, end = int(run[0]), int(run[-1]) + 1
            every = value_heads_row_stats(heads[first:end], square=self.square, ids=self.ids, images=self.images)
            with self._lock:
                for head, stats in zip(range(first, end), every, strict=True):
                    for name, metric in GRID_METRICS.items():
                        self._exact_values[name][layer, head] = metric.exact(stats)
                    self.exact[layer, head] = True

    def values(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, standard errors): exact values have error 0; a sampled maximum has NaN."""
        with self._lock:
            values = np.where(self.exact, self._exact_values[metric], self._estimates[metric]).astype(np.float32)
            errors = np.where(self.exact, 0.0, self._errors[metric]).astype(np.float32)
        return values, errors

    def exact_values(self, metric: str) -> np.ndarray:
        self.refine_all()
        return self._exact_values[metric].copy()


class Refiner:
    """A daemon thread refining ``grid`` head by head (``first`` tells which head goes next), and
    calling ``publish`` at most every ``interval`` seconds and once at the end."""

    def __init__(
        self,
        grid: GridScores,
        foreground: Foreground,
        first: Callable[[], tuple[int, int]],
        publish: Callable[[], None],
        interval: float = 0.5,
    ) -> None:
        self.grid = grid
        self.foreground = foreground
        self.first = first
        self.publish = publish
        self.interval = interval
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="attn-widget-grid", daemon=True)

    def start(self) -> Refiner:
        _running.add(self)
        self.thread.start()
        return self

    def _pause(self) -> None:
        self.foreground.wait_idle(self.stop)
        if self.stop.is_set():
            raise _Stopped

    def _next(self) -> tuple[int, int] | None:
        layer, head = self.first()
        if not self.grid.exact[layer, head]:
            return layer, head
        todo = np.argwhere(~self.grid.exact)
        return (int(todo[0][0]), int(todo[0][1])) if len(todo) else None

    def _run(self) -> None:
        # Half the cores at most (one on a 2-core laptop): the kernel's answers and the page's
        # drawing keep the rest. torch's intra-op thread count is per calling thread.
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
        last = time.monotonic()
        try:
            while not self.stop.is_set():
                head = self._next()
                if head is None:
                    break
                self.grid.refine(*head, pause=self._pause)
                if time.monotonic() - last >= self.interval:
                    self.publish()
                    last = time.monotonic()
        except _Stopped:
            return
        except BaseException as err:  # shown by the widget rather than lost in a thread
            self.error = err
        if not self.stop.is_set():
            self.publish()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)


class _Stopped(Exception):
    pass


_running: weakref.WeakSet[Refiner] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """A thread still inside torch when the interpreter exits aborts the process: stop first."""
    for refiner in list(_running):
        refiner.stop.set()
    for refiner in list(_running):
        refiner.join(10)
