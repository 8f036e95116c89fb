"""Where a kind's image tokens are, and what the grid's image metrics read off each row.

With ``w[i, j]`` the weight query ``i`` puts on key ``j``, ``I`` the keys that are image patches
(``Axis.patches``) and ``T`` the other keys (text, special tokens, CLS, registers):

- ``text_to_image``: ``sum of w[i, j] over j in I``, for queries ``i`` that are not patches;
- ``image_to_text``: ``sum of w[i, j] over j in T``, for queries ``i`` that are patches;
- the columns: ``sum over rows i of w[i, j]`` for each ``j`` in I. The visual-sink share is their
  largest over their sum: how much of all the weight a head puts on the picture lands on one
  patch. Per head, not per row, so a head that looks at a different patch from every word (a
  grounding head) is not mistaken for one that parks its attention on one patch (a sink).

A row where a field is not defined (an image query for ``text_to_image``) is NaN, and the grid's
mean leaves it out, as for the detectors (detectors.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..capturing.result import Kind

IMAGE_FIELDS = ("text_to_image", "image_to_text")


class ImageRoles:
    """Which keys and which queries of one kind are image patches."""

    def __init__(self, image_queries: np.ndarray, image_keys: np.ndarray) -> None:
        self.image_queries = image_queries
        self.image_keys = image_keys
        self.key_index = np.flatnonzero(image_keys)

    @classmethod
    def of(cls, kind: Kind) -> ImageRoles | None:
        """The roles of ``kind``'s positions, or None when its keys hold no image patch."""
        if len(kind.keys.patches) == 0:
            return None
        keys = np.zeros(len(kind.keys), dtype=bool)
        keys[kind.keys.patches[:, 0]] = True
        queries = np.zeros(len(kind.queries), dtype=bool)
        if len(kind.queries.patches):
            queries[kind.queries.patches[:, 0]] = True
        return cls(queries, keys)

    @property
    def n_patches(self) -> int:
        return int(self.key_index.size)

    def rows(self, w: torch.Tensor, z: torch.Tensor | None, rows: torch.Tensor) -> dict[str, np.ndarray]:
        """``text_to_image`` and ``image_to_text`` for a block of rows: ``w`` (..., c, kk) holds
        the weights of query rows ``rows`` over keys ``0..kk-1`` (times ``z`` (..., c), the row
        sums, when not None). Keys past ``kk`` carry no weight for these rows (causal)."""
        import torch

        *lead, c, kk = w.shape
        keys = torch.from_numpy(self.image_keys[:kk]).to(w.device)
        on_image = (w * keys).sum(-1, dtype=torch.float64)
        if z is None:  # weights: each row's own sum (about 1)
            total, norm = w.sum(-1, dtype=torch.float64), torch.ones(c, dtype=torch.float64, device=w.device)
        else:  # exponentials: z is already their row sum
            total = norm = z.double()
        is_patch = torch.from_numpy(self.image_queries[rows.cpu().numpy()]).to(w.device)
        nan = torch.full((*lead, c), float("nan"), dtype=torch.float64, device=w.device)
        out = {
            "text_to_image": torch.where(is_patch, nan, on_image / norm),
            "image_to_text": torch.where(is_patch, (total - on_image) / norm, nan),
        }
        return {name: out[name].cpu().numpy() for name in IMAGE_FIELDS}

    def columns(self, w: torch.Tensor, z: torch.Tensor | None) -> np.ndarray:
        """Per image key, the weight the block's rows put on it, summed over the rows: (..., P)."""
        import torch

        kk = w.shape[-1]
        inside = self.key_index[self.key_index < kk]
        picked = w[..., torch.from_numpy(inside).to(w.device)].double()
        if z is not None:
            picked = picked / z.double()[..., None]
        out = np.zeros((*w.shape[:-2], self.n_patches), dtype=np.float64)
        out[..., : inside.size] = picked.sum(-2).cpu().numpy()
        return out


def sink_share(columns: np.ndarray | None) -> float:
    """The largest column's share of all the weight on image keys (NaN where there is none)."""
    if columns is None:
        return float("nan")
    total = float(columns.sum())
    return float(columns.max()) / total if total > 0 else float("nan")


def reference_image_metrics(weights: np.ndarray, image_queries: np.ndarray, image_keys: np.ndarray) -> dict[str, float]:
    """The grid's image metrics for one (Nq, Nk) head by plain loops: for tests and for reading."""
    text_rows = [
        sum(weights[i, j] for j in range(weights.shape[1]) if image_keys[j])
        for i in range(weights.shape[0])
        if not image_queries[i]
    ]
    image_rows = [
        sum(weights[i, j] for j in range(weights.shape[1]) if not image_keys[j])
        for i in range(weights.shape[0])
        if image_queries[i]
    ]
    columns = np.array([weights[:, j].sum() for j in range(weights.shape[1]) if image_keys[j]])
    return {
        "text_to_image": float(np.mean(text_rows)) if text_rows else float("nan"),
        "image_to_text": float(np.mean(image_rows)) if image_rows else float("nan"),
        "visual_sink": sink_share(columns),
    }
