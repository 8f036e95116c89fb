"""The image panel outside the live view: figures (PNG and SVG, of the panel and of the whole
widget) carry the picture, the offline page (w.to_html, opened from file:// with the network
blocked) answers a patch hover with Python's number, and a long input (Qwen2-VL at high
resolution: thousands of image tokens) draws without asking for anything N x N."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image

from attn_widget import AttentionWidget, capture
from tests.browser.test_image_panel_in_chromium import WIDE, captured, hover_patch, patch_line
from tests.support.vision_models import prompt, sample_image, tiny_vision
from tests.support.widget_page import image_drawn, save


@pytest.fixture(scope="module")
def vit() -> Any:
    return captured("vit")


def test_figures_carry_the_picture(page, mount, vit, tmp_path):
    w = AttentionWidget.from_capture(vit, query=5)
    mount(w, width=WIDE)
    image_drawn(page, row=5)
    png = save(page, w, tmp_path / "image.png", panel="image", scale=2)
    picture = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
    panel = page.locator(".attn-image-panel").bounding_box()
    canvas = page.get_by_test_id("attn-image").bounding_box()
    # the whole panel at 2x: its canvas, and its caption wrapped as on screen (no wider than the panel)
    assert 2 * canvas["height"] < picture.shape[0] and picture.shape[1] <= 2 * (panel["width"] + 16)
    # the photograph is there: its rows vary as a photo's do, not as flat colour would
    assert picture[20:200, 20:300].std() > 20
    svg = save(page, w, tmp_path / "image.svg", panel="image").read_text()
    assert "data:image/jpeg;base64," in svg  # the photograph, smoothed when scaled
    assert svg.count("<rect") >= 16  # one rectangle per patch (and the colour bar's)
    assert "attention from query 5" in svg  # the caption
    whole = save(page, w, tmp_path / "all.svg", panel="all").read_text()
    assert "data:image/jpeg;base64," in whole and "heatmap-cells" in whole


def test_a_widget_without_pictures_refuses_the_image_panel(page, mount, tmp_path):
    att = np.full((1, 1, 3, 3), 1 / 3, dtype=np.float32)
    w = AttentionWidget(att, ["a", "b", "c"])
    mount(w)
    # refused in Python, before a request reaches the view: the panels it can save are named
    with pytest.raises(ValueError, match=r"panel must be one of \['all', 'grid', 'heatmap', 'strip'\], got 'image'"):
        save(page, w, tmp_path / "image.png", panel="image")
    assert list(tmp_path.iterdir()) == []


def test_the_offline_page_answers_a_patch_hover_with_pythons_number(offline_page, vit, tmp_path):
    w = AttentionWidget.from_capture(vit, layer=1, head=0, query=9)
    path = w.to_html(tmp_path / "vit.html")
    page = offline_page(path)
    image_drawn(page, row=9)
    a = vit.attention(1, 0, "vision")
    for patch in vit.patches("vision")[[0, 9, 15]]:
        text = hover_patch(page, patch)
        assert text.split("\n")[0] == patch_line(vit, "vision", patch, a[9, patch[0]]), text


def high_resolution_qwen() -> Any:
    """Tiny Qwen2-VL with its processor allowed the photo's full size: 4,320 patches in the vision
    tower, merged 2 x 2 into 1,080 image tokens of the language model."""
    model, processor = tiny_vision("qwen2_vl")
    processor = copy.deepcopy(processor)
    processor.image_processor.size = {"shortest_edge": 4 * 16 * 16, "longest_edge": 640 * 432}
    return capture(model, processor, prompt("qwen2_vl"), images=sample_image())


def test_thousands_of_image_tokens_ask_for_rows_only(page, mount):
    c = high_resolution_qwen()
    assert len(c.patches("vision")) == 4320 and len(c.patches("self")) == 1080
    w = AttentionWidget.from_capture(c, layer=1, head=1)
    mount(w, width=WIDE)
    n = w.n_tokens
    image_drawn(page, row=n - 1)
    a = c.attention(1, 1, "self")
    patch = c.patches("self")[-1]
    text = hover_patch(page, patch)
    assert (
        text.split("\n")[0]
        == f"patch ({where(w.tokens[patch[0]])}) · token {patch[0]} · weight {format(float(a[n - 1, patch[0]]), '.3g')}"
    )
    w.kind = "vision"
    page.evaluate("window.__views[0].model.pull()")
    image_drawn(page, row=4319)
    v = c.attention(1, 1, "vision")
    patch = c.patches("vision")[2000]
    text = hover_patch(page, patch)
    assert text.split("\n")[0] == patch_line(c, "vision", patch, v[4319, patch[0]])
    # what the page asked for: tiles of at most 256 x 256 blocks, and the panel's rows (1 x 4096)
    sent = json.loads(page.evaluate("JSON.stringify(window.__views[0].model.sent.filter((m) => m.type === 'tile'))"))
    rows = [m for m in sent if m["window"][1] - m["window"][0] == 1 and m["block"] == [1, 1]]
    assert rows, "the panel asked for no row"
    for m in sent:
        q0, q1, k0, k1 = m["window"]
        blocks = ((q1 - q0) // m["block"][0]) * ((k1 - k0) // m["block"][1])
        assert blocks <= 256 * 256 and (q1 - q0 == 1 or q1 - q0 <= 256 * m["block"][0]), m


def where(label: str) -> str:
    """A merged token's label ("<img 0: r2-3 c6-7>") in the tooltip's words."""
    m = re.search(r"r(\d+)-(\d+) c(\d+)-(\d+)>$", label)
    assert m, label
    return f"rows {m.group(1)}–{m.group(2)}, cols {m.group(3)}–{m.group(4)}"
