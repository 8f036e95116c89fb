"""Per-head summaries that colour the layer x head grid. Each maps (L, H, N, N) -> (L, H) float32.

The grid is a search tool: a low-entropy head attends sharply, a high max-off-diagonal head has
found some token other than the first one (often a sink) and itself to look at.
"""

from __future__ import annotations

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


def mean_row_entropy(attention: np.ndarray) -> np.ndarray:
    """Entropy of each query's attention distribution in nats (0 log 0 = 0), mean over queries."""
    out = np.empty(attention.shape[:2], dtype=np.float64)
    for layer in range(attention.shape[0]):  # one layer at a time bounds the temporary memory
        a = attention[layer].astype(np.float64)
        logs = np.zeros_like(a)
        np.log(a, out=logs, where=a > 0)
        out[layer] = -(a * logs).sum(axis=-1).mean(axis=-1)
    return out.astype(np.float32)


def max_off_diagonal(attention: np.ndarray) -> np.ndarray:
    """Largest weight with the first token (column 0) and the diagonal left out; 0 if none remain."""
    n = attention.shape[-1]
    keep = ~np.eye(n, dtype=bool)
    keep[:, 0] = False
    if not keep.any():
        return np.zeros(attention.shape[:2], dtype=np.float32)
    out = np.empty(attention.shape[:2], dtype=np.float32)
    for layer in range(attention.shape[0]):
        out[layer] = attention[layer][:, keep].max(axis=-1)
    return out


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
