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


#: Above this many (row, earlier copy) pairs (8 bytes each) the copy detectors use dense masks:
#: slower (about twice the row pass), but no 128 MB list for a text that repeats a few tokens a lot.
MAX_PAIRS = 1 << 24


def token_ids(tokens: Sequence[str]) -> np.ndarray:
    """One int per position, equal where the token strings are equal."""
    seen: dict[str, int] = {}
    return np.array([seen.setdefault(t, len(seen)) for t in tokens], dtype=np.int64)


class TokenIds:
    """The token ids of a square kind, and (made once, on first use) every pair (row i, earlier
    copy j) with t[j] == t[i], j < i, sorted by row: text repeats few tokens often, so summing
    weights over these pairs costs far less than comparing every query with every key."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.ids = token_ids(tokens)
        self._made = False
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None

    def pairs(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, copies), or None when there are more than MAX_PAIRS (then masks are cheaper)."""
        if not self._made:
            self._made = True
            order = np.argsort(self.ids, kind="stable")
            _, starts, counts = np.unique(self.ids[order], return_index=True, return_counts=True)
            if int((counts * (counts - 1) // 2).sum()) <= MAX_PAIRS:
                rows, copies = [np.zeros(0, np.int32)], [np.zeros(0, np.int32)]
                for start, count in zip(starts, counts, strict=True):
                    if count > 1:
                        where = order[start : start + count]  # one token's positions, ascending
                        earlier, later = np.triu_indices(count, k=1)
                        rows.append(where[later].astype(np.int32))
                        copies.append(where[earlier].astype(np.int32))
                row, copy = np.concatenate(rows), np.concatenate(copies)
                by_row = np.argsort(row, kind="stable")
                self._pairs = (row[by_row], copy[by_row])
        return self._pairs


def detector_rows(w: torch.Tensor, z: torch.Tensor | None, rows: torch.Tensor, ids: TokenIds | None) -> dict[str, np.ndarray]:
    """Every detector for a block of rows: ``w`` (c, kk) holds the weights of query rows ``rows``
    over keys ``0..kk-1`` (times ``z``, the row sums, when ``z`` is not None: unnormalised
    exponentials); ``ids`` the token ids of every key (None: not a square kind). ``w`` may have
    leading axes (several heads, (h, c, kk), ``z`` (h, c)): the results then have them too."""
    import torch

    *lead, c, kk = w.shape
    if ids is None or kk == 0:
        return {name: np.full((*lead, c), np.nan) for name in DETECTORS}
    rows = rows.to(w.device)
    norm = torch.ones(c, dtype=torch.float64, device=w.device) if z is None else z.double()
    index = torch.arange(c, device=w.device)

    def at(offset: int) -> torch.Tensor:
        """w[..., i, i + offset] where that key exists, else 0."""
        cols = rows + offset
        ok = (cols >= 0) & (cols < kk)
        out = torch.zeros((*lead, c), dtype=torch.float64, device=w.device)
        out[..., ok] = _pick(w, index[ok], cols[ok]).double()
        return out

    nan = torch.full((c,), float("nan"), dtype=torch.float64, device=w.device)
    local = torch.zeros((*lead, c), dtype=torch.float64, device=w.device)
    for d in range(-LOCAL_WINDOW, LOCAL_WINDOW + 1):
        local += at(d)
    duplicate, induction, has_copy = _copy_sums(w, rows, ids)
    out = {
        "first": w[..., 0].double() / norm,
        "previous": torch.where(rows >= 1, at(-1) / norm, nan),
        "local": local / norm,
        "duplicate": torch.where(has_copy, duplicate / norm, nan),
        "induction": torch.where(has_copy, induction / norm, nan),
    }
    return {name: out[name].cpu().numpy() for name in DETECTORS}


def _pick(w: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``w[..., rows, cols]``: one flat index_select when the last two axes are contiguous (several
    times faster than advanced indexing, which matters with many heads at once)."""
    kk = w.shape[-1]
    if w.stride(-1) == 1 and w.stride(-2) == kk:
        return w.flatten(-2).index_select(-1, rows * kk + cols)
    return w[..., rows, cols]


def _copy_sums(w: torch.Tensor, rows: torch.Tensor, ids: TokenIds) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row: the weight on earlier copies of its token, on the tokens after them, and whether
    it has any. From the sorted pairs for a contiguous block of rows, else by dense masks."""
    import torch

    *lead, c, kk = w.shape
    pairs = ids.pairs()
    first, last = int(rows[0]), int(rows[-1])
    if pairs is not None and last - first + 1 == c:
        pair_rows, pair_copies = pairs
        lo, hi = np.searchsorted(pair_rows, [first, last + 1])
        r = torch.from_numpy(pair_rows[lo:hi].astype(np.int64) - first).to(w.device)
        k = torch.from_numpy(pair_copies[lo:hi].astype(np.int64)).to(w.device)
        duplicate = torch.zeros((*lead, c), dtype=torch.float64, device=w.device)
        duplicate.index_add_(-1, r, _pick(w, r, k).double())
        after = k + 1  # at most the row itself: a copy comes before its row
        ok = after < kk
        induction = torch.zeros((*lead, c), dtype=torch.float64, device=w.device)
        induction.index_add_(-1, r[ok], _pick(w, r[ok], after[ok]).double())
        has_copy = torch.zeros(c, dtype=torch.bool, device=w.device)
        has_copy[r] = True
        return duplicate, induction, has_copy
    id_tensor = torch.from_numpy(ids.ids).to(w.device)
    keys = torch.arange(kk, device=w.device)
    mine = id_tensor[rows][:, None]
    same = (id_tensor[None, :kk] == mine) & (keys[None, :] < rows[:, None])
    before = torch.cat([torch.full((1,), -1, dtype=id_tensor.dtype, device=w.device), id_tensor[: kk - 1]])
    follows = (before[None, :] == mine) & (keys[None, :] <= rows[:, None]) & (keys[None, :] >= 1)
    return (w * same).sum(-1, dtype=torch.float64), (w * follows).sum(-1, dtype=torch.float64), same.any(-1)


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
