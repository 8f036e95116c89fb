"""While a model writes, a head's full pass (its rows' log-sum-exps and base level, what every tile
of the heatmap is cut from) is extended by the new rows, not redone (engine/grown_pass.py): the
extended pass equals a fresh pass of the longer capture, and only the new rows are computed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from attn_widget import AttentionWidget
from attn_widget.engine import tiles
from attn_widget.engine.tiles import TileEngine, _full_pass
from tests.support.models import tiny_family


@pytest.fixture(scope="module")
def decoding() -> Any:
    model, tokenizer = tiny_family("llama")  # RoPE and grouped-query heads
    w = AttentionWidget.generate(model, tokenizer, "the cat sat on the", max_new_tokens=40)
    w.wait()
    return w._decoding


class CountingSource:
    """A head source that records the first row of every chunk it is asked to fill."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self.rows: list[int] = []

    def fill(self, buf: Any, rows: slice, k0: int, k1: int) -> None:
        self.rows.append(rows.start)
        self._source.fill(buf, rows, k0, k1)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def _pass(source: Any, prior: Any = None) -> Any:
    return _full_pass(source, metrics=False, square=True, ids=None, images=None, pause=None, prior=prior)


@pytest.mark.parametrize("base_side", [1024, 4], ids=["cells", "8x8-blocks"])
@pytest.mark.parametrize("grown_by", [1, 9, 16])
def test_an_extended_pass_equals_a_fresh_one(
    decoding: Any, monkeypatch: pytest.MonkeyPatch, base_side: int, grown_by: int
) -> None:
    monkeypatch.setattr(tiles, "BASE_SIDE", base_side)  # 4 blocks a side: 8 x 8 blocks at 45 tokens
    n = len(decoding.ids)
    shorter, longer = decoding.snapshot(n - grown_by).kind(), decoding.snapshot(n).kind()
    for layer, head in [(0, 0), (1, 3)]:
        prior = _pass(shorter.source(layer, head))
        counting = CountingSource(longer.source(layer, head))
        grown = _pass(counting, prior)
        fresh = _pass(longer.source(layer, head))
        assert grown.base_block == fresh.base_block
        torch.testing.assert_close(grown.lse, fresh.lse, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(grown.base_values, fresh.base_values, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(grown.base_where, fresh.base_where)
        assert grown.peak == pytest.approx(fresh.peak, rel=1e-6)
        b0 = prior.base_block
        if b0 == fresh.base_block:
            assert min(counting.rows) == (n - grown_by) // b0 * b0, "rows the shorter pass held were computed again"
        else:  # the base level's block grew (30 -> 46 tokens at 4 blocks a side): a pass of its own
            assert min(counting.rows) == 0


def test_the_engine_extends_the_pass_of_the_head_shown(decoding: Any) -> None:
    n = len(decoding.ids)
    engine = TileEngine()
    engine.full_pass(("head", n - 5), decoding.snapshot(n - 5).kind().source(0, 1))
    engine.grown(lambda key: key[1] != n, lambda key: key[0])
    counting = CountingSource(decoding.snapshot(n).kind().source(0, 1))
    engine.full_pass(("head", n), counting)
    assert counting.rows == [n - 5]
    again = CountingSource(decoding.snapshot(n).kind().source(0, 2))  # a head with no earlier pass
    engine.full_pass(("other", n), again)
    assert again.rows == [0]
