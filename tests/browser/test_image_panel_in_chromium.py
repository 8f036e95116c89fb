"""The image panel in real Chromium, a real Python widget behind the page: the picture with the
strip's row drawn over its patches. Its tooltips carry Python's numbers, a click on a patch
reaches ``w.query`` (or ``w.key`` where queries are text), Python's ``w.query`` redraws it in the
heatmap's colours, the opacity control is what the pixels show, and hovering the heatmap or the
strip draws that row on the picture. Tiny random ViT, LLaVA, Mllama, Idefics3 and Qwen2-VL models
with their real processors, on scikit-learn's sample photograph."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from attn_widget import AttentionWidget, capture
from tests.support.vision_models import prompt, sample_image, tiny_vision
from tests.support.widget_page import (
    canvas_rgb,
    cell_center,
    image_drawn,
    kernel_synced,
    patch_center,
    tooltip_text,
)

#: Wide enough for the panel to sit beside the heatmap (narrower widgets put it below).
WIDE = 1240


def captured(family: str) -> Any:
    model, processor = tiny_vision(family)
    return capture(model, processor, prompt(family), images=sample_image())


@pytest.fixture(scope="module")
def vit() -> Any:
    return captured("vit")


@pytest.fixture(scope="module")
def llava() -> Any:
    return captured("llava")


def pull(page: Any) -> None:
    """Deliver what Python changed on its own (w.query = 5) to the page."""
    page.evaluate("window.__views[0].model.pull()")


def patch_line(c: Any, kind: str, patch: np.ndarray, value: float, name: str = "weight") -> str:
    """The tooltip's first line as Python would write it for this patch map row."""
    label = c.kind(kind).keys.tokens[patch[0]]
    match = re.search(r"r(\d+) c(\d+)>$", label)
    assert match, label
    return f"patch (row {match.group(1)}, col {match.group(2)}) · token {patch[0]} · {name} {format(float(value), '.3g')}"


def hover_patch(page: Any, patch: np.ndarray) -> str:
    page.mouse.move(*patch_center(page, patch))
    page.wait_for_function(
        "(t) => document.querySelector('[data-testid=attn-tooltip]').textContent.includes(`token ${t} ·`)", arg=int(patch[0])
    )
    return tooltip_text(page)


def set_opacity(page: Any, key: str) -> None:
    """Move the overlay slider as a user does with the keyboard: Home = 0, End = 1."""
    slider = page.get_by_test_id("attn-image-opacity")
    slider.focus()
    slider.press(key)


def test_hovering_a_patch_says_pythons_weight_and_clicking_it_sets_w_query(page, mount, vit):
    w = AttentionWidget.from_capture(vit, layer=1, head=2)
    mount(w, width=WIDE)
    n = w.n_tokens
    image_drawn(page, row=n - 1, shows="row")  # no query selected: the last token's row
    a = vit.attention(1, 2, "vision")
    patches = vit.patches("vision")
    for patch in patches[[0, 5, 10, 15]]:
        text = hover_patch(page, patch)
        assert text.split("\n")[0] == patch_line(vit, "vision", patch, a[n - 1, patch[0]]), text
        assert f'from query {n - 1} "{w.tokens[n - 1]}"' in text, text
        x0, y0, x1, y1 = patch[2:]
        assert f"pixels x {x0}–{x1 - 1}, y {y0}–{y1 - 1} of 640 × 427" in text, text
    # a click on a patch makes it the query: where does this patch look?
    patch = patches[6]
    page.mouse.click(*patch_center(page, patch))
    kernel_synced(page)
    assert w.query == patch[0]
    image_drawn(page, row=int(patch[0]), shows="row")
    text = hover_patch(page, patches[9])
    assert text.split("\n")[0] == patch_line(vit, "vision", patches[9], a[patch[0], patches[9][0]]), text
    assert "click: where this patch looks (query" in text
    # a second click on the patch that looks clears the query, as on the heatmap
    page.mouse.click(*patch_center(page, patch))
    kernel_synced(page)
    assert w.query == -1


def test_pythons_query_redraws_the_panel_in_the_heatmaps_colours(page, mount, vit):
    """At full overlay each patch has exactly the colour of its heatmap cell (one colour scale);
    at none the photograph shows; in between, a blend of the two."""
    w = AttentionWidget.from_capture(vit, layer=0, head=1)
    mount(w, width=WIDE)
    image_drawn(page)
    w.query = 7
    pull(page)
    image_drawn(page, row=7, shows="row")
    assert "from query 7" in page.locator(".attn-image-panel .attn-image-caption").text_content()
    patch = vit.patches("vision")[12]  # not the patch that looks (query 7 is outlined)
    inside = patch_center(page, patch, at=(0.5, 0.5))
    photo_and_overlay = canvas_rgb(page, "attn-image", *inside)
    set_opacity(page, "End")
    image_drawn(page, row=7, opacity=1)
    full = canvas_rgb(page, "attn-image", *inside)
    # the heatmap's cell (7, token): sampled near its top-left corner, clear of the grid lines
    # and of the number printed in the cell
    cx, cy = cell_center(page, "attn-heatmap", 7, int(patch[0]))
    cell = [float(v) for v in page.get_by_test_id("attn-heatmap").get_attribute("data-plot").split(",")]
    step = cell[2] / w.n_tokens
    assert full == canvas_rgb(page, "attn-heatmap", cx - step * 0.3, cy - step * 0.3)
    set_opacity(page, "Home")
    image_drawn(page, row=7, opacity=0)
    photo = canvas_rgb(page, "attn-image", *inside)
    assert photo != full
    blend = [0.6 * f + 0.4 * p for f, p in zip(full, photo)]  # the default overlay, 0.6
    assert all(abs(b - m) <= 2 for b, m in zip(blend, photo_and_overlay)), (blend, photo_and_overlay)


def test_hovering_the_heatmap_or_a_word_draws_that_row_on_the_picture(page, mount, vit):
    w = AttentionWidget.from_capture(vit, query=3)
    mount(w, width=WIDE)
    image_drawn(page, row=3, shows="row")
    page.mouse.move(*cell_center(page, "attn-heatmap", 11, 4))
    image_drawn(page, row=11, shows="preview")
    assert "from query 11" in page.locator(".attn-image-panel .attn-image-caption").text_content()
    page.mouse.move(5, 5)  # off every view: back to the selected query's row
    image_drawn(page, row=3, shows="row")
    # the strip's words: a word that is a patch is outlined where it sits (the row stays)
    strip = page.get_by_test_id("attn-strip")
    plot = [float(v) for v in strip.get_attribute("data-plot").split(",")]
    box = strip.bounding_box()
    per_line = int(strip.get_attribute("data-cols"))
    j = 9
    page.mouse.move(box["x"] + plot[0] + (j % per_line + 0.5) * 68, box["y"] + plot[1] + (j // per_line + 0.5) * 24)
    image_drawn(page, row=3, shows="row")
    a = vit.attention(0, 0, "vision")
    patch = vit.patches("vision")[j - 1]
    assert patch[0] == j
    text = hover_patch(page, patch)
    assert text.split("\n")[0] == patch_line(vit, "vision", patch, a[3, j])


def test_a_language_models_image_tokens_and_a_kind_switch(page, mount, llava):
    """LLaVA: the picture's tokens sit in the language model's sequence; a patch is a query
    there too. Switching to the vision tower draws its own patches and numbers."""
    w = AttentionWidget.from_capture(llava, layer=1, head=3)
    mount(w, width=WIDE)
    n = w.n_tokens
    image_drawn(page, row=n - 1)
    a = llava.attention(1, 3, "self")
    for patch in llava.patches("self")[[0, 7, 15]]:
        text = hover_patch(page, patch)
        assert text.split("\n")[0] == patch_line(llava, "self", patch, a[n - 1, patch[0]]), text
    patch = llava.patches("self")[10]
    page.mouse.click(*patch_center(page, patch))
    kernel_synced(page)
    assert w.query == patch[0]
    page.get_by_test_id("attn-kind").select_option("vision")
    kernel_synced(page)
    assert w.kind == "vision"
    n_vision = w.n_tokens
    image_drawn(page, row=min(int(patch[0]), n_vision - 1))
    v = llava.attention(1, 3, "vision")
    q = w.query
    for patch in llava.patches("vision")[[0, 15]]:
        text = hover_patch(page, patch)
        assert text.split("\n")[0] == patch_line(llava, "vision", patch, v[q, patch[0]]), text
    # the heatmap's axes mark the image tokens with a band: orange beside the query labels
    heatmap = page.get_by_test_id("attn-heatmap")
    plot = [float(v) for v in heatmap.get_attribute("data-plot").split(",")]
    box = heatmap.bounding_box()
    row_h = plot[3] / n_vision
    first_patch, cls = llava.patches("vision")[0][0], 0
    assert canvas_rgb(page, "attn-heatmap", box["x"] + 15.5, box["y"] + plot[1] + (first_patch + 0.5) * row_h) == (230, 159, 0)
    assert canvas_rgb(page, "attn-heatmap", box["x"] + 15.5, box["y"] + plot[1] + (cls + 0.5) * row_h) != (230, 159, 0)


def test_cross_attention_patches_are_keys_and_a_kind_without_patches_says_so(page, mount):
    """Mllama: text queries attend to the tiles' patches. A click on a patch selects the key (a
    text query cannot be a patch); the language model's own kind holds no patches."""
    c = captured("mllama")
    w = AttentionWidget.from_capture(c, kind="cross", layer=0, head=1, query=4)
    mount(w, width=WIDE)
    image_drawn(page, row=4)
    a = c.attention(0, 1, "cross")
    patch = c.patches("cross")[20]
    text = hover_patch(page, patch)
    lines = text.split("\n")
    assert lines[0] == patch_line(c, "cross", patch, a[4, patch[0]]), text
    assert lines[-1] == f"click: select key {patch[0]} (this kind's queries are text, not patches)"
    page.mouse.click(*patch_center(page, patch))
    kernel_synced(page)
    assert (w.query, w.key) == (4, patch[0])
    w.kind = "self"
    pull(page)
    page.wait_for_function(
        "() => document.querySelector('.attn-image-panel .attn-image-caption').textContent.includes('not patches of the picture')"
    )


def test_views_that_cover_the_same_pixels_are_drawn_one_at_a_time(page, mount):
    """Idefics3 cuts the picture into tiles and adds a global image over all of it: the control
    offers each view; the tooltip says which one a patch belongs to."""
    c = captured("idefics3")
    w = AttentionWidget.from_capture(c, kind="vision")
    mount(w, width=WIDE)
    image_drawn(page, view=0)
    control = page.get_by_test_id("attn-image-view")
    assert control.is_visible()
    assert control.locator("option").all_text_contents() == ["image 0", "image 0 · global"]
    patches = c.patches("vision")
    labels = [w.tokens[t] for t in patches[:, 0]]
    tile = patches[0]
    glob = patches[next(i for i, label in enumerate(labels) if "global" in label)]
    assert "global" not in hover_patch(page, tile).split("\n")[2]
    control.select_option("1")
    image_drawn(page, view=1)
    text = hover_patch(page, glob)
    assert text.split("\n")[2].startswith("image 0 global · pixels"), text
    a = c.attention(0, 0, "vision")
    assert text.split("\n")[0] == patch_line(c, "vision", glob, a[w.n_tokens - 1, glob[0]])
    # selecting a tile's token brings its view back
    w.key = int(tile[0])
    pull(page)
    image_drawn(page, view=0)


def test_a_widget_without_pictures_shows_no_panel(page, mount):
    att = np.random.default_rng(0).random((1, 2, 5, 5)).astype(np.float32)
    att /= att.sum(-1, keepdims=True)
    w = AttentionWidget(att, list("abcde"))
    mount(w, width=WIDE)
    assert w._images == {} and w._patches == {}
    assert not page.locator(".attn-image-panel").is_visible()
    page.get_by_test_id("attn-export").click()
    assert "image" not in page.get_by_test_id("attn-export-panel").locator("option").all_text_contents()


def test_two_pictures_one_prompt_compared_on_either_picture(page, mount):
    """compare(two captures of one prompt over two pictures): the heatmap shows b - a, and the panel
    offers both pictures (a's first), each drawn with the same position's difference."""
    model, processor = tiny_vision("llava")
    a = capture(model, processor, prompt("llava"), images=sample_image())
    b = capture(model, processor, prompt("llava"), images=sample_image("flower.jpg"))
    w = AttentionWidget.compare(a, b, layer=1, head=2)
    mount(w, width=WIDE)
    image_drawn(page, view=0)
    control = page.get_by_test_id("attn-image-view")
    assert control.locator("option").all_text_contents() == ["image 0", "image 1"]
    n = w.n_tokens
    difference = b.attention(1, 2, "self") - a.attention(1, 2, "self")
    patch = a.patches("self")[5]
    first = hover_patch(page, patch).split("\n")[0]
    control.select_option("1")
    image_drawn(page, view=1)
    flower = b.patches("self")[5]
    assert flower[0] == patch[0]  # the same position, on b's picture
    second = hover_patch(page, flower).split("\n")
    assert first == second[0] == patch_line(w.capture, "self", patch, difference[n - 1, patch[0]], "b − a"), second
    assert "of 640 × 427" in second[2]
