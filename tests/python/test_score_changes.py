"""A T5 position bias kept as one number per head and offset must add, to any window of rows and
keys a tile or a row sample asks for, exactly the bias the model built as an N x N array."""

import pytest
import torch
from transformers import T5Config
from transformers.models.t5.modeling_t5 import T5Attention

from attn_widget.capturing import score_changes
from attn_widget.capturing.score_changes import OffsetBias, read_bias

N = 300  # past relative_attention_max_distance (128): the far buckets are shared


@pytest.fixture(scope="module")
def model_bias():
    torch.manual_seed(0)
    config = T5Config(num_heads=4, d_model=32, d_kv=8, relative_attention_num_buckets=32, relative_attention_max_distance=128)
    attention = T5Attention(config, has_relative_attention_bias=True)
    with torch.no_grad():
        return attention.compute_bias(N, N)[0]  # (H, N, N)


WINDOWS = {
    "whole": (slice(0, N), 0, N),
    "a tile off the diagonal": (slice(200, 264), 10, 74),
    "rows past the keys": (slice(250, 300), 0, 40),
    "sampled rows": (torch.tensor([0, 7, 133, 299]), 5, 290),
}


@pytest.mark.parametrize("row_by_row", [True, False])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_a_window_gets_the_models_bias(model_bias, window, row_by_row, monkeypatch):
    monkeypatch.setattr(score_changes, "_row_by_row", lambda device: row_by_row)
    compact = read_bias(model_bias, None, 4, "T5's position bias")
    assert isinstance(compact, OffsetBias)
    rows, k0, k1 = WINDOWS[window]
    for head in range(4):
        n_rows = len(range(N)[rows]) if isinstance(rows, slice) else len(rows)
        out = torch.zeros(n_rows, k1 - k0)
        compact.add_to(out, head, rows, k0, k1)
        assert torch.equal(out, model_bias[head][rows, k0:k1])
