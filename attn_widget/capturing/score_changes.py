"""What a model does to its scores between ``q k^T * s`` and the softmax, kept compact.

- Soft-capping (Gemma 2, the ``softcap`` argument): ``cap * tanh(score / cap)``, before the mask.
- An additive bias, stored as the few numbers it is made of, never as an N x N array:
  ``OffsetBias`` when it is a function of ``j - i`` per head (T5's relative position buckets),
  ``KeyBias`` when it is a function of the key's position per head (ALiBi as Falcon adds it to its
  mask: ``slope * j``, which differs from ``slope * (j - i)`` by a constant per row, so the same
  softmax). A bias that is neither is refused by name.
- A sink (gpt-oss ``s_aux``): one learned logit per head that joins every row's softmax
  denominator and takes no column, so the keys' weights sum to less than 1. It lives in
  ``RecordedCall.sink``; the row's share is ``exp(sink - lse)``.

``apply`` is the one place the recomputation (head_source.LogitHead, recorder.RecordedCall.weights)
applies them, in the model's order: scale, cap, bias, mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Rows checked at a time when a bias is read (a 1024 x N float32 block per head).
_CHECK_ROWS = 1024


@dataclass(frozen=True)
class OffsetBias:
    """``bias[h, i, j] = table[h, k_pos[j] - q_pos[i] + zero]`` (a function of j - i per head).

    ``q_pos``/``k_pos``: each kept row's and column's position in the sequence the model saw
    (a capture drops padding); ``zero`` is the table index of offset 0."""

    table: Any  # float32 (H, Nq0 + Nk0 - 1)
    q_pos: Any  # int64 (Nq,)
    k_pos: Any  # int64 (Nk,)
    zero: int

    def add_to(self, out: Any, head: int, rows: slice | Any, k0: int, k1: int) -> None:
        import torch

        table = self.table[head].to(out.device)
        q = self.q_pos[rows].to(out.device)
        k = self.k_pos[k0:k1].to(out.device)
        contiguous = isinstance(rows, slice) and _is_range(q) and _is_range(k)
        if contiguous and len(q) and len(k) and _row_by_row(out.device):
            # row i reads table[k[0] - q[i] + zero :][: len(k)]; one add per row reads the small
            # table from cache, where a flipped copy of the windows costs a rows x keys write
            start = int(k[0]) - int(q[0]) + self.zero
            for i in range(len(q)):
                out[i].add_(table[start - i : start - i + len(k)])
            return
        if contiguous and len(q) and len(k):
            # the same windows read backwards at once (one launch on an accelerator)
            start_last = int(k[0]) - int(q[-1]) + self.zero
            windows = table[start_last : start_last + len(q) + len(k) - 1].unfold(0, len(k), 1)
            out.add_(torch.flip(windows, dims=(0,)))
            return
        out.add_(table[k[None, :] - q[:, None] + self.zero])

    def restricted(self, q_keep: Any, k_keep: Any) -> OffsetBias:
        return OffsetBias(
            self.table, self.q_pos[q_keep.to(self.q_pos.device)], self.k_pos[k_keep.to(self.k_pos.device)], self.zero
        )

    def tensors(self) -> tuple[Any, ...]:
        return (self.table, self.q_pos, self.k_pos)


@dataclass(frozen=True)
class KeyBias:
    """``bias[h, i, j] = table[h, k_pos[j]]`` (a function of the key's position per head)."""

    table: Any  # float32 (H, Nk0)
    k_pos: Any  # int64 (Nk,)

    def add_to(self, out: Any, head: int, rows: slice | Any, k0: int, k1: int) -> None:
        out.add_(self.table[head].to(out.device)[self.k_pos[k0:k1].to(out.device)][None, :])

    def restricted(self, q_keep: Any, k_keep: Any) -> KeyBias:
        return KeyBias(self.table, self.k_pos[k_keep.to(self.k_pos.device)])

    def tensors(self) -> tuple[Any, ...]:
        return (self.table, self.k_pos)


Bias = OffsetBias | KeyBias


@dataclass(frozen=True)
class Band:
    """A mask that is a band around the diagonal, kept as two numbers: query i may see keys
    i - before .. i + after (a causal sliding window: before = window - 1, after = 0; ModernBERT's
    local attention: both half the window; a plain causal mask: before = N). Read from the boolean
    mask a square attention call got (``of``)."""

    before: int
    after: int

    @staticmethod
    def of(allowed: Any) -> Band | None:
        """The band that ``allowed`` (bool (N, N)) is exactly, or None (padding, blocks, ...)."""
        import torch

        n = int(allowed.shape[0])
        if n != int(allowed.shape[1]) or n < 2 or not bool(allowed.diagonal().all()):
            return None
        ids = torch.arange(n, device=allowed.device)
        first = allowed.to(torch.uint8).argmax(1)
        last = n - 1 - allowed.flip(1).to(torch.uint8).argmax(1)
        band = Band(int((ids - first).max()), int((last - ids).max()))
        for r0 in range(0, n, _CHECK_ROWS):  # the band rebuilt must be the mask, cell for cell
            r1 = min(n, r0 + _CHECK_ROWS)
            if not bool((band.outside(slice(r0, r1), 0, n, allowed.device) == ~allowed[r0:r1]).all()):
                return None
        return band

    def outside(self, rows: slice | Any, k0: int, k1: int, device: Any) -> Any:
        """Bool (rows, k1 - k0): True where the key is outside the query's window."""
        import torch

        row_ids = torch.arange(rows.start, rows.stop, device=device) if isinstance(rows, slice) else rows.to(device)
        keys = torch.arange(k0, k1, device=device)[None, :]
        return (keys < row_ids[:, None] - self.before) | (keys > row_ids[:, None] + self.after)


def _row_by_row(device: Any) -> bool:
    """Whether a sliding-window bias is added one row at a time (on the CPU: no copy) or at once
    (an accelerator, where a launch per row costs more than the copy)."""
    return device.type == "cpu"


def _is_range(ids: Any) -> bool:
    n = int(ids.shape[0])
    return n < 2 or (int(ids[-1]) - int(ids[0]) == n - 1 and bool((ids[1:] - ids[:-1] == 1).all()))


def apply(scores: Any, call: Any, head: int, rows: slice | Any, k0: int, k1: int) -> None:
    """Soft-cap and bias the scaled scores of ``rows`` x keys [k0, k1) of one head, in place
    (the mask comes after, from the caller)."""
    if call.softcap is not None:
        cap = float(call.softcap)
        scores.div_(cap).tanh_().mul_(cap)
    if call.bias is not None:
        call.bias.add_to(scores, head, rows, k0, k1)


def read_bias(bias: Any, allowed: Any, n_heads: int, what: str) -> Bias | None:
    """The compact form of one example's additive bias ``bias`` (H or 1, Nq, Nk), compared with
    it exactly where attention is ``allowed`` (bool (Nq, Nk) or None: everywhere). None when it is
    all zeros; NotImplementedError when it is neither a function of j - i nor of j."""
    import torch

    bias = bias.detach()
    if bias.dim() == 2:
        bias = bias[None]
    if bias.shape[0] not in (1, n_heads):
        raise NotImplementedError(f"capture: {what} has {bias.shape[0]} heads but the layer has {n_heads}")
    n_q, n_k = int(bias.shape[-2]), int(bias.shape[-1])
    if not bool(bias.any()):
        return None
    device = bias.device
    q_pos = torch.arange(n_q, device=device)
    k_pos = torch.arange(n_k, device=device)
    expand = n_heads if bias.shape[0] == 1 else 1
    if allowed is None:
        diag = torch.cat([bias[:, :, 0].flip(-1), bias[:, 0, 1:]], dim=-1).float()  # offsets -(Nq-1) .. Nk-1
        candidate: Bias = OffsetBias(diag.repeat(expand, 1), q_pos, k_pos, n_q - 1)
        if _matches(bias, candidate, allowed):
            return candidate
    column = _columns(bias, allowed)
    key_bias = KeyBias(column.repeat(expand, 1), k_pos)
    if _matches(bias, key_bias, allowed):
        return key_bias
    raise NotImplementedError(
        f"capture: {what} is a float bias that is neither a function of the key position nor of j - i per head; "
        "attn_widget does not keep N x N biases"
    )


def _columns(bias: Any, allowed: Any) -> Any:
    """Per head, each column's value at an allowed row (0 where none is allowed)."""
    import torch

    if allowed is None:
        return bias[:, 0, :].float()
    out = torch.full((bias.shape[0], bias.shape[-1]), float("-inf"), device=bias.device)
    for r0 in range(0, int(bias.shape[-2]), _CHECK_ROWS):
        part = bias[:, r0 : r0 + _CHECK_ROWS].float()
        ok = allowed[r0 : r0 + _CHECK_ROWS].to(bias.device)
        out = torch.maximum(out, part.masked_fill(~ok, float("-inf")).amax(1))
    return torch.where(torch.isfinite(out), out, torch.zeros_like(out))


def _matches(bias: Any, compact: Bias, allowed: Any) -> bool:
    """Whether ``compact`` gives ``bias`` exactly (where allowed), checked in row blocks."""
    import torch

    n_q, n_k = int(bias.shape[-2]), int(bias.shape[-1])
    # one buffer, zeroed per block: a fresh N-wide block per head costs more in page faults than the check
    flat = torch.empty(min(_CHECK_ROWS, n_q) * n_k, dtype=torch.float32, device=bias.device)
    for r0 in range(0, n_q, _CHECK_ROWS):
        r1 = min(n_q, r0 + _CHECK_ROWS)
        part = bias[:, r0:r1].float()
        for h in range(int(part.shape[0])):
            rebuilt = flat[: (r1 - r0) * n_k].view(r1 - r0, n_k).zero_()
            compact.add_to(rebuilt, h, slice(r0, r1), 0, n_k)
            same = rebuilt == part[h]
            if allowed is not None:
                same |= ~allowed[r0:r1].to(bias.device)
            if not bool(same.all()):
                return False
    return True


#: The attention-call arguments that change the scores before softmax (soft-cap, T5's bias, sinks).
SCORE_ARGUMENTS = ("softcap", "position_bias", "s_aux", "sinks")


def changing_argument(kwargs: dict[str, Any]) -> str | None:
    """The first argument of an attention call that changes its scores, or None."""
    return next((name for name in SCORE_ARGUMENTS if kwargs.get(name) is not None), None)


def sink_logits(kwargs: dict[str, Any]) -> Any:
    """The per-head sink logits an attention call was given (gpt-oss ``s_aux``, or ``sinks``), float32, or None."""
    for name in ("s_aux", "sinks"):
        value = kwargs.get(name)
        if value is not None:
            return value.detach().float().reshape(-1).clone()
    return None
