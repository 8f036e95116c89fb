"""A grid that fills in: estimated scores first, the kernel answering tiles while the background
worker refines them, and exact scores at the end equal to the metrics of the full attention."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import attn_widget.widget.grid_feed as widget_module
from attn_widget import AttentionWidget
from attn_widget.engine.grid_scores import Refiner
from attn_widget.engine.metrics import max_off_diagonal, mean_row_entropy
from attn_widget.wire.dec3 import dec3_bytes
from tests.support.fake_kernel import frontend_custom


class _HeldRefiner(Refiner):
    """The grid worker, stopped in the middle of its first head until the test lets it go on."""

    inside = threading.Event()
    go_on = threading.Event()

    def _pause(self) -> None:
        _HeldRefiner.inside.set()
        _HeldRefiner.go_on.wait(30)
        super()._pause()


def causal_attention(layers: int, heads: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.random((layers, heads, n, n), dtype=np.float32) ** 8 * np.tril(np.ones((n, n), dtype=np.float32))
    return a / a.sum(-1, keepdims=True)


def test_the_kernel_answers_tiles_while_the_worker_refines_then_scores_are_exact(
    recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget_module, "EXACT_CELLS", 0)  # estimate even this small input
    monkeypatch.setattr(widget_module, "Refiner", _HeldRefiner)
    _HeldRefiner.inside.clear()
    _HeldRefiner.go_on.clear()
    a = causal_attention(2, 3, 300)
    w = AttentionWidget(a, [f"t{i}" for i in range(300)], eager_bytes=0)
    try:
        assert _HeldRefiner.inside.wait(10), "the worker never started"
        done, total = w.grid_progress
        assert total == 6 and done < total  # estimates on screen, the worker mid-way
        estimate = w.scores(exact=False)
        assert not np.allclose(estimate, mean_row_entropy(a), rtol=1e-6)  # sampled rows, not all
        # the kernel answers a view's tile at once, with exact values, while the worker is held
        w.comm.take()
        frontend_custom(
            w,
            {
                "type": "tile",
                "id": "v1-1",
                "kind": "self",
                "layer": 1,
                "head": 2,
                "quantity": "attention",
                "version": 0,
                "window": [0, 256, 44, 300],
                "block": [1, 1],
            },
        )
        (message,) = w.comm.take()
        assert message["data"]["content"]["ok"], message["data"]["content"]
        assert message["buffers"] == [dec3_bytes(a[1, 2, 0:256, 44:300])]
        _HeldRefiner.go_on.set()
        assert w.wait_scores(30) and w.grid_progress == (6, 6)
        np.testing.assert_allclose(w.scores("entropy", exact=False), mean_row_entropy(a), rtol=1e-5)
        np.testing.assert_allclose(w.scores("max_attention"), max_off_diagonal(a), rtol=1e-6)
    finally:
        _HeldRefiner.go_on.set()
        w.close()
