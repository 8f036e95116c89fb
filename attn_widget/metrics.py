"""Per-head summaries that colour the layer x head grid: each maps every head of one attention
kind to a number, (L, H) float32.

The grid is a search tool: a low-entropy head attends sharply, a high max-off-diagonal head has
found some token other than the first one (often a sink) and itself to look at. Heads are taken a
few at a time (``Kind.heads``), so a capture at thousands of tokens never holds more than a small
block of N x N matrices.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from .captured import Kind

#: Work on at most this many bytes of attention weights at once (per worker).
BLOCK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class GridMetric:
    """One choice in the grid's metric control: a stable id, the label shown, how it is computed
    from a block of heads (h, Nq, Nk) -> (h,)."""

    id: str
    label: str
    description: str
    score_block: Callable[[np.ndarray, bool], np.ndarray]

    def compute(self, kind: "Kind") -> np.ndarray:
        return per_head(kind, self.score_block)


_TINY = np.finfo(np.float32).tiny


def per_head(kind: "Kind", score_block: Callable[[np.ndarray, bool], np.ndarray]) -> np.ndarray:
    """``score_block`` over every head of ``kind``, as (L, H) float32, in blocks of heads that fit
    BLOCK_BYTES, on a small thread pool (numpy and torch release the GIL)."""
    layers, heads, n_q, n_k = kind.shape
    square = kind.id in ("self", "encoder", "decoder") and n_q == n_k
    per_block = max(1, min(heads, BLOCK_BYTES // max(1, n_q * n_k * 4)))
    jobs = [(layer, h0, min(heads, h0 + per_block)) for layer in range(layers) for h0 in range(0, heads, per_block)]
    out = np.empty((layers, heads), dtype=np.float64)

    def run(job: tuple[int, int, int]) -> None:
        layer, h0, h1 = job
        out[layer, h0:h1] = score_block(kind.heads(layer, slice(h0, h1)), square)

    workers = max(1, min(4, os.cpu_count() or 1))
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            run(job)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, jobs))
    return out.astype(np.float32)


def _entropy_block(block: np.ndarray, square: bool) -> np.ndarray:
    # 0 log 0 = 0: a zero weight times the log of the smallest normal float is still zero.
    terms = np.log(np.maximum(block, _TINY))
    terms *= block
    return -terms.sum(axis=-1, dtype=np.float64).mean(axis=-1)


def _max_off_diagonal_block(block: np.ndarray, square: bool) -> np.ndarray:
    n_q, n_k = block.shape[-2:]
    keep = np.ones((n_q, n_k), dtype=bool)
    keep[:, 0] = False
    if square:
        np.fill_diagonal(keep, False)
    if not keep.any():
        return np.zeros(block.shape[0])
    return np.array([np.max(head, where=keep, initial=-np.inf) for head in block])


GRID_METRICS: dict[str, GridMetric] = {
    m.id: m
    for m in (
        GridMetric(
            "entropy",
            "entropy (nats, mean over queries)",
            "Entropy of each query row, averaged over queries: low = sharp, focused head.",
            _entropy_block,
        ),
        GridMetric(
            "max_attention",
            "max attention (excl. first token & diagonal)",
            "Largest weight once the first token and self-attention are left out.",
            _max_off_diagonal_block,
        ),
    )
}


def _array_kind(attention: np.ndarray) -> "Kind":
    from .captured import ArrayKind, Axis

    n_q, n_k = attention.shape[-2:]
    return ArrayKind("self", np.asarray(attention, dtype=np.float32), Axis.of([""] * n_q), Axis.of([""] * n_k))


def mean_row_entropy(attention: np.ndarray) -> np.ndarray:
    """Entropy of each query's attention distribution in nats (0 log 0 = 0), mean over queries,
    for an (L, H, N, N) array."""
    return GRID_METRICS["entropy"].compute(_array_kind(attention))


def max_off_diagonal(attention: np.ndarray) -> np.ndarray:
    """Largest weight with the first token (column 0) and the diagonal left out, for an
    (L, H, N, N) array; 0 if none remain."""
    return GRID_METRICS["max_attention"].compute(_array_kind(attention))
