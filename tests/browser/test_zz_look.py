import numpy as np

from attn_widget import AttentionWidget
from tests.support.widget_page import cell_center, kernel_synced, tooltip_text


def _words():
    toks = "the cat sat on the mat and the cat ran".split()
    rng = np.random.default_rng(1)
    a = rng.random((4, 6, len(toks), len(toks))).astype(np.float32) ** 4
    a /= a.sum(-1, keepdims=True)
    return a, toks


def test_look(page, mount):
    a, toks = _words()
    w = AttentionWidget(a, toks, grid_metric="induction")
    mount(w, width=1100)
    grid = page.locator("[data-testid=attn-grid]")
    box = grid.bounding_box()
    mc = float(grid.evaluate("c => c.dataset.meanColumn"))
    x, y = cell_center(page, "attn-grid", 1, 0)
    page.mouse.click(box["x"] + mc + 5, y)
    kernel_synced(page)
    print("head", w.head)
    page.mouse.move(*cell_center(page, "attn-heatmap", 3, 2))
    print(tooltip_text(page))
    page.screenshot(path="test-results/look-aggregate.png")


def test_look_compare(page, mount):
    a, toks = _words()
    b = a[:, :, :, ::-1].copy()
    w = AttentionWidget.compare(a, b, toks, labels=("clean", "corrupted"))
    mount(w, width=1100)
    page.mouse.move(*cell_center(page, "attn-heatmap", 3, 2))
    page.wait_for_timeout(300)
    page.mouse.move(*cell_center(page, "attn-heatmap", 3, 3))
    print(tooltip_text(page))
    page.screenshot(path="test-results/look-compare.png")


def test_look_spans(page, mount):
    a, toks = _words()
    w = AttentionWidget(a, toks)
    mount(w, width=1100)
    x, y0 = cell_center(page, "attn-heatmap", 2, 0)
    _, y1 = cell_center(page, "attn-heatmap", 5, 0)
    page.keyboard.down("Shift")
    page.mouse.move(x, y0)
    page.mouse.down()
    page.mouse.move(x, y1, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    kernel_synced(page)
    print("queries", w.queries)
    page.evaluate("() => window.__views[0].model.pull()")
    page.wait_for_timeout(300)
    page.mouse.move(*cell_center(page, "attn-strip", 0, 4))
    print(tooltip_text(page))
    page.screenshot(path="test-results/look-spans.png")
