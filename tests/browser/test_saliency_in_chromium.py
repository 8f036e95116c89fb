"""Saliency linked across the views in real Chromium, with a real Python widget behind: strip and
heatmap tooltips carry the numbers attn_widget.attribution computed, the target moves from a click on a
query label or a typed word and Python recomputes, spans are drawn, busy state is shown."""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from attn_widget import attribution
from tests.support.models import SALIENCY_TEXT, saliency_widget, tiny_family
from tests.support.widget_page import cell_center, head_shown, kernel_synced, tooltip_text

TEXT = SALIENCY_TEXT


@pytest.fixture(scope="module")
def gpt2():
    return tiny_family("gpt2", seed=1)


def number_after(name: str, text: str) -> str:
    match = re.search(re.escape(name) + r" (\S+) · ", text)
    assert match, text
    return match.group(1)


def strip_cell(page, j: int) -> tuple[float, float]:
    cols = int(page.locator("[data-testid=attn-strip]").get_attribute("data-cols"))
    return cell_center(page, "attn-strip", j // cols, j % cols)


def test_strip_methods_show_the_numbers_attribution_computes(page, mount, gpt2):
    model, tokenizer = gpt2
    w = saliency_widget(gpt2, strip_method="gradient_x_input")
    mount(w)
    expected = attribution.gradient_x_input(model, tokenizer, TEXT)  # independently computed
    assert page.locator("[data-testid=attn-strip-method]").input_value() == "gradient_x_input"
    for j in [0, 6, len(expected) - 1]:
        page.mouse.move(*strip_cell(page, j))
        text = tooltip_text(page)
        assert number_after("gradient × input", text) == format(float(expected[j]), ".3g"), text
    page.locator("[data-testid=attn-strip-method]").select_option("integrated_gradients")
    kernel_synced(page)
    assert w.strip_method == "integrated_gradients"
    ig = attribution.integrated_gradients(model, tokenizer, TEXT, steps=32)
    page.mouse.move(*strip_cell(page, 6))
    assert number_after("integrated gradients", tooltip_text(page)) == format(float(ig[6]), ".3g")
    expect(page.locator(".attn-caption")).to_contain_text("completeness gap")  # written when the strip draws
    assert 'in span "<ENV>"' in tooltip_text(page)
    assert page.locator("[data-testid=attn-strip]").get_attribute("data-spans") == "<ENV>:0-8 <LAN>:8-15"


def test_heatmap_switches_to_attention_x_gradient_with_pythons_numbers(page, mount, gpt2):
    w = saliency_widget(gpt2, layer=1, head=2)
    mount(w)
    page.locator("[data-testid=attn-quantity]").select_option("attention_x_gradient")
    kernel_synced(page)
    assert w.heatmap_quantity == "attention_x_gradient"
    head_shown(page, 1, 2)  # the same head as before, now attention x gradient
    s = w.saliency.attention_x_gradient[1, 2]
    t = w.n_tokens - 1
    for k in [0, 3, t]:
        page.mouse.move(*cell_center(page, "attn-heatmap", t, k))
        text = tooltip_text(page)
        assert number_after("A·∂L/∂A", text) == format(float(s[t, k]), ".3g"), text
        assert "▶ the saliency target position" in text
    assert "attention × gradient" in page.locator(".attn-title").text_content()
    # the grid's saliency metrics: head importance, with Python's numbers
    page.locator("[data-testid=attn-metric]").select_option("head_importance")
    kernel_synced(page)
    assert w.grid_metric == "head_importance"
    page.mouse.move(*cell_center(page, "attn-grid", 2, 3))
    assert tooltip_text(page).endswith(f"{format(float(w.saliency.head_importance[2, 3]), '.3g')}")


def test_clicking_a_query_label_moves_the_target_and_python_recomputes(page, mount, gpt2):
    w = saliency_widget(gpt2, strip_method="attention_x_gradient")
    mount(w)
    version = w._saliency_version
    x, y = cell_center(page, "attn-heatmap", 6, 0)
    plot_x = float(page.locator("[data-testid=attn-heatmap]").get_attribute("data-plot").split(",")[0])
    box = page.locator("[data-testid=attn-heatmap]").bounding_box()
    label_x = box["x"] + plot_x - 20  # on the query label of row 6
    page.mouse.move(label_x, y)
    assert "click: explain the next-token prediction" in tooltip_text(page)
    page.mouse.click(label_x, y)
    kernel_synced(page)
    assert w.target_position == 6
    assert w.saliency.target.position == 6 and w._saliency_version == version + 1
    page.locator("[data-testid=attn-heatmap][data-target='6']").wait_for(state="attached")
    assert "after position 6" in page.locator("[data-testid=attn-target-label]").text_content()
    # rows after the target are exactly zero in the attention x gradient strip row at the target
    page.mouse.move(*strip_cell(page, 9))
    assert number_after("attention × gradient row (selected head)", tooltip_text(page)) == "0"
    assert np.all(w.saliency.attention_x_gradient[:, :, 7:] == 0)


def test_typing_a_target_word_recomputes_and_a_bad_word_is_explained(page, mount, gpt2):
    w = saliency_widget(gpt2)
    mount(w)
    box = page.locator("[data-testid=attn-target]")
    box.fill("horse")
    box.press("Enter")
    kernel_synced(page)
    assert w.target_token == "horse" and w.saliency.target.token == "horse"
    page.wait_for_function("() => document.querySelector('[data-testid=attn-target-label]').textContent.includes(\"'horse'\")")
    box.fill("unbelievably tokenized")
    box.press("Enter")
    kernel_synced(page)
    assert w.target_token == "horse"  # refused: the last good target stays
    status = page.locator("[data-testid=attn-status]")
    assert "is not a single token" in status.text_content()
    assert page.locator("[data-testid=attn-widget]").get_attribute("data-busy") == "false"
