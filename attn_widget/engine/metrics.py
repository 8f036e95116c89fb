"""Per-head summaries that colour the layer x head grid: each reduces a head's per-row statistics
(tiles.RowStats: every row after a full pass, or a sample of rows) to one number.

The grid is a search tool: a low-entropy head attends sharply, a high max-off-diagonal head has
found some token other than the first one (often a sink) and itself to look at. Because every
metric is a reduction over query rows, a sample of rows gives an honest estimate (a mean with its
standard error, or a maximum that is a lower bound) long before every row has been seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..capturing.head_source import ValueHead
from .detectors import LOCAL_WINDOW
from .image_roles import ImageRoles, sink_share
from .tiles import TileEngine

if TYPE_CHECKING:
    from ..capturing.result import Kind
    from .row_stats import RowStats


@dataclass(frozen=True)
class GridMetric:
    """One choice in the grid's metric control: a stable id, the label shown, and how it reduces
    the rows: ``field`` of RowStats, reduced by ``reduce`` over query rows. Rows where the
    quantity is not defined (NaN: a detector's row without an earlier copy) are left out; a head
    with no such row has no value (NaN). ``square_only``: defined for self-attention only.
    ``images``: defined where the kind's keys hold image patches (``"keys"``), and its queries
    too (``"queries"``). ``reduce="share"`` reads the head's image columns (image_roles.py)."""

    id: str
    label: str
    description: str
    field: str  # "entropy", "max_off", a detector (detectors.DETECTORS) or an image field (image_roles.py)
    reduce: Literal["mean", "max", "share"]
    square_only: bool = False
    images: Literal["keys", "queries"] | None = None

    def offered(self, kind: Kind) -> bool:
        """Whether the grid offers this metric for ``kind``."""
        if self.square_only and not kind.square:
            return False
        if self.images is None:
            return True
        roles = ImageRoles.of(kind)
        return roles is not None and (self.images == "keys" or bool(roles.image_queries.any()))

    def exact(self, stats: RowStats) -> float:
        if self.reduce == "share":
            return sink_share(stats.columns)
        rows = np.asarray(stats.field(self.field), dtype=np.float64)
        rows = rows[~np.isnan(rows)]
        if rows.size == 0:
            return float("nan") if self.square_only or self.images else 0.0
        return float(rows.mean()) if self.reduce == "mean" else float(max(0.0, rows.max()))

    def estimate(self, stats: RowStats, n_rows: int) -> tuple[float, float]:
        """(value, standard error) from a sample of rows drawn without replacement from n_rows.
        A maximum over a sample is a lower bound: its standard error is reported as NaN."""
        value = self.exact(stats)
        m = len(stats.rows)
        if self.reduce != "mean":  # a sampled maximum is a lower bound; a share, a ratio of sums
            return value, float("nan") if m < n_rows else 0.0
        rows = np.asarray(stats.field(self.field), dtype=np.float64)
        rows = rows[~np.isnan(rows)]
        if m >= n_rows or rows.size < 2:
            return value, 0.0
        finite_population = np.sqrt(max(0.0, 1.0 - m / n_rows))
        return value, float(rows.std(ddof=1) / np.sqrt(rows.size) * finite_population)


GRID_METRICS: dict[str, GridMetric] = {
    m.id: m
    for m in (
        GridMetric(
            "entropy",
            "entropy (nats, mean over queries)",
            "Entropy of each query row, averaged over queries: low = sharp, focused head.",
            "entropy",
            "mean",
        ),
        GridMetric(
            "max_attention",
            "max attention (excl. first token & diagonal)",
            "Largest weight once the first token and self-attention are left out.",
            "max_off",
            "max",
        ),
        GridMetric(
            "previous_token",
            "previous token (mean weight on i-1)",
            "Weight each query puts on the token just before it, averaged over queries 1..N-1.",
            "previous",
            "mean",
            True,
        ),
        GridMetric(
            "duplicate_token",
            "duplicate token (weight on earlier copies)",
            "Weight each query puts on earlier copies of its own token, averaged over queries that have one.",
            "duplicate",
            "mean",
            True,
        ),
        GridMetric(
            "induction",
            "induction (weight on the token after an earlier copy)",
            "Weight each query puts on the tokens that followed earlier copies of its own token, averaged over "
            "queries that have one. Try AttentionWidget.induction_probe(model, tokenizer).",
            "induction",
            "mean",
            True,
        ),
        GridMetric(
            "first_token",
            "first token / sink (mean weight on position 0)",
            "Weight each query puts on the first token, averaged over queries: heads that park attention there.",
            "first",
            "mean",
            True,
        ),
        GridMetric(
            "local",
            f"local (weight within {LOCAL_WINDOW} positions)",
            f"Weight each query puts on keys at most {LOCAL_WINDOW} positions away (itself included), averaged over queries.",
            "local",
            "mean",
            True,
        ),
        GridMetric(
            "text_to_image",
            "text → image (mean weight on image tokens)",
            "Weight each query that is not an image patch (words, special tokens, a ViT's CLS) puts on the "
            "image's tokens, averaged over those queries: heads that read the picture.",
            "text_to_image",
            "mean",
            images="keys",
        ),
        GridMetric(
            "image_to_text",
            "image → text (mean weight on other tokens)",
            "Weight each image patch puts on tokens that are not patches (words, CLS, registers), averaged over patches.",
            "image_to_text",
            "mean",
            images="queries",
        ),
        GridMetric(
            "visual_sink",
            "visual sink (share of image weight on one patch)",
            "Of all the weight a head puts on image tokens (summed over every query), the share that lands on its single "
            "most-attended patch: near 1 = the head parks its attention there (a sink); a head that looks at a different "
            "patch from each word scores low.",
            "visual_sink",
            "share",
            images="keys",
        ),
    )
}


def _every_head(attention: np.ndarray, metric: GridMetric) -> np.ndarray:
    array = np.asarray(attention, dtype=np.float32)
    layers, heads = array.shape[:2]
    out = np.empty((layers, heads), dtype=np.float32)
    engine = TileEngine()
    for layer in range(layers):
        for head in range(heads):
            done = engine.full_pass(
                (layer, head),
                ValueHead(array[layer, head]),
                metrics=True,
                square=array.shape[-1] == array.shape[-2],
            )
            assert done.stats is not None
            out[layer, head] = metric.exact(done.stats)
    return out


def mean_row_entropy(attention: np.ndarray) -> np.ndarray:
    """Entropy of each query's attention distribution in nats (0 log 0 = 0), mean over queries,
    for an (L, H, N, N) array."""
    return _every_head(attention, GRID_METRICS["entropy"])


def max_off_diagonal(attention: np.ndarray) -> np.ndarray:
    """Largest weight with the first token (column 0) and the diagonal left out, for an
    (L, H, N, N) array; 0 if none remain."""
    return _every_head(attention, GRID_METRICS["max_attention"])
