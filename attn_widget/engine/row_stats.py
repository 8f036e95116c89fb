"""Per query row statistics of a head: entropy, the largest weight off the sink and the diagonal,
and the head detectors (detectors.py). The grid's metrics reduce them (metrics.py); the exact pass
gets them from the tile engine's full pass (tiles.py), an estimate from ``row_stats`` on sampled
rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..capturing.head_source import HeadSource, fill_heads
from .detectors import TokenIds, detector_rows
from .image_roles import IMAGE_FIELDS, ImageRoles
from .scratch import scratch

if TYPE_CHECKING:
    import torch


@dataclass
class RowStats:
    """Per query row: entropy (nats), largest weight off the first key and the diagonal, and the
    head detectors (detectors.py) and image shares (image_roles.py; NaN where one is not
    defined). ``rows`` are the query indices these belong to; ``columns`` the weight these rows
    put on each image key, summed over the rows (None without image tokens)."""

    rows: np.ndarray
    entropy: np.ndarray
    max_off: np.ndarray
    detectors: dict[str, np.ndarray]
    columns: np.ndarray | None = None

    def field(self, name: str) -> np.ndarray:
        return self.detectors[name] if name in self.detectors else getattr(self, name)


def row_max(logits: torch.Tensor, source: Any) -> torch.Tensor:
    """Each row's largest logit (N, 1), 0 for a row with none, never below the head's sink logit
    (so the sink's shifted exp is at most 1)."""
    import torch

    m = logits.amax(-1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    sink = getattr(source, "sink", None)
    return m if sink is None else m.clamp(min=sink)


def sink_terms(source: Any, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """For a head with a sink (gpt-oss): per row, exp(sink - m) and sink - m, the sink's part of
    the softmax denominator and of the entropy sum; None for a head without one. Entropies then
    count the sink as one more outcome of the row's distribution."""
    import torch

    sink = getattr(source, "sink", None)
    if sink is None:
        return None
    shifted = sink - m[..., 0]
    return torch.exp(shifted), shifted


def safe_lse(lse: torch.Tensor) -> torch.Tensor:
    """A row that may attend to nothing has lse = -inf; +inf instead makes all its weights 0."""
    import torch

    return torch.where(torch.isneginf(lse), torch.full_like(lse, float("inf")), lse)


def max_off_logits(logits: torch.Tensor, rows: int | torch.Tensor, square: bool) -> torch.Tensor:
    """Per row, the largest score off the first key and (square kinds) the diagonal. ``rows``:
    the query index of the first row (contiguous rows) or of every row. ``logits`` (..., c, kk):
    leading axes (several heads) share the rows."""
    import torch

    *lead, c, kk = logits.shape
    if kk <= 1:
        return torch.full((*lead, c), float("-inf"), device=logits.device)
    saved_first = logits[..., 0].clone()
    logits[..., 0] = float("-inf")
    diag_rows = torch.arange(c, device=logits.device)
    diag_cols = diag_rows + rows if isinstance(rows, int) else rows.to(logits.device)
    inside = diag_cols < kk
    saved_diag = None
    if square and bool(inside.any()):
        saved_diag = logits[..., diag_rows[inside], diag_cols[inside]].clone()
        logits[..., diag_rows[inside], diag_cols[inside]] = float("-inf")
    out = logits.amax(-1)
    # restore in reverse order: row 0's diagonal cell is also the first key, saved as -inf above
    if saved_diag is not None:
        logits[..., diag_rows[inside], diag_cols[inside]] = saved_diag
    logits[..., 0] = saved_first
    return out


_TINY = np.finfo(np.float32).tiny


def entropy_rows(block: np.ndarray) -> np.ndarray:
    """-sum w log w per row (0 log 0 = 0), float64 sums."""
    terms = np.log(np.maximum(block, _TINY))
    terms *= block
    return -terms.sum(axis=-1, dtype=np.float64)


def max_off_values(block: np.ndarray, r0: int, square: bool) -> np.ndarray:
    c, n_k = block.shape[-2:]  # leading axes: several heads at once
    keep = np.ones((c, n_k), dtype=bool)
    keep[:, 0] = False
    if square:
        rows = np.arange(c)
        inside = rows + r0 < n_k
        keep[rows[inside], rows[inside] + r0] = False
    return np.max(block, axis=-1, where=keep, initial=-np.inf).astype(np.float32)


def role_rows(
    w: torch.Tensor, z: torch.Tensor | None, rows: torch.Tensor, ids: TokenIds | None, images: ImageRoles | None
) -> dict[str, np.ndarray]:
    """The detectors and the image shares of a block of rows (``w`` as in detectors.detector_rows)."""
    found = detector_rows(w, z, rows, ids)
    if images is None:
        found.update({name: np.full(w.shape[:-1], np.nan) for name in IMAGE_FIELDS})
    else:
        found.update(images.rows(w, z, rows))
    return found


def row_stats(
    source: HeadSource, rows: np.ndarray, *, square: bool, ids: TokenIds | None = None, images: ImageRoles | None = None
) -> RowStats:
    """Every row metric of the query ``rows`` only (a sample)."""
    return heads_row_stats([source], rows, square=square, ids=ids, images=images)[0]


def heads_row_stats(
    sources: Sequence[HeadSource],
    rows: np.ndarray,
    *,
    square: bool,
    ids: TokenIds | None = None,
    images: ImageRoles | None = None,
) -> list[RowStats]:
    """``row_stats`` of several heads of one layer (same keys, same device) at once: one pass of
    the detectors over a (heads, rows, keys) block instead of one per head, which is what a
    growing grid pays at every step."""
    import torch

    if len(sources) > 1 and any(getattr(source, "sink", None) is not None for source in sources):
        # heads with sinks (each its own logit) one by one
        return [heads_row_stats([source], rows, square=square, ids=ids, images=images)[0] for source in sources]
    id_tensor = ids if square else None
    first = sources[0]
    h = len(sources)
    with torch.no_grad():
        idx = torch.as_tensor(rows, dtype=torch.long, device=first.device)
        r0, r1 = int(rows.min()), int(rows.max()) + 1  # keys no row of any head may see are skipped
        kk = max(source.key_limit(r0, r1) for source in sources)
        kk = max(kk, 1)
        buf = scratch.get(first.device, 2, h * len(rows), kk).view(h, len(rows), kk)
        fill_heads(list(sources), buf, idx, 0, kk)
        if not first.logits:
            block = buf.cpu().numpy()
            offs = np.concatenate([max_off_values(block[:, i : i + 1], int(r), square) for i, r in enumerate(rows)], axis=-1)
            columns = None if images is None else images.columns(buf, None)
            return _per_head(rows, entropy_rows(block), offs, role_rows(buf, None, idx, id_tensor, images), columns)
        off = max_off_logits(buf, idx, square)
        m = row_max(buf, first)
        buf.sub_(m).clamp_(min=-120.0)
        sink = sink_terms(first, m)
        e = torch.exp(buf)
        z = e.sum(-1) if sink is None else e.sum(-1) + sink[0]
        found = role_rows(e, z, idx, id_tensor, images)
        columns = None if images is None else images.columns(e, z)
        et = e.mul_(buf).sum(-1) if sink is None else e.mul_(buf).sum(-1) + sink[0] * sink[1]
        ent = torch.where(z > 0, torch.log(z) - et / z, torch.zeros_like(z))
        lse = safe_lse(m[..., 0] + torch.log(z))
        offs = torch.exp(off - lse).cpu().numpy().astype(np.float32)
        return _per_head(rows, ent.double().cpu().numpy(), offs, found, columns)


def _per_head(
    rows: np.ndarray, entropy: np.ndarray, max_off: np.ndarray, found: dict[str, np.ndarray], columns: np.ndarray | None
) -> list[RowStats]:
    """(heads, rows) arrays as one RowStats a head."""
    return [
        RowStats(
            np.asarray(rows),
            entropy[i],
            max_off[i],
            {name: v[i] for name, v in found.items()},
            None if columns is None else columns[i],
        )
        for i in range(entropy.shape[0])
    ]
