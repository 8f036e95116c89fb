"""Per-head summaries that colour the layer x head grid. Each maps (L, H, N, N) -> (L, H) float32.

The grid is a search tool: a low-entropy head attends sharply, a high max-off-diagonal head has
found some token other than the first one (often a sink) and itself to look at.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class GridMetric:
    """One choice in the grid's metric control: a stable id, the label shown, how it is computed."""

    id: str
    label: str
    description: str
    compute: Callable[[np.ndarray], np.ndarray]


_TINY = np.finfo(np.float32).tiny


def per_head(attention: np.ndarray, score: Callable[[np.ndarray], float]) -> np.ndarray:
    """``score`` of every head's (N, N) matrix, as (L, H) float32. Heads run on a small thread pool
    (numpy releases the GIL), one head at a time per thread so temporary memory stays at N x N."""
    layers, heads = attention.shape[:2]
    out = np.empty((layers, heads), dtype=np.float64)

    def one(index: int) -> None:
        layer, head = divmod(index, heads)
        out[layer, head] = score(attention[layer, head])

    workers = max(1, min(4, os.cpu_count() or 1))
    if workers == 1 or layers * heads == 1:
        for index in range(layers * heads):
            one(index)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(layers * heads)))
    return out.astype(np.float32)


def _row_entropy(a: np.ndarray) -> float:
    # 0 log 0 = 0: a zero weight times the log of the smallest normal float is still zero.
    terms = np.log(np.maximum(a, _TINY))
    terms *= a
    return float(-terms.sum(axis=-1, dtype=np.float64).mean())


def mean_row_entropy(attention: np.ndarray) -> np.ndarray:
    """Entropy of each query's attention distribution in nats (0 log 0 = 0), mean over queries."""
    return per_head(attention, _row_entropy)


def max_off_diagonal(attention: np.ndarray) -> np.ndarray:
    """Largest weight with the first token (column 0) and the diagonal left out; 0 if none remain."""
    n = attention.shape[-1]
    if n < 2:
        return np.zeros(attention.shape[:2], dtype=np.float32)

    keep = ~np.eye(n, dtype=bool)
    keep[:, 0] = False

    def score(a: np.ndarray) -> float:
        return float(np.max(a, where=keep, initial=-np.inf))

    return per_head(attention, score)


GRID_METRICS: dict[str, GridMetric] = {
    m.id: m
    for m in (
        GridMetric(
            "entropy",
            "entropy (nats, mean over queries)",
            "Entropy of each query row, averaged over queries: low = sharp, focused head.",
            mean_row_entropy,
        ),
        GridMetric(
            "max_attention",
            "max attention (excl. first token & diagonal)",
            "Largest weight once the first token and self-attention are left out.",
            max_off_diagonal,
        ),
    )
}
