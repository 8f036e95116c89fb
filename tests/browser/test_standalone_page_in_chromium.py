"""w.to_html pages opened the way their reader opens them: from file://, in Chromium with the
network blocked. They answer hovers with Python's numbers, switch heads among those included,
say so for a head left out, and no token can break out of the inline data."""

from __future__ import annotations

import re

import pytest

from attn_widget import AttentionWidget
from attn_widget.export.page import PageTooLarge
from tests.support.arrays import softmax_attention
from tests.support.widget_page import cell_center, head_shown, tooltip_text, wheel

TOKENS = ["<s>", "</script><script>alert(1)</script>", "a", "<!--", "b", "]]>", "c", "&lt;", "d"]
N = len(TOKENS)


def weight_of(text: str) -> str:
    m = re.search(r"weight (\S+)", text)
    assert m, text
    return m.group(1)


def test_page_answers_hovers_with_pythons_numbers_offline(offline_page, tmp_path):
    att = softmax_attention(layers=3, heads=4, n=N, seed=11, causal=True)
    w = AttentionWidget(att, TOKENS, layer=2, head=1)
    path = w.to_html(tmp_path / "page.html")
    html = path.read_text(encoding="utf-8")
    assert "</script><script>alert(1)" not in html  # the token sits escaped inside the JSON
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    page = offline_page(path)
    for q, k in [(8, 1), (1, 1), (5, 3), (8, 8)]:
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
        text = tooltip_text(page)
        assert weight_of(text) == format(float(att[2, 1, q, k]), ".3g"), text
        assert f"key {k}" in text
    # the hostile token is shown as text
    page.mouse.move(*cell_center(page, "attn-heatmap", 1, 1))
    assert "</script><script>alert(1)</script>" in tooltip_text(page)
    # the grid shows every head's score, as Python has it
    page.mouse.move(*cell_center(page, "attn-grid", 0, 3))
    assert f"{w.scores()[0, 3]:.3g}"[:4] in tooltip_text(page)


def test_clicking_the_grid_switches_heads_and_a_missing_head_says_so(offline_page, tmp_path):
    att = softmax_attention(layers=2, heads=3, n=N, seed=4, causal=False)
    w = AttentionWidget(att, TOKENS)
    path = w.to_html(tmp_path / "some.html", heads=[(0, 0), (1, 2)])
    page = offline_page(path)
    page.mouse.click(*cell_center(page, "attn-grid", 1, 2))
    page.locator("[data-head-shown='1,2']").wait_for(state="attached")
    page.mouse.move(*cell_center(page, "attn-heatmap", 3, 6))
    assert weight_of(tooltip_text(page)) == format(float(att[1, 2, 3, 6]), ".3g")
    # zoom in and pan: still exact
    x, y = cell_center(page, "attn-heatmap", 4, 4)
    page.mouse.move(x, y)
    wheel(page, -400)
    assert int(page.locator("[data-testid=attn-heatmap]").get_attribute("data-rows")) < N
    page.locator("[data-testid=attn-heatmap][data-complete=true]").wait_for(state="attached")
    page.mouse.move(*cell_center(page, "attn-heatmap", 4, 4))
    assert weight_of(tooltip_text(page)) == format(float(att[1, 2, 4, 4]), ".3g")
    # a head left out of the page
    page.mouse.click(*cell_center(page, "attn-grid", 0, 1))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=attn-heatmap]').dataset.status.includes('layer 0, head 1 is not included in this page')"
    )
    assert page.evaluate("() => document.querySelector('[data-testid=attn-widget]').dataset.headShown") == ""


def test_too_large_pages_and_bad_heads_are_refused_and_write_nothing(tmp_path):
    att = softmax_attention(layers=2, heads=2, n=64, seed=1)
    w = AttentionWidget(att, [f"t{i}" for i in range(64)])
    with pytest.raises(
        PageTooLarge, match=r"about [\d.]+ MB, above max_bytes = 0\.2 MB: the page's code, .* not even one head fits"
    ):
        w.to_html(tmp_path / "big.html", max_bytes=200_000)
    long_w = AttentionWidget(softmax_attention(layers=2, heads=2, n=512, seed=1), [f"t{i}" for i in range(512)])
    with pytest.raises(
        PageTooLarge,
        match=r"about 3\.\d MB, above max_bytes = 2\.1 MB: 4 heads of 512 x 512 weights at 0\.7 MB each.*"
        r"heads=\[\(0, 0\)\] \(at most 2 fit\)",
    ):
        # 2.1 MB: two heads' estimate (1.4 MB) plus the page's code stays clear of the limit as the
        # bundle grows (at 2.0 MB 2 heads fit only while the estimate's fixed part is under 602 kB)
        long_w.to_html(tmp_path / "big.html", max_bytes=2_100_000)
    with pytest.raises(ValueError, match=r"heads\[1\] = \(2, 0\) does not exist: layer must be in \[0, 1\]"):
        w.to_html(tmp_path / "bad.html", heads=[(0, 0), (2, 0)])
    with pytest.raises(ValueError, match=r"heads must be 'all' or a list"):
        w.to_html(tmp_path / "bad.html", heads="some")
    with pytest.raises(ValueError, match=r"heads\[0\] must be a \(layer, head\) pair of ints, got True"):
        w.to_html(tmp_path / "bad.html", heads=[True])
    with pytest.raises(ValueError, match=r"path must end in \.html"):
        w.to_html(tmp_path / "page.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        w.to_html(tmp_path / "missing" / "page.html")
    assert list(tmp_path.iterdir()) == []


def test_saliency_views_work_in_the_page(offline_page, tmp_path):
    from tests.support.models import saliency_widget, tiny_family

    def number_after(name: str, text: str) -> str:
        m = re.search(re.escape(name) + r" (\S+)", text)
        assert m, text
        return m.group(1)

    w = saliency_widget(tiny_family("gpt2", seed=1), layer=1, head=2)
    path = w.to_html(tmp_path / "saliency.html", heads=[(1, 2), (0, 0)])
    page = offline_page(path)
    # the heatmap as attention x gradient, with Python's numbers
    page.locator("[data-testid=attn-quantity]").select_option("attention_x_gradient")
    head_shown(page, 1, 2)  # the same head as before, now attention x gradient
    t = w.n_tokens - 1
    s = w.saliency.attention_x_gradient[1, 2]
    for k in (0, 3, t):
        page.mouse.move(*cell_center(page, "attn-heatmap", t, k))
        assert number_after("A·∂L/∂A", tooltip_text(page)) == format(float(s[t, k]), ".3g")
    # strip methods: the saved vectors
    page.locator("[data-testid=attn-strip-method]").select_option("gradient_x_input")
    expected = w._sources.saliency_cache().strip("gradient_x_input", 0, 0).values
    cols = int(page.locator("[data-testid=attn-strip]").get_attribute("data-cols"))
    page.locator("[data-testid=attn-strip]").scroll_into_view_if_needed()
    page.mouse.move(*cell_center(page, "attn-strip", 6 // cols, 6 % cols))
    assert number_after("gradient × input", tooltip_text(page)) == format(float(expected[6]), ".3g")
    # grid colours: head importance, every head
    page.locator("[data-testid=attn-metric]").select_option("head_importance")
    page.locator("[data-testid=attn-grid]").scroll_into_view_if_needed()
    page.mouse.move(*cell_center(page, "attn-grid", 2, 3))
    assert tooltip_text(page).endswith(format(float(w.saliency.head_importance[2, 3]), ".3g"))
    # a new target needs the kernel: the page says so and keeps the old one
    page.locator("[data-testid=attn-target]").fill("horse")
    page.locator("[data-testid=attn-target]").press("Enter")
    page.get_by_text("choosing another target needs the kernel").wait_for()


def test_a_comparison_page_keeps_b_minus_a_and_both_runs_offline(offline_page, tmp_path):
    from attn_widget.wire.dec3 import format_value

    a = softmax_attention(layers=2, heads=2, n=N, seed=1)
    b = softmax_attention(layers=2, heads=2, n=N, seed=2)
    w = AttentionWidget.compare(a, b, TOKENS, labels=("clean", "corrupted"))
    page = offline_page(w.to_html(tmp_path / "compare.html"))
    page.mouse.move(*cell_center(page, "attn-heatmap", 4, 2))
    text = tooltip_text(page)
    d = float(b[0, 0, 4, 2]) - float(a[0, 0, 4, 2])
    assert f"corrupted − clean = {'+' if d > 0 else ''}{format_value(w._sources.runs().difference(0, 0)[4, 2])}" in text, text
    assert f"clean {format_value(a[0, 0, 4, 2])} · corrupted {format_value(b[0, 0, 4, 2])}" in text, text
    page.mouse.move(*cell_center(page, "attn-grid", 1, 1))
    assert tooltip_text(page).endswith(format_value(w.scores()[1, 1]))
