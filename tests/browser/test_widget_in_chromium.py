"""The built bundle in real Chromium, with a real Python widget behind a fake model: the numbers
in the tooltips are the numbers Python computed, and clicks reach the Python traits."""

from __future__ import annotations

import re

import numpy as np
import pytest

from attn_widget import AttentionWidget
from tests.support.arrays import softmax_attention
from tests.support.widget_page import cell_center, kernel_synced, outline_at, tooltip_text, wheel

TOKENS = ["<CHI>", "painted", "a", "picture", "of", "a", "horse", "<CHI>", "my", "favorite", "animal", "is", "the"]
N = len(TOKENS)


def widget(**kwargs) -> AttentionWidget:
    return AttentionWidget(softmax_attention(layers=4, heads=5, n=N, seed=3, causal=True), TOKENS, **kwargs)


def weight_in(text: str) -> str:
    """The exact weight in a cell-level tooltip (its rank in the row follows when the whole row
    is in the page: always for short inputs, not when a long input is zoomed in)."""
    match = re.search(r"weight (\S+)(?: · rank (\d+) of (\d+))?", text)
    assert match, text
    return match.group(1)


def expected_rank(row: np.ndarray, k: int) -> int:
    shown = np.array([float(format(float(v), ".3g")) for v in row])
    return 1 + int((shown > shown[k]).sum())


def view_state(page, index: int = 0) -> dict:
    return page.evaluate(
        "i => { const r = document.querySelectorAll('[data-testid=attn-widget]')[i];"
        " return {shown: r.dataset.headShown, selection: r.querySelector('[data-testid=attn-selection]').textContent}; }",
        index,
    )


def wait_shown(page, layer: int, head: int, index: int = 0) -> None:
    page.locator("[data-testid=attn-widget]").nth(index).and_(page.locator(f"[data-head-shown='{layer},{head}']")).wait_for(
        state="attached"
    )


@pytest.mark.parametrize("eager", [True, False], ids=["all-heads-up-front", "heads-on-request"])
def test_heatmap_tooltip_shows_the_weight_python_computed(page, mount, eager):
    w = widget(layer=2, head=3, eager_bytes=10**9 if eager else 0)
    mount(w)
    for q, k in [(6, 6), (12, 6), (12, 0), (9, 3), (0, 0)]:
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
        text = tooltip_text(page)
        value = w.attention[2, 3, q, k]
        assert weight_in(text) == format(float(value), ".3g"), text
        assert f'query {q} "{TOKENS[q]}"' in text and f'key {k} "{TOKENS[k]}"' in text
        assert f"rank {expected_rank(w.attention[2, 3, q], k)} of {N} in row" in text


def test_grid_tooltip_shows_the_score_python_computed(page, mount):
    w = widget()
    mount(w)
    scores = w.scores()
    for layer, head in [(0, 0), (3, 4), (1, 2)]:
        page.mouse.move(*cell_center(page, "attn-grid", layer, head))
        text = tooltip_text(page)
        assert f"layer {layer} · head {head}" in text
        assert text.endswith(f"entropy (nats, mean over queries): {format(float(scores[layer, head]), '.3g')}")


def test_strip_tooltip_shows_the_selected_querys_row(page, mount):
    w = widget(layer=1, head=4, query=12)
    mount(w)
    strip = page.locator("[data-testid=attn-strip]")
    cols = int(strip.get_attribute("data-cols"))
    for j in [6, 0, 12]:
        page.mouse.move(*cell_center(page, "attn-strip", j // cols, j % cols))
        text = tooltip_text(page)
        assert 'query 12 "the"' in text and f'key {j} "{TOKENS[j]}"' in text
        assert weight_in(text) == format(float(w.attention[1, 4, 12, j]), ".3g")


def test_clicks_set_the_selection_in_python(page, mount):
    w = widget()
    seen = []
    w.observe(lambda c: seen.append((c["name"], c["new"])), names=["layer", "head", "query", "key"])
    mount(w)
    page.mouse.click(*cell_center(page, "attn-grid", 2, 4))
    wait_shown(page, 2, 4)
    kernel_synced(page)  # the page shows the head before Python has read the message
    assert (w.layer, w.head) == (2, 4)
    page.mouse.click(*cell_center(page, "attn-heatmap", 11, 6))
    kernel_synced(page)
    assert (w.query, w.key) == (11, 6)
    strip = page.locator("[data-testid=attn-strip]")
    cols = int(strip.get_attribute("data-cols"))
    page.mouse.click(*cell_center(page, "attn-strip", 3 // cols, 3 % cols))
    kernel_synced(page)
    assert (w.query, w.key) == (11, 3)
    page.mouse.click(*cell_center(page, "attn-heatmap", 11, 3))  # same cell again: clears
    kernel_synced(page)
    assert (w.query, w.key) == (-1, -1)
    assert page.evaluate("() => window.__views[0].model.saved.length") == 4  # one message per click
    assert seen[:4] == [("layer", 2), ("head", 4), ("query", 11), ("key", 6)]
    assert "layer 2 · head 4" in view_state(page)["selection"]


def test_setting_the_head_in_python_moves_the_outline_and_the_heatmap(page, mount):
    w = widget(eager_bytes=0)
    mount(w)
    assert outline_at(page, 0, 0) and not outline_at(page, 3, 2)
    w.layer, w.head = 3, 2
    page.evaluate("window.__views[0].model.pull()")
    wait_shown(page, 3, 2)  # the grid's outline is drawn in the same frame as the heatmap
    assert outline_at(page, 3, 2) and not outline_at(page, 0, 0)
    page.mouse.move(*cell_center(page, "attn-heatmap", 12, 6))
    assert weight_in(tooltip_text(page)) == format(float(w.attention[3, 2, 12, 6]), ".3g")
    w.query = 12
    page.evaluate("window.__views[0].model.pull()")
    page.wait_for_function("() => document.querySelector('.attn-caption').textContent.startsWith('attention from query 12')")


def test_metric_control_changes_the_python_trait_and_the_grid(page, mount):
    w = widget()
    mount(w)
    page.select_option("[data-testid=attn-metric]", "max_attention")
    kernel_synced(page)  # Python took the metric, and its new scores reached the grid
    assert w.grid_metric == "max_attention"
    page.mouse.move(*cell_center(page, "attn-grid", 1, 3))
    text = tooltip_text(page)
    assert f"max attention (excl. first token & diagonal): {format(float(w.scores()[1, 3]), '.3g')}" in text


def test_untrusted_tokens_show_literally_and_run_nothing(page, mount):
    hostile = ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=2</script>", "&amp;", "b"]
    w = AttentionWidget(softmax_attention(layers=1, heads=1, n=4), hostile)
    mount(w)
    page.mouse.move(*cell_center(page, "attn-heatmap", 0, 1))
    text = tooltip_text(page)
    assert 'query 0 "<img src=x onerror=\\"window.__pwned=1\\">"' in text
    assert 'key 1 "<script>window.__pwned=2</script>"' in text
    # An <img src=x onerror=...> let in anywhere, even detached, asks for x (the page's errors
    # would show its 404) and runs its handler when that fails. Ask for an image of our own after
    # the hover: requests are answered in turn, so once ours has failed, theirs has too.
    page.route("**/after-the-hover", lambda route: route.fulfill(status=200, body=""))  # not an image: onerror, no 404
    page.evaluate(
        "() => new Promise((done) => { const img = new Image(); img.onerror = () => done(); img.src = 'after-the-hover'; })"
    )
    assert page.evaluate("() => window.__pwned === undefined")
    assert (
        page.evaluate("() => document.querySelectorAll('[data-testid=attn-widget] img, [data-testid=attn-widget] script').length")
        == 0
    )
    caption = page.locator(".attn-caption").text_content()
    assert "&amp;" not in caption and "<img" not in caption  # the last token "b" is shown, as text


def test_removing_a_view_leaves_no_listeners_and_a_second_view_stays_in_sync(page, mount):
    w = widget()
    mount(w)
    page.evaluate("window.mount(null, {shareWith: 0})")
    page.locator("[data-testid=attn-widget]").nth(1).and_(page.locator("[data-ready=true]")).wait_for(state="attached")
    page.locator("[data-testid=attn-grid]").nth(1).scroll_into_view_if_needed()
    page.mouse.click(*cell_center(page, "attn-grid", 3, 1, nth=1))
    wait_shown(page, 3, 1, index=0)  # the first view follows a click in the second
    kernel_synced(page)
    assert (w.layer, w.head) == (3, 1)
    counts = page.evaluate(
        """() => {
          const m = window.__views[0].model;
          const both = m.listenerCount();
          window.__views[1].cleanup();
          const one = m.listenerCount();
          window.__views[0].cleanup();
          return [both, one, m.listenerCount(), document.querySelectorAll('[data-testid=attn-widget]').length];
        }"""
    )
    assert counts[0] == 2 * counts[1] and counts[2] == 0 and counts[3] == 0


def test_long_input_zooms_pans_and_still_answers_hover_exactly(page, mount):
    n = 2048
    rng = np.random.default_rng(0)
    a = rng.random((2, 2, n, n), dtype=np.float32) ** 8
    a /= a.sum(-1, keepdims=True)
    w = AttentionWidget(a, [f"tok{i}" for i in range(n)])
    assert not w.eager
    mount(w, width=1100)
    heat = page.locator("[data-testid=attn-heatmap]")
    assert heat.get_attribute("data-rows") == str(n)
    x, y = cell_center(page, "attn-heatmap", 1500, 300)
    page.mouse.move(x, y)
    wheel(page, -400, times=12)
    # every cell shown is exact once the tiles of the zoomed window are here
    heat.and_(page.locator("[data-complete=true]")).wait_for(state="attached")
    rows = int(heat.get_attribute("data-rows"))
    assert rows <= 40
    row0, col0 = int(heat.get_attribute("data-row0")), int(heat.get_attribute("data-col0"))
    assert row0 <= 1500 < row0 + rows and col0 <= 300 < col0 + rows  # zoomed about the pointer
    q, k = row0 + rows // 2, col0 + rows // 3
    page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
    text = tooltip_text(page)
    assert f"query {q} " in text and f"key {k} " in text
    assert weight_in(text) == format(float(a[0, 0, q, k]), ".3g")
    # drag to pan: the window moves and the tooltip follows the data under the pointer
    page.mouse.down()
    page.mouse.move(x - 120, y - 80, steps=6)
    page.mouse.up()
    assert (int(heat.get_attribute("data-row0")), int(heat.get_attribute("data-col0"))) != (row0, col0)
    kernel_synced(page)  # what the page sent about the drag has reached Python
    assert w.query == -1  # a drag is not a click
    page.locator("[data-testid=attn-reset-zoom]").click()
    assert heat.get_attribute("data-rows") == str(n)
