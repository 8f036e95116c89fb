"""Saliency and rollout on the picture, in real Chromium with a real Python widget behind the page:
the image panel's tooltip at a patch says the number Python computed for that image token
(integrated gradients of a tiny LLaVA's prediction; rollout of a tiny ViT's CLS token), and signed
numbers are coloured by sign (red pushes the prediction up, blue down)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from attn_widget import AttentionWidget, attribution, capture
from tests.browser.test_image_panel_in_chromium import WIDE, hover_patch, patch_line, set_opacity
from tests.support.vision_models import prompt, sample_image, tiny_vision
from tests.support.widget_page import canvas_rgb, image_drawn, patch_center

PHOTO = sample_image()


@pytest.fixture(scope="module")
def llava_saliency() -> Any:
    model, processor = tiny_vision("llava")
    text = prompt("llava")
    c = capture(model, processor, text, images=PHOTO)
    ig = attribution.integrated_gradients(model, processor, text, images=PHOTO, steps=32)
    return model, processor, text, c, ig


def test_integrated_gradients_of_image_tokens_are_drawn_on_the_picture_with_pythons_numbers(
    page, mount, llava_saliency, tmp_path
):
    model, processor, text, c, ig = llava_saliency
    w = AttentionWidget.from_model(
        model, processor, text, images=PHOTO, saliency=True, ig_steps=32, strip_method="integrated_gradients"
    )
    mount(w, width=WIDE)
    image_drawn(page, shows="vector")
    caption = page.locator(".attn-image-panel .attn-image-caption").text_content()
    assert "integrated gradients (32 steps, baseline zero embeddings)" in caption, caption
    patches = c.patches("self")
    for patch in patches[[0, 5, 10, 15]]:
        text_shown = hover_patch(page, patch)
        assert text_shown.split("\n")[0] == patch_line(c, "self", patch, ig[patch[0]], "integrated gradients"), text_shown
    # by sign: at full overlay the most positive patch is red, the most negative blue
    set_opacity(page, "End")
    image_drawn(page, shows="vector", opacity=1)
    on_patches = np.asarray(ig)[patches[:, 0]]
    up, down = patches[int(on_patches.argmax())], patches[int(on_patches.argmin())]
    assert on_patches.max() > 0 > on_patches.min()  # both signs are there to tell apart
    r, _, b = canvas_rgb(page, "attn-image", *patch_center(page, up[2:]))
    assert r > b, (r, b)
    r, _, b = canvas_rgb(page, "attn-image", *patch_center(page, down[2:]))
    assert b > r, (r, b)
    set_opacity(page, "Home")
    page.keyboard.press("ArrowRight")  # a little above none: the photo shows through
    for _ in range(5):
        page.keyboard.press("PageUp")
    page.locator(".attn-image-panel").screenshot(path=str(tmp_path / "image-saliency.png"))  # for a person to look at


def test_rollout_of_the_cls_token_is_drawn_on_the_picture_with_pythons_numbers(page, mount, tmp_path):
    model, processor = tiny_vision("vit")
    c = capture(model, processor, images=PHOTO)
    w = AttentionWidget.from_capture(c, heatmap_quantity="rollout", layer=1, query=0)  # query 0: the CLS token
    mount(w, width=WIDE)
    image_drawn(page, row=0, shows="row")
    expected = attribution.patch_rollout(c)  # through the last layer, the CLS token's row
    assert "CLS" in expected.rows
    patches = c.patches("vision")
    for i in (0, 6, 9, 15):
        text_shown = hover_patch(page, patches[i])
        assert text_shown.split("\n")[0] == patch_line(c, "vision", patches[i], expected[i], "rollout"), text_shown
    assert "rollout from query 0" in page.locator(".attn-image-panel .attn-image-caption").text_content()
    page.locator(".attn-image-panel").screenshot(path=str(tmp_path / "image-rollout.png"))
