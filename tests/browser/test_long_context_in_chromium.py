"""Long inputs in real Chromium with a real Python widget behind the fake model: tiles at every
level of detail, two views of one lazy widget, the window trait both ways, and a grid that
starts from estimates and becomes exact. Every number read from a tooltip is checked against
numbers Python computed."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

import attn_widget.widget.grid_feed as widget_module
from attn_widget import AttentionWidget
from attn_widget.engine.grid_scores import ESTIMATE_CELLS, MAX_SAMPLE, MIN_SAMPLE, Refiner, sample_rows
from tests.support.widget_page import cell_center, kernel_synced, next_frame, tiles_answered

N = 2048


def sharp_attention(layers: int, heads: int, n: int, seed: int = 0) -> np.ndarray:
    """Causal rows with a few large weights each, so block maxima differ from block to block."""
    rng = np.random.default_rng(seed)
    a = rng.random((layers, heads, n, n), dtype=np.float32) ** 12
    a *= np.tril(np.ones((n, n), dtype=np.float32))
    a /= a.sum(-1, keepdims=True)
    return a


def fmt(v: float) -> str:
    return format(float(v), ".3g")


def tip(page, index: int = 0) -> str:
    t = page.locator("[data-testid=attn-widget]").nth(index).locator("[data-testid=attn-tooltip]")
    t.wait_for(state="visible")
    return t.text_content() or ""


def hover(page, testid: str, q: int, k: int, index: int = 0) -> str:
    page.locator(f"[data-testid={testid}]").nth(index).scroll_into_view_if_needed()
    page.mouse.move(*cell_center(page, testid, q, k, nth=index))
    return tip(page, index)


def attr(page, name: str, index: int = 0) -> str:
    return page.locator("[data-testid=attn-heatmap]").nth(index).get_attribute(name) or ""


def wait_complete(page, index: int = 0) -> None:
    page.locator("[data-testid=attn-heatmap]").nth(index).and_(page.locator("[data-complete=true]")).wait_for(state="attached")


def check_block_tooltip(text: str, a: np.ndarray, q: int, k: int, b: int) -> None:
    """A pooled pixel: its block's ranges, the largest weight in it, and where that weight is."""
    m = re.search(r"queries (\d+)–(\d+) · keys (\d+)–(\d+)", text)
    assert m, text
    q0, q1, k0, k1 = (int(g) for g in m.groups())
    assert (q0, k0) == (q // b * b, k // b * b) and q1 == min(a.shape[0], q0 + b) - 1 and k1 == min(a.shape[1], k0 + b) - 1, text
    m = re.search(r"largest weight (\S+)\s*at query (\d+) .*?, key (\d+) ", text)
    assert m, text
    value, wq, wk = m.group(1), int(m.group(2)), int(m.group(3))
    block = a[q0 : q1 + 1, k0 : k1 + 1]
    assert value == fmt(block.max()) == fmt(a[wq, wk]), text
    assert q0 <= wq <= q1 and k0 <= wk <= k1 and a[wq, wk] == block.max(), text


def test_two_views_of_one_lazy_widget_draw_their_own_tiles_whatever_the_reply_order(page, mount):
    a = sharp_attention(2, 2, N)
    w = AttentionWidget(a, [f"t{i}" for i in range(N)])
    assert not w.eager
    mount(w, width=1250)
    # a second view, narrower (another level of detail), while the kernel holds every request
    page.evaluate("async () => { window.__hold = true; await window.mount(null, {shareWith: 0, width: 560}); }")
    page.mouse.click(*cell_center(page, "attn-grid", 1, 1))  # both views now want head (1, 1)
    kernel_synced(page)
    assert (w.layer, w.head) == (1, 1)
    next_frame(page)  # each view asks in its next animation frame, scheduled by the click
    assert page.evaluate("() => window.__held.filter((m) => m.layer === 1 && m.head === 1).length") >= 2
    held = page.evaluate("() => window.__held.map((m) => m.id)")
    assert len(held) == len(set(held)) >= 4, held  # ids are unique across the two views
    page.evaluate("() => window.__views[0].model.release('reverse')")  # the last asked is answered first
    for index in (0, 1):
        page.locator("[data-testid=attn-widget]").nth(index).and_(page.locator("[data-head-shown='1,1']")).wait_for(
            state="attached"
        )
        wait_complete(page, index)
    blocks = [int(attr(page, "data-block", i)) for i in (0, 1)]
    assert blocks[0] < blocks[1], blocks  # the narrow view draws coarser blocks
    for index, b in enumerate(blocks):
        assert attr(page, "data-window", index) == f"0,{N},0,{N}"
        for q, k in ((1500, 300), (777, 700), (2047, 2040)):
            check_block_tooltip(hover(page, "attn-heatmap", q, k, index), a[1, 1], q, k, b)


def test_zoom_from_overview_to_exact_cells_and_the_window_trait_both_ways(page, mount):
    a = sharp_attention(1, 2, N, seed=1)
    w = AttentionWidget(a, [f"t{i}" for i in range(N)], head=1)
    mount(w, width=1100)
    wait_complete(page)
    b = int(attr(page, "data-block"))
    assert b > 1 and attr(page, "data-window") == f"0,{N},0,{N}"
    check_block_tooltip(hover(page, "attn-heatmap", 1234, 567), a[0, 1], 1234, 567, b)
    # the same block as Python's w.tile gives it
    span = 256 * b
    q0, k0 = 1234 // span * span, 567 // span * span
    tile = w.tile(0, 1, [q0, min(N, q0 + span), k0, min(N, k0 + span)], b)
    assert f"largest weight {fmt(tile.values[(1234 - q0) // b, (567 - k0) // b])}" in tip(page)

    # Python zooms every view to a window; the canvas says where it is; cells are exact
    w.window = (1000, 1032, 2000, 2032)
    page.evaluate("() => window.__views[0].model.pull()")
    page.wait_for_function("() => document.querySelector('[data-testid=attn-heatmap]').dataset.window === '1000,1032,2000,2032'")
    assert attr(page, "data-block") == "1"
    wait_complete(page)
    text = hover(page, "attn-heatmap", 1010, 2020)
    assert re.search(r"weight (\S+)", text).group(1) == fmt(a[0, 1, 1010, 2020]), text
    assert "query 1010 " in text and "key 2020 " in text

    # the user zooms out in the page: Python's window follows once the gesture settles
    page.mouse.wheel(0, 600)
    # the view sends the window once the gesture settles, then Python must have taken it
    page.wait_for_function("() => window.__views[0].model.saved.some((s) => 'window' in s)")
    kernel_synced(page)
    sent = page.evaluate("() => window.__views[0].model.saved.filter((s) => 'window' in s).at(-1).window")
    shown = [int(v) for v in attr(page, "data-window").split(",")]
    assert w.window == sent == shown and shown[1] - shown[0] > 32


def test_a_head_switch_shows_a_coarse_picture_after_one_reply_then_the_full_level(page, mount):
    a = sharp_attention(2, 2, N, seed=2)
    w = AttentionWidget(a, [f"t{i}" for i in range(N)])
    mount(w, width=1100)
    wait_complete(page)
    page.evaluate("() => { window.__hold = true; }")
    page.mouse.click(*cell_center(page, "attn-grid", 1, 0))
    # The click's requests leave in the view's next animation frame, after the click has returned:
    # answer only once the overview (the whole matrix in one tile) is held.
    overview = f"(m) => m.layer === 1 && m.head === 0 && m.window.join() === '0,{N},0,{N}'"
    page.wait_for_function(f"() => (window.__held ?? []).some({overview})")
    held = page.evaluate("() => window.__held.map((m) => [m.layer, m.head, m.window.join(), m.block[0]])")
    first = next(i for i, m in enumerate(held) if m[2] == f"0,{N},0,{N}")
    # It is the first of the click's requests. Only a prefetch may precede it (the pointer rested on
    # the grid cell for 120 ms before the click): one tile of the same head at the full level.
    fine = int(attr(page, "data-block"))
    assert first <= 1 and all(m[:2] == [1, 0] and m[3] == fine for m in held[:first]), held
    page.evaluate(
        f"() => {{ const i = window.__held.findIndex({overview}); window.__held.unshift(...window.__held.splice(i, 1)); }}"
    )
    page.evaluate("() => window.__views[0].model.release('first')")  # the kernel answers the overview only
    root = page.locator("[data-testid=attn-widget]")
    root.and_(page.locator("[data-head-preview='1,0']")).wait_for(state="attached")
    assert root.get_attribute("data-head-shown") != "1,0" and attr(page, "data-complete") == "false"
    # the stand-in's numbers are Python's too: a coarser block, with its largest weight
    text = hover(page, "attn-heatmap", 1500, 1000)
    b = int(re.search(r"a block of (\d+) ×", text).group(1))
    assert b > int(attr(page, "data-block")) and "finer tiles loading" in text
    check_block_tooltip(text, a[1, 0], 1500, 1000, b)
    page.evaluate("() => window.__views[0].model.release()")
    root.and_(page.locator("[data-head-shown='1,0']")).wait_for(state="attached")
    wait_complete(page)


def test_the_track_follows_the_heatmaps_keys_and_pools_by_maximum(page, mount):
    a = sharp_attention(1, 1, N, seed=3)
    w = AttentionWidget(a, [f"t{i}" for i in range(N)], query=1800)
    mount(w, width=1100)
    track = page.locator("[data-testid=attn-strip]")
    track.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-testid=attn-strip]').dataset.window === '0,2048'")
    b = int(track.get_attribute("data-block") or 0)
    assert b > 1  # 2048 keys in about 1000 pixels: pooled
    tiles_answered(page, f"(m) => m.type === 'tile' && m.window[0] === 1800 && m.block[1] === {b}")  # the row of query 1800
    page.mouse.move(*cell_center(page, "attn-strip", 0, 1234))
    text = tip(page)
    m = re.search(r"keys (\d+)–(\d+) .*largest weight (\S+) at key (\d+) ", text, re.S)
    assert m, text
    k0, k1, value, at = int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))
    row = a[0, 0, 1800]
    assert k0 == 1234 // b * b and k1 == k0 + b - 1 and value == fmt(row[k0 : k1 + 1].max()) == fmt(row[at])
    # zooming the heatmap zooms the track's keys with it, down to single keys with their words
    w.window = (1790, 1810, 1200, 1240)
    page.evaluate("() => window.__views[0].model.pull()")
    page.wait_for_function("() => document.querySelector('[data-testid=attn-strip]').dataset.window === '1200,1240'")
    tiles_answered(
        page, "(m) => m.type === 'tile' && m.window[0] === 1800 && m.block[1] === 1 && m.window[2] <= 1234 && 1234 < m.window[3]"
    )
    page.mouse.move(*cell_center(page, "attn-strip", 0, 1234))
    text = tip(page)
    assert 'key 1234 "t1234"' in text and f"weight {fmt(row[1234])}" in text, text
    # the row tile reaches past the window; nothing of it is drawn between the plot and colour bar
    gap = track.evaluate(
        """c => { const [x, y, w, h] = c.dataset.plot.split(',').map(Number);
                  return Array.from(c.getContext('2d').getImageData(x + w + 2, y + h / 2, 8, 1).data); }"""
    )
    assert max(gap[3::4]) == 0, gap


class _GatedRefiner(Refiner):
    """The grid worker, held until the test opens the gate."""

    gate = threading.Event()

    def _run(self) -> None:
        self.gate.wait(30)
        super()._run()


def test_the_grid_shows_estimates_with_their_error_then_exact_scores(page, mount, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(widget_module, "EXACT_CELLS", 0)  # estimate even a small input
    monkeypatch.setattr(widget_module, "Refiner", _GatedRefiner)
    _GatedRefiner.gate.clear()
    layers, heads, n = 2, 3, 600
    a = sharp_attention(layers, heads, n, seed=4)
    w = AttentionWidget(a, [f"t{i}" for i in range(n)])
    try:
        mount(w, width=1100)
        status = page.locator("[data-testid=attn-grid-status]")
        assert status.get_attribute("data-done") == "0" and "refining scores: 0 of 6" in (status.text_content() or "")
        # the estimate, recomputed here from the same stratified sample of rows
        m = int(np.clip(ESTIMATE_CELLS // (layers * heads * n), MIN_SAMPLE, MAX_SAMPLE))
        rows = sample_rows(n, m)
        p = a[1, 2].astype(np.float64)
        ent = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(-1)
        mean = ent[rows].mean()
        se = ent[rows].std(ddof=1) / np.sqrt(m) * np.sqrt(1 - m / n)
        text = hover(page, "attn-grid", 1, 2)
        assert f"≈ {fmt(mean)} (estimate)" in text and f"standard error {fmt(se)}, from {m} of {n} query rows" in text, text
        assert fmt(w.scores(exact=False)[1, 2]) == fmt(mean)
        # the worker refines; the view shows exact scores (Python's, and the mean over every row)
        _GatedRefiner.gate.set()
        assert w.wait_scores(30)
        page.evaluate("() => window.__views[0].model.pull()")
        page.locator("[data-testid=attn-widget][data-grid-exact=true]").wait_for(state="attached")
        page.mouse.move(0, 0)
        text = hover(page, "attn-grid", 1, 2)
        assert "estimate" not in text and f": {fmt(w.scores()[1, 2])}" in text, text
        assert fmt(w.scores()[1, 2]) == fmt(ent.mean())
        assert (status.text_content() or "") == ""
    finally:
        _GatedRefiner.gate.set()
        w.close()


def test_a_silent_kernel_is_named_within_seconds_and_hovers_keep_working(page, mount):
    """A saved notebook reopened without its kernel, or a kernel that died: requests go out and
    nothing comes back. The heatmap says so after SILENCE_MS; the grid still answers hovers."""
    a = sharp_attention(2, 2, 64, seed=4)
    w = AttentionWidget(a, [f"t{i}" for i in range(64)], eager_bytes=0)
    mount(w, width=1100)
    page.locator("[data-head-shown='0,0']").wait_for(state="attached")
    page.evaluate("() => { window.__hold = true; }")  # from now on the kernel never answers
    page.mouse.click(*cell_center(page, "attn-grid", 1, 1))
    next_frame(page)  # the heatmap draws the new head (and says what it waits for) in its next frame
    heat = page.locator("[data-testid=attn-heatmap]")
    assert "loading layer 1, head 1" in heat.get_attribute("data-status")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=attn-heatmap]').dataset.status.startsWith('no answer from the kernel')",
        timeout=9000,
    )
    assert "needs a running kernel" in heat.get_attribute("data-status")
    page.mouse.move(*cell_center(page, "attn-grid", 0, 1))
    tip = page.locator("[data-testid=attn-tooltip]")
    tip.wait_for(state="visible")
    assert "layer 0 · head 1" in tip.text_content()
