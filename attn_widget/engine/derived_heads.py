"""Heads made from other heads, as tile sources (head_source.py): the mean of several heads (the
grid's aggregates) and the difference of two (AttentionWidget.compare).

Each part is a source with, for recorded heads, its rows' log-sum-exp (``TileEngine.lse``), so a
window of the derived head is computed from the parts' windows: nothing N x N is held, and the
numbers are exact (float32 weights, summed in float32).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .row_stats import safe_lse

if TYPE_CHECKING:
    import torch

    from ..capturing.head_source import HeadSource

Part = tuple["HeadSource", "torch.Tensor | None"]  # a source and its lse (None for value sources)


def weights_into(part: Part, out: torch.Tensor, rows: slice | torch.Tensor, k0: int, k1: int) -> None:
    """The part's weights for rows x [k0, k1) into ``out`` (0 where attention is masked)."""
    source, lse = part
    limit = min(k1, max(k0, source.key_limit(*_row_range(rows))))
    if limit > k0:
        source.fill(out[:, : limit - k0], rows, k0, limit)
    out[:, limit - k0 :].fill_(0.0)
    if lse is not None:
        out[:, : limit - k0].sub_(safe_lse(lse[rows].to(out.device))[:, None]).exp_()


def _row_range(rows: slice | torch.Tensor) -> tuple[int, int]:
    if isinstance(rows, slice):
        return int(rows.start), int(rows.stop)
    return int(rows.min()), int(rows.max()) + 1


class MeanHead:
    """The element-wise mean of ``parts`` (weights, or signed values when ``signed``)."""

    logits = False

    def __init__(self, parts: list[Part], signed: bool = False) -> None:
        if not parts:
            raise ValueError("a mean needs at least one head")
        first = parts[0][0]
        self.parts = parts
        self.signed = signed
        self.n_q, self.n_k, self.device = first.n_q, first.n_k, first.device

    def key_limit(self, r0: int, r1: int) -> int:
        return max(p.key_limit(r0, r1) for p, _ in self.parts)

    def fill(self, out: torch.Tensor, rows: slice | torch.Tensor, k0: int, k1: int) -> None:
        import torch

        out.zero_()
        scratch = torch.empty_like(out)
        for part in self.parts:
            weights_into(part, scratch, rows, k0, k1)
            out.add_(scratch.to(out.device))
        out.div_(len(self.parts))


class DifferenceHead:
    """``b - a`` element-wise, signed: where run b attends more than run a, positive."""

    logits = False
    signed = True

    def __init__(self, a: Part, b: Part) -> None:
        self.a, self.b = a, b
        self.n_q, self.n_k, self.device = a[0].n_q, a[0].n_k, a[0].device

    def key_limit(self, r0: int, r1: int) -> int:
        return max(self.a[0].key_limit(r0, r1), self.b[0].key_limit(r0, r1))

    def fill(self, out: torch.Tensor, rows: slice | torch.Tensor, k0: int, k1: int) -> None:
        import torch

        scratch = torch.empty_like(out)
        weights_into(self.b, out, rows, k0, k1)
        weights_into(self.a, scratch, rows, k0, k1)
        out.sub_(scratch.to(out.device))


def mean_rows(source: Any, lse: Any, rows: list[int]) -> Any:
    """The mean of the query ``rows`` of one head (float32 numpy, length n_k)."""
    import torch

    with torch.no_grad():
        idx = torch.as_tensor(rows, dtype=torch.long)
        out = torch.empty((len(rows), source.n_k), dtype=torch.float32, device=source.device)
        weights_into((source, lse), out, idx.to(source.device), 0, source.n_k)
        return out.double().mean(0).float().cpu().numpy()
