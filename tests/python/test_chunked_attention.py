"""The recorder's forward for attention whose scores a family changes (soft-capping, a position
bias, a biased or boolean mask, sinks) runs in blocks of query rows; a model captured this way must
compute what its eager attention computes, whatever block the last rows fall in."""

import pytest
import torch

from attn_widget.capturing import chunked_attention
from attn_widget.capturing.chunked_attention import changed_attention_forward


class Module:
    is_causal = False


def eager(query, key, value, mask, scale, softcap=None, bias=None, sinks=None, causal=False):
    """The families' eager attention, whole: (B, Nq, H, d)."""
    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, 1), value.repeat_interleave(groups, 1)
    scores = torch.matmul(query, key.transpose(2, 3)) * scale
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min) if mask.dtype == torch.bool else scores + mask
    elif causal:
        n_q, n_k = scores.shape[-2:]
        scores = scores.masked_fill(torch.ones(n_q, n_k, dtype=torch.bool).triu_(n_k - n_q + 1), torch.finfo(scores.dtype).min)
    if sinks is not None:
        both = torch.cat([scores, sinks.reshape(1, -1, 1, 1).expand(*scores.shape[:-1], 1).to(scores.dtype)], -1)
        weights = torch.softmax(both - both.amax(-1, keepdim=True), -1)[..., :-1].to(query.dtype)
    else:
        weights = torch.softmax(scores, -1, dtype=torch.float32).to(query.dtype)
    return torch.matmul(weights, value).transpose(1, 2)


CASES = {
    "soft-capped, causal": dict(softcap=5.0, causal=True),
    "position bias (T5)": dict(bias=True),
    "float mask with a bias (ALiBi in the mask)": dict(float_mask=True),
    "boolean mask and sinks (gpt-oss)": dict(bool_mask=True, sinks=True),
    "half-precision scores, float32 bias": dict(bias=True, dtype=torch.bfloat16),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("chunk_cells", [1 << 24, 3 * 4 * 11])  # one block; blocks of 3 rows, the last one short
def test_blocks_of_rows_compute_the_eager_output(case, chunk_cells, monkeypatch):
    spec = CASES[case]
    monkeypatch.setattr(chunked_attention, "_CHUNK_CELLS", chunk_cells)
    torch.manual_seed(0)
    dtype = spec.get("dtype", torch.float32)
    b, h, h_kv, n, d = 1, 4, 2, 11, 8
    query, key, value = (torch.randn(b, heads, n, d).to(dtype) * 3 for heads in (h, h_kv, h_kv))
    bias = torch.randn(1, h, n, n) if spec.get("bias") else None
    mask = None
    if spec.get("float_mask"):
        mask = torch.randn(b, h, n, n).masked_fill(torch.rand(n, n) < 0.3, torch.finfo(torch.float32).min)
    if spec.get("bool_mask"):
        mask = (torch.rand(b, 1, n, n) > 0.3) | torch.eye(n, dtype=torch.bool)
    sinks = torch.randn(h) if spec.get("sinks") else None
    kwargs = {"softcap": spec.get("softcap"), "position_bias": bias, "sinks": sinks, "is_causal": spec.get("causal", False)}
    got, _ = changed_attention_forward(Module(), query, key, value, mask, 0.3, kwargs)
    want = eager(query, key, value, mask, 0.3, spec.get("softcap"), bias, sinks, spec.get("causal", False))
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5 if dtype == torch.float32 else 1e-2)
