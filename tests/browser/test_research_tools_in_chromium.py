"""Detectors, aggregates, comparisons and query spans in Chromium: every tooltip number is the one
Python computed, and every click reaches Python."""

import numpy as np

from attn_widget import AttentionWidget
from attn_widget.wire.dec3 import format_value
from tests.support.widget_page import cell_center, head_shown, kernel_synced, shift_drag_rows, tooltip_text

TOKENS = "the cat sat on the mat and the cat ran".split()


def _attention(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.random((4, 6, len(TOKENS), len(TOKENS))).astype(np.float32) ** 4
    return a / a.sum(-1, keepdims=True)


def _pull(page) -> None:
    """What Python set, to the page (the fake model applies it before the call returns)."""
    page.evaluate("() => window.__views[0].model.pull()")


def _aggregate_cell(page, layer: int, head: int) -> tuple[float, float]:
    """The centre of an aggregate cell: the mean column (head -1), the mean row (layer -1)."""
    grid = page.locator("[data-testid=attn-grid]")
    box = grid.bounding_box()
    column, row = (float(v) for v in grid.evaluate("c => [c.dataset.meanColumn, c.dataset.meanRow]"))
    side = float(grid.evaluate("c => c.dataset.plot.split(',')[2] / c.dataset.cols"))
    x = box["x"] + column + side / 2 if head < 0 else cell_center(page, "attn-grid", 0, head)[0]
    y = box["y"] + row + side / 2 if layer < 0 else cell_center(page, "attn-grid", layer, 0)[1]
    return x, y


def test_a_detector_chosen_in_the_control_colours_the_grid_with_python_s_values(page, mount):
    w = AttentionWidget(_attention(), TOKENS)
    mount(w)
    page.locator("[data-testid=attn-metric]").select_option("induction")
    kernel_synced(page)  # Python took the metric, and its scores are in the page
    assert w.grid_metric == "induction"
    page.mouse.move(*cell_center(page, "attn-grid", 2, 4))
    text = tooltip_text(page)
    assert "induction (weight on the token after an earlier copy)" in text
    assert text.endswith(format_value(w.scores("induction")[2, 4])), text


def test_aggregate_cells_show_python_s_means_and_select_the_mean_matrix(page, mount):
    a = _attention()
    w = AttentionWidget(a, TOKENS)
    mount(w)
    scores = w.scores("entropy").astype(np.float64)
    page.mouse.move(*_aggregate_cell(page, 1, -1))
    text = tooltip_text(page)
    assert "layer 1 · mean of 6 heads" in text and format_value(scores[1].mean()) in text, text
    page.mouse.move(*_aggregate_cell(page, -1, -1))
    assert "mean of all 24 heads" in tooltip_text(page) and format_value(scores.mean()) in tooltip_text(page)
    page.mouse.click(*_aggregate_cell(page, 1, -1))
    kernel_synced(page)
    assert (w.layer, w.head) == (1, -1)
    page.locator("[data-testid=attn-widget][data-head-shown='1,-1']").wait_for()
    page.mouse.move(*cell_center(page, "attn-heatmap", 3, 2))
    text = tooltip_text(page)
    python = w.tile(1, -1, [0, 10, 0, 10]).values[3, 2]
    assert f"layer 1 · mean of 6 heads: weight {format_value(python)}" in text, text
    assert format_value(python) == format_value(a[1, :, 3, 2].astype(np.float64).mean())
    # the mean over layers of one head, set from Python
    w.layer, w.head = -1, 4
    _pull(page)
    page.locator("[data-testid=attn-widget][data-head-shown='-1,4']").wait_for()
    page.mouse.move(*cell_center(page, "attn-heatmap", 5, 1))
    assert f"head 4 · mean over 4 layers (4 heads): weight {format_value(w.tile(-1, 4, [0, 10, 0, 10]).values[5, 1])}" in (
        tooltip_text(page)
    )


def test_a_comparison_shows_b_minus_a_with_its_sign_and_both_runs_in_the_tooltip(page, mount):
    a = _attention(1)
    b = a[:, :, :, ::-1].copy()
    w = AttentionWidget.compare(a, b, TOKENS, labels=("clean", "corrupted"))
    mount(w)
    page.locator("[data-testid=attn-widget][data-head-shown='0,0']").wait_for()
    # data-head-shown covers b - a; each run's tiles (for the tooltip) were asked for with it, and
    # the tooltip is written when the pointer moves: have them all here first
    kernel_synced(page)
    diff = w._sources.runs().difference(0, 0)
    for q, k in ((3, 3), (1, 8)):
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
        text = tooltip_text(page)
        sign = "+" if diff[q, k] > 0 else ""
        assert f"corrupted − clean = {sign}{format_value(diff[q, k])}" in text, text
        assert f"clean {format_value(a[0, 0, q, k])} · corrupted {format_value(b[0, 0, q, k])}" in text, text
    page.mouse.move(*cell_center(page, "attn-grid", 2, 3))
    text = tooltip_text(page)
    assert "Jensen-Shannon" in text and text.endswith(format_value(w.scores("js_divergence")[2, 3])), text
    # the toolbar switches the heatmap to one run's weights, in Python too
    control = page.locator("[data-testid=attn-compare-quantity]")
    assert control.locator("option").all_text_contents() == ["corrupted − clean", "clean only", "corrupted only"]
    control.select_option("b")
    kernel_synced(page)
    assert w.heatmap_quantity == "b"
    head_shown(page, 0, 0)  # the same head, now run b's weights
    page.mouse.move(*cell_center(page, "attn-heatmap", 1, 8))
    assert f"weight {format_value(b[0, 0, 1, 8])}" in tooltip_text(page)
    assert "attention weights of corrupted" in page.locator(".attn-title").text_content()


def test_query_spans_sync_both_ways_and_the_strip_shows_their_mean_row(page, mount):
    a = _attention()
    w = AttentionWidget(a, TOKENS)
    mount(w)
    shift_drag_rows(page, 2, 5)
    kernel_synced(page)  # Python took the rows, and its mean row is in the page
    assert w.queries == [2, 3, 4, 5]
    page.mouse.move(*cell_center(page, "attn-strip", 0, 4))
    text = tooltip_text(page)
    assert "queries 2–5: mean of 4 rows" in text
    assert f"mean attention weight {format_value(w.queries_row()[4])}" in text, text
    assert format_value(w.queries_row()[4]) == format_value(a[0, 0, 2:6, 4].astype(np.float64).mean())
    # shift-click extends from the selected query
    page.mouse.click(*cell_center(page, "attn-heatmap", 7, 1))
    kernel_synced(page)
    assert (w.query, w.queries) == (7, [])
    page.keyboard.down("Shift")
    page.mouse.click(*cell_center(page, "attn-heatmap", 9, 1))
    page.keyboard.up("Shift")
    kernel_synced(page)
    assert w.queries == [7, 8, 9]
    # Python sets them: the heatmap marks them, the strip says so
    w.queries = [1, 6]
    _pull(page)
    assert page.locator("[data-testid=attn-heatmap]").evaluate("c => c.dataset.queries") == "1,6"
    page.wait_for_function("() => document.querySelector('.attn-caption').textContent.includes('2 queries (1, 6)')")
