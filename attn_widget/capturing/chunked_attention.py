"""The forward pass of an attention call whose scores the model changes before its softmax
(soft-capping, a position bias, a biased mask, sinks): what the family's eager implementation
computes, in blocks of query rows, so a long input never holds a batch x heads x N x N array.
PyTorch's SDPA takes none of these, so the recorder runs this instead for such calls."""

from __future__ import annotations

from typing import Any

from .score_changes import sink_logits

#: Scores computed at a time (float32): 64 MiB.
_CHUNK_CELLS = 1 << 24


def changed_attention_forward(
    module: Any, query: Any, key: Any, value: Any, mask: Any, scaling: float | None, kwargs: dict[str, Any]
) -> tuple[Any, None]:
    """(attention output (B, Nq, H, d), None), as eager attention computes it."""
    import torch

    groups = int(query.shape[1]) // int(key.shape[1])
    if groups > 1:  # grouped-query attention: each key/value head serves `groups` query heads
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    softcap = kwargs.get("softcap")
    bias = kwargs.get("position_bias")
    sinks = sink_logits(kwargs)
    is_causal = kwargs.get("is_causal")
    causal = mask is None and bool(getattr(module, "is_causal", True) if is_causal is None else is_causal)
    b, h, n_q, _ = query.shape
    n_k = int(key.shape[2])
    step = max(1, _CHUNK_CELLS // max(1, b * h * n_k))
    out = torch.empty((b, h, n_q, value.shape[-1]), dtype=query.dtype, device=query.device)
    # One scores buffer for every chunk, changed in place: a fresh 64 MiB tensor per operation
    # costs more in page faults than the arithmetic it holds.
    flat = torch.empty(b * h * min(step, n_q) * n_k, dtype=query.dtype, device=query.device)
    flat_weights = torch.empty_like(flat) if query.dtype == torch.float32 and sinks is None else None
    key_t = key.transpose(2, 3)
    for r0 in range(0, n_q, step):
        r1 = min(n_q, r0 + step)
        scores = flat[: b * h * (r1 - r0) * n_k].view(b, h, r1 - r0, n_k)
        torch.matmul(query[:, :, r0:r1], key_t, out=scores)
        scores.mul_(scale)
        if softcap is not None:
            scores.div_(softcap).tanh_().mul_(softcap)
        if bias is not None:
            scores = _add(scores, bias[..., r0:r1, :] if bias.shape[-2] > 1 else bias)
        if mask is not None:
            part = mask[..., r0:r1, :] if mask.shape[-2] > 1 else mask
            if part.dtype == torch.bool:
                scores.masked_fill_(~part, torch.finfo(scores.dtype).min)
            else:
                scores = _add(scores, part)
        elif causal and n_q > 1:
            future = torch.ones(r1 - r0, n_k, dtype=torch.bool, device=scores.device).triu_(n_k - n_q + 1 + r0)
            scores.masked_fill_(future, torch.finfo(scores.dtype).min)
        if flat_weights is not None and scores.dtype == torch.float32:
            weights = torch.softmax(scores, dim=-1, out=flat_weights[: scores.numel()].view(scores.shape))
        elif sinks is None:
            weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
        else:
            sink = sinks.to(scores.device, scores.dtype).reshape(1, -1, 1, 1).expand(b, -1, r1 - r0, 1)
            both = torch.cat([scores, sink], dim=-1)
            both = both - both.max(dim=-1, keepdim=True).values
            weights = torch.softmax(both, dim=-1, dtype=both.dtype)[..., :-1].to(query.dtype)
        out[:, :, r0:r1] = torch.matmul(weights, value)
    return out.transpose(1, 2).contiguous(), None


def _add(scores: Any, other: Any) -> Any:
    """``scores + other`` with eager's dtype promotion: in place when the sum keeps the scores'
    dtype and shape, else a new tensor (a float32 bias on half-precision scores)."""
    import torch

    same_shape = torch.broadcast_shapes(scores.shape, other.shape) == scores.shape
    if same_shape and torch.result_type(scores, other) == scores.dtype:
        return scores.add_(other)
    return scores + other
