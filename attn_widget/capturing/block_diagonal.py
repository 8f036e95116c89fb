"""Several attention calls of one layer as one: a vision tower attends within each image or tile
(a batch of them, or chunks of one sequence, as Qwen2-VL does), so one capture kind holds them
side by side on one axis, with a block-diagonal mask (nothing crosses from one block to another).
"""

from __future__ import annotations

from typing import Any

from .recorder import RecordedCall


def joined(calls: list[RecordedCall], masks: dict[tuple[Any, ...], Any]) -> RecordedCall:
    """``calls`` (one layer's, in order) as one call over their concatenated positions.

    ``masks`` caches the block masks by the blocks' shapes and masks, so the layers of a tower
    share one (it is N x N booleans for N positions in all)."""
    import torch

    if len(calls) == 1:
        return calls[0]
    first = calls[0]
    if any(c.softcap is not None or c.bias is not None or c.sink is not None for c in calls):
        raise NotImplementedError(f"{first.module_name}: joining calls that soft-cap, bias or sink their scores is not modelled")
    if any(c.scaling != first.scaling or c.n_heads != first.n_heads for c in calls):
        raise RuntimeError(f"{first.module_name}: its attention calls differ in heads or scaling; cannot join them")
    key = tuple((id(c.mask), c.causal, c.band, int(c.q.shape[1]), int(c.k.shape[1])) for c in calls)
    if key not in masks:
        masks[key] = (calls, _block_mask(calls, first.q.device))  # holding the calls keeps their mask ids alive
    return RecordedCall(
        module_name=first.module_name,
        q=torch.cat([c.q for c in calls], dim=1),
        k=torch.cat([c.k for c in calls], dim=1),
        mask=masks[key][1],
        causal=False,
        scaling=first.scaling,
    )


def _block_mask(calls: list[RecordedCall], device: Any) -> Any:
    import torch

    n_q = sum(int(c.q.shape[1]) for c in calls)
    n_k = sum(int(c.k.shape[1]) for c in calls)
    mask = torch.zeros(n_q, n_k, dtype=torch.bool, device=device)
    q0 = k0 = 0
    for c in calls:
        q1, k1 = q0 + int(c.q.shape[1]), k0 + int(c.k.shape[1])
        allowed = c.allowed(device)
        mask[q0:q1, k0:k1] = True if allowed is None else allowed
        q0, k0 = q1, k1
    return mask
