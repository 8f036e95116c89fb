"""Attention rows recomputed directly from a capture's stored queries and keys, as a reference the
benchmarks check the widget's numbers against: a few rows (r x N), never N x N, so it works at any
N. The same arithmetic as ``capture.attention(layer, head)`` restricted to those rows: scaled
scores, the family's soft-cap and bias (attn_widget/capturing/score_changes.py), the mask, band or
causal mask, and the softmax (with the head's sink in the denominator when it has one)."""

from __future__ import annotations

from typing import Any


def exact_rows(capture: Any, layer: int, head: int, q0: int, q1: int, kind: str | None = None) -> Any:
    """Softmax weights of query rows q0..q1-1 of one head, float32 numpy (q1 - q0, N)."""
    import torch

    from attn_widget.capturing.score_changes import apply

    call = capture.kind(kind).calls[layer]
    group = call.n_heads // int(call.k.shape[0])
    with torch.no_grad():
        q = call.q[head, q0:q1].float() * call.scaling
        scores = q @ call.k[head // group].float().T
        n_q, n_k = int(call.q.shape[1]), int(call.k.shape[1])
        apply(scores, call, head, slice(q0, q1), 0, n_k)
        if call.mask is not None:
            scores.masked_fill_(~call.mask[q0:q1].to(scores.device), float("-inf"))
        elif call.band is not None:
            scores.masked_fill_(call.band.outside(slice(q0, q1), 0, n_k, scores.device), float("-inf"))
        elif call.causal:
            rows = torch.arange(q0, q1, device=scores.device)[:, None] + (n_k - n_q)
            scores.masked_fill_(rows < torch.arange(n_k, device=scores.device)[None, :], float("-inf"))
        if call.sink is not None:
            sink = torch.full((q1 - q0, 1), float(call.sink[head]), device=scores.device)
            return torch.softmax(torch.cat([scores, sink], dim=-1), dim=-1)[:, :-1].cpu().numpy()
        return torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0).cpu().numpy()
