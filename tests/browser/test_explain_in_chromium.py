"""The explain button where no kernel can answer: a saved page (w.to_html) says that explaining
needs the kernel instead of waiting, and without a selected cell the button is off. (With a
kernel: tests/e2e/test_explain_jupyterlab.py.)"""

from __future__ import annotations

from attn_widget import AttentionWidget
from tests.support.arrays import softmax_attention
from tests.support.widget_page import cell_center

TOKENS = ["<s>", "the", "cat", "sat", "down"]


def test_a_saved_page_says_explaining_needs_the_kernel(offline_page, tmp_path):
    w = AttentionWidget(softmax_attention(layers=2, heads=2, n=len(TOKENS), seed=3, causal=True), TOKENS)
    page = offline_page(w.to_html(tmp_path / "page.html"))
    button = page.locator("[data-testid=attn-explain]")
    assert button.is_disabled()  # no cell selected yet
    page.mouse.click(*cell_center(page, "attn-heatmap", 3, 1))
    assert button.is_enabled()
    button.click()
    panel = page.locator("[data-testid=attn-explain-panel][data-state=error]")
    panel.wait_for()
    assert "needs the kernel" in (panel.text_content() or "")
