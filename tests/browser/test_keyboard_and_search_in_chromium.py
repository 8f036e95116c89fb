"""Keyboard, screen readers and token search in real Chromium, with a real Python widget behind the
fake model: Tab reaches the grid, the heatmap and the strip, the keys change Python's traits, the
live region reads the tooltip's words, axe-core finds no serious or critical violation in light or
dark, and the search finds every occurrence in 32,768 tokens and jumps to each. Screenshots go to
test-results/ to be looked at."""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np
import pytest
import torch

from attn_widget import AttentionWidget
from attn_widget.capturing.recorder import RecordedCall
from attn_widget.capturing.result import Axis, Capture, RecordedKind
from tests.support.arrays import softmax_attention
from tests.support.axe import serious_violations
from tests.support.widget_page import kernel_synced, next_frame

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"
TOKENS = ["<CHI>", "painted", "a", "picture", "of", "a", "horse", "<CHI>", "my", "favorite", "animal", "is", "the"]
N = len(TOKENS)


def widget(**kwargs) -> tuple[AttentionWidget, np.ndarray]:
    a = softmax_attention(layers=4, heads=5, n=N, seed=3, causal=True)
    return AttentionWidget(a, TOKENS, **kwargs), a


def fmt(v: float) -> str:
    return format(float(v), ".3g")


def active(page) -> str:
    return page.evaluate("() => document.activeElement?.dataset?.testid ?? document.activeElement?.tagName ?? ''")


def tab_to(page, testid: str, limit: int = 30) -> None:
    """Press Tab until ``testid`` has the focus (the keyboard's only way in)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if active(page) == testid:
            return
    raise AssertionError(f"Tab never reached {testid}; last focus {active(page)!r}")


def live(page) -> str:
    return page.locator("[data-testid=attn-live]").text_content() or ""


def tooltip(page) -> str:
    tip = page.locator("[data-testid=attn-tooltip]")
    tip.wait_for(state="visible")
    return tip.text_content() or ""


def spoken(tip: str) -> str:
    return ", ".join(tip.split("\n")).replace(" · ", ", ")


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
    kernel_synced(page)
    next_frame(page)


def test_the_keyboard_walks_grid_heatmap_and_strip_and_changes_pythons_traits(page, mount):
    w, a = widget()
    mount(w)
    tab_to(page, "attn-grid")
    # the focus starts on the selected head; the tooltip shows beside it and the live region reads it
    assert live(page).startswith("layer 0, head 0, entropy") and live(page) == spoken(tooltip(page))
    press(page, "ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight", "ArrowRight")
    assert (w.layer, w.head) == (0, 0), "arrows move the focus, not the selection"
    assert live(page).startswith("layer 2, head 3, entropy"), live(page)
    press(page, "Enter")
    assert (w.layer, w.head) == (2, 3)
    press(page, "End", " ")  # the mean column: the mean over the heads of layer 2
    assert (w.layer, w.head) == (2, -1)
    press(page, "Home", "Enter")
    assert (w.layer, w.head) == (2, 0)

    tab_to(page, "attn-heatmap")
    press(page, *["ArrowDown"] * 6, "ArrowRight")
    text = live(page)
    assert text.startswith('query 6 "horse", key 1 "painted", weight ' + fmt(a[2, 0, 6, 1])), text
    assert text == spoken(tooltip(page))
    press(page, "Enter")
    assert (w.query, w.key) == (6, 1)
    press(page, "Escape")
    assert (w.query, w.key) == (-1, -1)
    press(page, "Space")
    assert (w.query, w.key) == (6, 1)
    press(page, "+")
    page.wait_for_function("() => document.querySelector('[data-testid=attn-heatmap]').dataset.rows < 13")
    kernel_synced(page)
    page.wait_for_timeout(300)  # the window travels once the gesture settles (150 ms)
    kernel_synced(page)
    q0, q1, k0, k1 = w.window
    assert q1 - q0 < N and q0 <= 6 < q1 and k0 <= 1 < k1, w.window
    press(page, "-", "-")
    page.wait_for_timeout(300)
    kernel_synced(page)
    assert list(w.window) in ([], [0, N, 0, N]), w.window

    tab_to(page, "attn-strip")
    press(page, "ArrowRight", "ArrowRight")  # from the selected key, 1
    assert live(page).startswith('query 6 "horse", key 3 "picture", weight ' + fmt(a[2, 0, 6, 3])), live(page)
    press(page, "Enter")
    assert (w.query, w.key) == (6, 3)
    RESULTS.mkdir(exist_ok=True)
    page.locator("[data-testid=attn-widget]").screenshot(path=str(RESULTS / "keyboard-focus-strip.png"))
    press(page, "Escape")
    assert (w.query, w.key) == (6, -1)


def test_at_512_tokens_the_keys_page_zoom_and_the_tooltip_never_hides_the_focused_key(page, mount):
    n = 512
    a = softmax_attention(layers=2, heads=3, n=n, seed=5, causal=True)
    w = AttentionWidget(a, [f"tok{i}" for i in range(n)])
    mount(w, width=1200)
    tab_to(page, "attn-heatmap")
    press(page, "PageDown", "PageDown", *["ArrowRight"] * 5)  # a page is the window: 512 rows
    assert live(page).startswith('query 511 "tok511", key 5 "tok5"'), live(page)
    press(page, "+", "+", "+")
    page.wait_for_timeout(300)  # the window travels once the gesture settles (150 ms)
    kernel_synced(page)
    q0, q1, k0, k1 = w.window
    assert (q1 - q0, k1 - k0) == (64, 64) and q0 <= 511 < q1 and k0 <= 5 < k1, w.window
    press(page, "End", "Enter")
    assert (w.query, w.key) == (511, 511)

    tab_to(page, "attn-strip")  # 16 keys a line at this width: key 511 ends the last line
    press(page, "ArrowUp")
    assert live(page).startswith('query 511 "tok511", key 495 "tok495"'), live(page)
    press(page, "ArrowDown", "ArrowLeft")
    assert live(page).startswith('query 511 "tok511", key 510 "tok510"'), live(page)
    tooltip(page)
    # key 510 is the last line's second cell from the right, at the widget's bottom right corner:
    # the tooltip goes above and left of it, never over it
    canvas = page.locator("[data-testid=attn-strip]")
    box, tip = canvas.bounding_box(), page.locator("[data-testid=attn-tooltip]").bounding_box()
    px, py, pw, ph = (float(v) for v in (canvas.get_attribute("data-plot") or "").split(","))
    lines, per_line = int(canvas.get_attribute("data-rows") or 0), int(canvas.get_attribute("data-cols") or 0)
    assert (lines, per_line) == (32, 16)
    # a point in key 510's cell (the cell is a line's lower part), 16 px above the line's bottom
    x = box["x"] + px + (510 % per_line + 0.5) * pw / per_line
    y = box["y"] + py + (510 // per_line + 1) * ph / lines - 16
    covered = tip["x"] <= x <= tip["x"] + tip["width"] and tip["y"] <= y <= tip["y"] + tip["height"]
    assert not covered, (tip, x, y)
    RESULTS.mkdir(exist_ok=True)
    page.locator("[data-testid=attn-widget]").screenshot(path=str(RESULTS / "keyboard-512-strip.png"))
    press(page, "Enter")
    assert (w.query, w.key) == (511, 510)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation_and_focus_is_visible(page, mount, dark):
    w, _ = widget(spans=[{"name": "child", "start": 0, "end": 7}], search="a")  # marks drawn too
    mount(w, dark=dark)
    tab_to(page, "attn-heatmap")
    page.keyboard.press("ArrowDown")
    bad = serious_violations(page)
    assert bad == [], bad
    # a visible ring on the focused view, in a colour other than the background's
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth, s.outlineColor, getComputedStyle(document.body).backgroundColor]; }"
    )
    assert ring[0] == "solid" and float(ring[1].rstrip("px")) >= 2 and ring[2] != ring[3], ring
    RESULTS.mkdir(exist_ok=True)
    name = "dark" if dark else "light"
    page.locator("[data-testid=attn-widget]").screenshot(path=str(RESULTS / f"keyboard-focus-{name}.png"))


def long_widget(n: int, needle_every: int) -> AttentionWidget:
    """One head of random queries and keys over n tokens (nothing n x n is held), the word
    " Needle" at every ``needle_every``-th position from 7, and "needles" once at the end."""
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(1, n, 8, generator=gen)
    k = torch.randn(1, n, 8, generator=gen)
    call = RecordedCall(module_name="layer0", q=q, k=k, mask=None, causal=True, scaling=1 / math.sqrt(8))
    tokens = [" Needle" if i % needle_every == 7 else f" w{i}" for i in range(n)]
    tokens[-1] = "needles"
    axis = Axis.of(tokens)
    return AttentionWidget(Capture([RecordedKind("self", [call], axis, axis)]))


def test_search_finds_every_occurrence_in_32768_tokens_and_enter_zooms_to_each(page, mount):
    n = 32768
    w = long_widget(n, 1000)
    expected = [i for i in range(n) if i % 1000 == 7] + [n - 1]
    mount(w, width=1250)
    saved_before = page.evaluate("() => window.__views[0].model.saved.length")
    box = page.locator("[data-testid=attn-search]")
    box.click()
    page.keyboard.type("NEEDLE")
    kernel_synced(page)
    count = page.locator("[data-testid=attn-search-count]")
    assert count.text_content() == f"{len(expected)} matches"
    assert w.search == "NEEDLE" and w.search_matches == expected  # Python's rule finds the same
    heat = page.locator("[data-testid=attn-heatmap]")
    assert heat.get_attribute("data-matches") == str(len(expected))
    # typing sent the text, nothing else: no tokens travel for a search
    saved = page.evaluate("(i) => window.__views[0].model.saved.slice(i).map((m) => Object.keys(m))", saved_before)
    assert saved and all(keys == ["search"] for keys in saved), saved
    RESULTS.mkdir(exist_ok=True)
    next_frame(page)
    page.locator("[data-testid=attn-widget]").screenshot(path=str(RESULTS / "search-32k-overview.png"))

    for i in (0, 1, 2):
        page.keyboard.press("Enter")
        assert count.text_content() == f"{i + 1} of {len(expected)}"
        page.wait_for_timeout(250)  # the window travels once it settles (150 ms)
        kernel_synced(page)
        q0, q1, k0, k1 = w.window
        assert k0 <= expected[i] < k1 and q0 <= expected[i] < q1 and k1 - k0 <= 48, (i, w.window)
        assert heat.get_attribute("data-col0") == str(k0)
    heat.and_(page.locator("[data-complete=true]")).wait_for(state="attached")
    next_frame(page)
    page.locator("[data-testid=attn-widget]").screenshot(path=str(RESULTS / "search-32k-match.png"))
    page.keyboard.press("Shift+Enter")
    assert count.text_content() == f"2 of {len(expected)}"
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")  # round the start: the last match
    assert count.text_content() == f"{len(expected)} of {len(expected)}"
    page.wait_for_timeout(250)
    kernel_synced(page)
    assert w.window[3] == n, w.window

    # Python sets the search: the page finds and counts it
    w.search = "w3276"
    page.evaluate("() => window.__views[0].model.pull()")
    page.wait_for_function("() => document.querySelector('[data-testid=attn-search]').value === 'w3276'")
    assert count.text_content() == f"{len(w.search_matches)} matches" and len(w.search_matches) == 8
    assert re.fullmatch(r"\d+", heat.get_attribute("data-matches") or "") and heat.get_attribute("data-matches") == "8"
