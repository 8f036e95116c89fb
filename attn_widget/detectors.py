"""Head detectors: per query row, how much weight a head puts on keys with a known role.

Each detector sums one row's attention weights over a set of keys defined by position or by token
identity (tokens are the same when their strings are equal). With ``w[i, j]`` the weight query
``i`` puts on key ``j`` and ``t[j]`` the token at position ``j``:

- ``previous``: ``w[i, i-1]`` (rows ``i >= 1``);
- ``first``: ``w[i, 0]`` (the first token, where many heads park their attention: a sink);
- ``local``: ``sum of w[i, j] over |i - j| <= LOCAL_WINDOW``;
- ``duplicate``: ``sum of w[i, j] over j < i with t[j] == t[i]`` (rows with an earlier copy);
- ``induction``: ``sum of w[i, j] over 1 <= j <= i with t[j-1] == t[i]``: the token that
  followed an earlier copy of the current token (rows with an earlier copy).

A row where a detector is not defined (row 0 for ``previous``, a row whose token has no earlier
copy for ``duplicate`` and ``induction``) is NaN, and the grid's mean leaves it out. Detectors are
defined on square kinds (self-attention), where a query and a key share positions; elsewhere
every row is NaN. These are the plain definitions of Olsson et al. (2022) and TransformerLens's
``detect_head``, as per-row weight sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: ``local`` counts keys within this distance of the query (both sides; causal heads see one).
LOCAL_WINDOW = 3
DETECTORS = ("previous", "first", "local", "duplicate", "induction")


def token_ids(tokens: Sequence[str]) -> np.ndarray:
    """One int per position, equal where the token strings are equal."""
    seen: dict[str, int] = {}
    return np.array([seen.setdefault(t, len(seen)) for t in tokens], dtype=np.int64)


def detector_rows(w: torch.Tensor, z: torch.Tensor | None, rows: torch.Tensor, ids: torch.Tensor | None) -> dict[str, np.ndarray]:
    """Every detector for a block of rows: ``w`` (c, kk) holds the weights of query rows ``rows``
    over keys ``0..kk-1`` (times ``z``, the row sums, when ``z`` is not None: unnormalised
    exponentials); ``ids`` the token ids of every key (None: not a square kind)."""
    import torch

    c, kk = w.shape
    if ids is None or kk == 0:
        return {name: np.full(c, np.nan) for name in DETECTORS}
    rows = rows.to(w.device)
    ids = ids.to(w.device)
    norm = torch.ones(c, dtype=torch.float64, device=w.device) if z is None else z.double()
    index = torch.arange(c, device=w.device)

    def at(offset: int) -> torch.Tensor:
        """w[i, i + offset] where that key exists, else 0."""
        cols = rows + offset
        ok = (cols >= 0) & (cols < kk)
        out = torch.zeros(c, dtype=torch.float64, device=w.device)
        out[ok] = w[index[ok], cols[ok]].double()
        return out

    out: dict[str, torch.Tensor] = {}
    out["first"] = w[:, 0].double() / norm
    previous = at(-1) / norm
    out["previous"] = torch.where(rows >= 1, previous, torch.full_like(previous, float("nan")))
    out["local"] = (
        sum((at(d) for d in range(-LOCAL_WINDOW, LOCAL_WINDOW + 1)), torch.zeros(c, dtype=torch.float64, device=w.device)) / norm
    )
    keys = torch.arange(kk, device=w.device)
    mine = ids[rows][:, None]
    earlier = keys[None, :] < rows[:, None]
    same = (ids[None, :kk] == mine) & earlier
    has_copy = same.any(-1)
    nan = torch.full((c,), float("nan"), dtype=torch.float64, device=w.device)
    duplicate = (w * same).sum(-1, dtype=torch.float64) / norm
    out["duplicate"] = torch.where(has_copy, duplicate, nan)
    before = torch.cat([torch.full((1,), -1, dtype=ids.dtype, device=w.device), ids[: kk - 1]])
    follows = (before[None, :] == mine) & (keys[None, :] <= rows[:, None]) & (keys[None, :] >= 1)
    induction = (w * follows).sum(-1, dtype=torch.float64) / norm
    out["induction"] = torch.where(has_copy, induction, nan)
    return {name: out[name].cpu().numpy() for name in DETECTORS}


def reference_detectors(weights: np.ndarray, tokens: Sequence[str]) -> dict[str, float]:
    """The grid's value of every detector for one (N, N) head, by plain loops: the mean over the
    rows where the detector is defined (NaN when none is). For tests and for reading."""
    n = weights.shape[0]
    per_row: dict[str, list[float]] = {name: [] for name in DETECTORS}
    for i in range(n):
        per_row["first"].append(float(weights[i, 0]))
        if i >= 1:
            per_row["previous"].append(float(weights[i, i - 1]))
        per_row["local"].append(float(sum(weights[i, j] for j in range(n) if abs(i - j) <= LOCAL_WINDOW)))
        copies = [p for p in range(i) if tokens[p] == tokens[i]]
        if copies:
            per_row["duplicate"].append(float(sum(weights[i, p] for p in copies)))
            after = {p + 1 for p in copies}
            per_row["induction"].append(float(sum(weights[i, j] for j in after)))
    return {name: float(np.mean(v)) if v else float("nan") for name, v in per_row.items()}
