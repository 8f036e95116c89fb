"""The grid's numbers for a kind that grows by rows at its end (a live generation).

Causal attention never changes a row once it exists: a new token adds a query row and a key
column that earlier rows cannot see. So each head keeps its rows' statistics (row_stats.py), new
rows are computed once and appended, and a metric is the same reduction over the rows as for any
capture (metrics.py): exact over every row computed so far, no earlier row computed again. Until
the rows have caught up with the positions, the values are over the rows done (an estimate with
no standard error) and no head is marked exact.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from .detectors import TokenIds
from .image_roles import ImageRoles
from .metrics import GRID_METRICS
from .row_stats import RowStats, heads_row_stats

if TYPE_CHECKING:
    from ..capturing.result import Kind

#: Rows of every head computed per step of ``catch_up`` (a long prompt goes in pieces), and at
#: most this many cells of every head at once (a 16 MB float32 block).
CHUNK_ROWS = 128
CHUNK_CELLS = 1 << 22
#: At most this many cells (heads x rows x keys) are computed on a reader's thread (grid_scores.EXACT_CELLS).
SYNC_CELLS = 1 << 26


def _joined(a: RowStats | None, b: RowStats) -> RowStats:
    if a is None:
        return b
    columns = None
    if a.columns is not None and b.columns is not None:
        width = max(len(a.columns), len(b.columns))
        columns = np.zeros(width, dtype=np.float64)
        columns[: len(a.columns)] += a.columns
        columns[: len(b.columns)] += b.columns
    return RowStats(
        np.concatenate([a.rows, b.rows]),
        np.concatenate([a.entropy, b.entropy]),
        np.concatenate([a.max_off, b.max_off]),
        {name: np.concatenate([a.detectors[name], b.detectors[name]]) for name in a.detectors},
        columns,
    )


class GrowingGrid:
    """Per-head metric values of a growing kind, exact over the rows computed (``rows_done``)."""

    def __init__(self, kind: Kind) -> None:
        self.layers, self.heads = kind.shape[:2]
        self._kind = kind
        self.rows_done = 0
        self._stats: list[list[RowStats | None]] = [[None] * self.heads for _ in range(self.layers)]
        self._values = {m: np.zeros((self.layers, self.heads), dtype=np.float32) for m in GRID_METRICS}
        self._stale: set[str] = set()  # metrics whose values predate the last rows (made when asked)
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- the shape it has now
    @property
    def kind(self) -> Kind:
        return self._kind

    @property
    def n_q(self) -> int:
        return self._kind.shape[2]

    @property
    def n_k(self) -> int:
        return self._kind.shape[3]

    def grow(self, kind: Kind) -> None:
        """The kind has more positions (the same layers and heads, earlier rows unchanged)."""
        if kind.shape[:2] != (self.layers, self.heads) or kind.shape[2] < self.rows_done:
            raise ValueError(f"a growing grid of {self._kind.shape} cannot become {kind.shape}")
        with self._lock:
            self._kind = kind

    # ----------------------------------------------------------------- computing rows
    def catch_up(self, max_rows: int | None = None) -> int:
        """Compute the rows not yet done (at most ``max_rows``, in chunks); returns how many."""
        with self._lock:
            kind = self._kind
            todo = kind.shape[2] - self.rows_done
            if max_rows is not None:
                todo = min(todo, max_rows)
            done = 0
            chunk = max(1, min(CHUNK_ROWS, CHUNK_CELLS // max(1, self.layers * self.heads * kind.shape[3])))
            while done < todo:
                start = self.rows_done
                rows = np.arange(start, start + min(chunk, todo - done))
                self._add_rows(kind, rows)
                self.rows_done = int(rows[-1]) + 1
                done += len(rows)
            return done

    def _add_rows(self, kind: Kind, rows: np.ndarray) -> None:
        square = kind.square
        ids = TokenIds(kind.keys.tokens) if square else None
        images = ImageRoles.of(kind)
        # every head at once (per device: a model split by device_map keeps each layer where it
        # ran): one pass of the detectors a step, not one a head
        by_device: dict[str, list[tuple[int, int, Any]]] = {}
        for layer in range(self.layers):
            for head in range(self.heads):
                source = kind.source(layer, head)
                by_device.setdefault(str(source.device), []).append((layer, head, source))
        for heads in by_device.values():
            every = heads_row_stats([source for _, _, source in heads], rows, square=square, ids=ids, images=images)
            for (layer, head, _), stats in zip(heads, every, strict=True):
                self._stats[layer][head] = _joined(self._stats[layer][head], stats)
        self._stale = set(GRID_METRICS)

    def _reduced(self, metric: str) -> np.ndarray:
        """The metric's values over the rows done (under the lock): reduced only when asked, so a
        step costs one metric (the one shown), not every metric of the control."""
        if metric in self._stale:
            reduce = GRID_METRICS[metric].exact
            for layer, heads in enumerate(self._stats):
                for head, stats in enumerate(heads):
                    if stats is not None:
                        self._values[metric][layer, head] = reduce(stats)
            self._stale.discard(metric)
        return self._values[metric]

    # ----------------------------------------------------------------- what GridScores answers
    @property
    def complete(self) -> bool:
        return self.rows_done >= self.n_q

    @property
    def exact(self) -> np.ndarray:
        return np.full((self.layers, self.heads), self.complete and self.rows_done > 0)

    @property
    def sample_size(self) -> int:
        return self.rows_done

    @property
    def done(self) -> int:
        return int(self.exact.sum())

    @property
    def total(self) -> int:
        return self.layers * self.heads

    @property
    def cells(self) -> int:
        return self.layers * self.heads * self.n_q * self.n_k

    def values(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        # rows the live feed has not reached yet (or a kind it never grows): made here when they
        # are few; a long prompt's are left to the feed, and the values say they are partial
        if not self.complete and self.layers * self.heads * (self.n_q - self.rows_done) * self.n_k <= SYNC_CELLS:
            self.catch_up()
        with self._lock:
            values = self._reduced(metric).copy()
            errors = np.zeros_like(values) if self.complete else np.full_like(values, np.nan)
        return values, errors

    def exact_values(self, metric: str) -> np.ndarray:
        self.catch_up()
        return self.values(metric)[0]

    def refine_all(self) -> None:
        self.catch_up()

    def refine(self, layer: int, head: int, pause: Any = None) -> None:
        self.catch_up()
