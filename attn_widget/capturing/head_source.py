"""One head as something that can fill any rectangle of its matrix, without ever holding N x N.

Two sources feed the tile engine (tiles.py):

- ``LogitHead``: a recorded head. ``fill`` writes the scaled logits ``q k^T * s`` of a window,
  soft-capped and biased as the model did (score_changes.py), with ``-inf`` where the mask forbids
  attention; the engine turns them into softmax weights with each row's cached log-sum-exp
  (which counts the head's ``sink`` logit, when it has one). Work happens on the device where the layer's queries and keys
  live (a model split by ``device_map`` keeps each layer where it ran).
- ``ValueHead``: a head given as an array (the user's weights, or attention x gradient). ``fill``
  copies the window; values are final (``signed`` when they may be negative).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .score_changes import apply

if TYPE_CHECKING:
    import torch

    from .recorder import RecordedCall


#: ``fill`` of at most this many rows from a source not yet used converts only those rows to float32
#: (a growing grid's step asks one or two rows of every head; the whole N x d costs more).
FEW_ROWS = 32


class LogitHead:
    """Attention logits of one recorded head; weights are ``exp(score - lse[row])``."""

    logits = True
    signed = False

    def __init__(self, call: RecordedCall, head: int) -> None:
        import torch

        self.call = call
        self.head = head
        self.changed = call.softcap is not None or call.bias is not None
        #: the sink's logit (a float), or None: it joins every row's softmax denominator
        self.sink = None if call.sink is None else float(call.sink[head])
        group = call.n_heads // int(call.k.shape[0])  # grouped-query: one key head serves `group`
        self.q = call.q[head]  # (Nq, d), model dtype, on the layer's device
        self.k = call.k[head // group]
        self.scaling = call.scaling
        self.n_q = int(self.q.shape[0])
        self.n_k = int(self.k.shape[0])
        self.device = self.q.device
        self.causal = call.causal
        self.offset = self.n_k - self.n_q  # causal: query i may see keys j <= i + offset
        self.mask = call.mask
        self.band = call.band
        self._qs: torch.Tensor | None = None
        self._kt: torch.Tensor | None = None
        self._torch = torch

    def _operands(self) -> tuple[torch.Tensor, torch.Tensor]:
        # float32, q pre-scaled (N x d is cheaper than N x N), k transposed once: made on first use
        # and kept while this source is (sources are short-lived; see tiles.TileEngine.source).
        if self._qs is None:
            self._qs = self.q.float() * self.scaling
            self._kt = self.k.float().t().contiguous()
        assert self._kt is not None
        return self._qs, self._kt

    def key_limit(self, r0: int, r1: int) -> int:
        """Keys at or after this index are masked for every row in [r0, r1) (causal); else Nk."""
        if self.causal and self.mask is None:
            return max(0, min(self.n_k, r1 + self.offset))
        if self.band is not None:
            return max(0, min(self.n_k, r1 + self.band.after))
        return self.n_k

    def fill(self, out: torch.Tensor, rows: slice | torch.Tensor, k0: int, k1: int) -> None:
        """Attention logits of ``rows`` (a slice or an index tensor) x keys [k0, k1) into ``out`` (float32,
        on ``self.device``), ``-inf`` where attention is not allowed."""
        torch = self._torch
        if self._qs is None and int(out.shape[0]) <= FEW_ROWS:  # a few rows: convert only what they need
            q = self.q[rows].float() * self.scaling
            torch.matmul(q, self.k[k0:k1].float().t(), out=out)
        else:
            qs, kt = self._operands()
            torch.matmul(qs[rows], kt[:, k0:k1], out=out)
        if self.changed:
            apply(out, self.call, self.head, rows, k0, k1)
        if self.mask is not None:
            allowed = self.mask[rows, k0:k1].to(out.device)
            out.masked_fill_(~allowed, float("-inf"))
        elif self.band is not None:
            out.masked_fill_(self.band.outside(rows, k0, k1, out.device), float("-inf"))
        elif self.causal:
            _mask_future(out, _row_ids(rows, torch, out.device), self.offset, k0, k1)


def fill_heads(sources: list[Any], out: torch.Tensor, rows: torch.Tensor, k0: int, k1: int) -> None:
    """``out[i]`` = ``sources[i].fill(...)`` for several heads. Heads of one recorded call with a
    plain causal mask (a generating model's layer) share one batched matmul; others fill one by one."""
    import torch

    i = 0
    while i < len(sources):
        call = getattr(sources[i], "call", None)
        j = i + 1
        while j < len(sources) and call is not None and getattr(sources[j], "call", None) is call:
            j += 1
        plain = (
            call is not None
            and call.mask is None
            and call.causal
            and not getattr(sources[i], "changed", False)
            and getattr(sources[i], "band", None) is None
        )
        if j - i > 1 and plain:
            heads = [source.head for source in sources[i:j]]
            group = call.n_heads // int(call.k.shape[0])
            q = call.q[:, rows][heads].float() * call.scaling  # the rows first: a step asks one or two
            k = call.k[:, k0:k1][[h // group for h in heads]].float()
            torch.matmul(q, k.transpose(1, 2), out=out[i:j])
            _mask_future(out[i:j], rows.to(out.device), sources[i].offset, k0, k1)
        else:
            for m in range(i, j):
                sources[m].fill(out[m], rows, k0, k1)
        i = j


def _mask_future(out: torch.Tensor, row_ids: torch.Tensor, offset: int, k0: int, k1: int) -> None:
    """Causal: ``-inf`` where key j > query i + offset, in ``out`` (..., rows, keys k0..k1)."""
    import torch

    first, last = int(row_ids.min()), int(row_ids.max())
    lo = max(k0, first + offset + 1)  # the first key any of these rows may not see
    if lo < k1:
        hi = min(k1, last + offset + 1)  # keys past hi are masked for every row
        if hi > lo:
            band = torch.arange(lo, hi, device=out.device)
            out[..., lo - k0 : hi - k0].masked_fill_(band[None, :] > (row_ids[:, None] + offset), float("-inf"))
        out[..., max(lo, hi) - k0 :].fill_(float("-inf"))


class ValueHead:
    """A head given as values (float32 array (Nq, Nk)): weights, or a signed attribution."""

    logits = False

    def __init__(self, values: np.ndarray, signed: bool = False) -> None:
        import torch

        array = np.ascontiguousarray(values, dtype=np.float32)
        if not array.flags.writeable:  # torch wants writable memory; we never write to it
            array = array.copy()
        self.values = torch.from_numpy(array)
        self.n_q, self.n_k = (int(s) for s in self.values.shape)
        self.signed = signed
        self.device = self.values.device

    def key_limit(self, r0: int, r1: int) -> int:
        return self.n_k

    def fill(self, out: torch.Tensor, rows: slice | torch.Tensor, k0: int, k1: int) -> None:
        out.copy_(self.values[rows, k0:k1])


HeadSource = Any  # LogitHead | ValueHead: both have n_q, n_k, logits, signed, device, key_limit, fill


def _row_ids(rows: slice | torch.Tensor, torch: Any, device: Any) -> torch.Tensor:
    if isinstance(rows, slice):
        return torch.arange(rows.start, rows.stop, device=device)
    return rows.to(device)
