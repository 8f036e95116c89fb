"""Saliency of a prediction made with pictures, and attention rollout on pictures, on tiny random
vision-language models and ViTs with their real processors (tests/support/vision_models.py).

The identities of docs/saliency.md hold with image tokens in the prompt: each head's attention x
gradient sums to its head-gate gradient and is 0 where the attention is 0; integrated gradients
over the language model's input embeddings (image tokens included) add up to f(x) - f(baseline)
within the tolerance the text path uses. Rollout: rows sum to 1, identity attention rolls out to
the identity, one layer is ½A + ½I."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from attn_widget import AttentionWidget, attribution, capture
from tests.support.vision_models import prompt, sample_image, tiny_vision

PHOTO = sample_image()
#: Families whose pictures enter the prompt as tokens (LLaVA and its tiled variant, Qwen2-VL's
#: dynamic resolution, Gemma 3's bidirectional image block, Idefics3's tiles).
EXPLAINED = ("llava", "llava_next", "qwen2_vl", "gemma3", "paligemma", "idefics3")


def inputs(family: str) -> tuple[Any, Any, str]:
    model, processor = tiny_vision(family)
    text = prompt(family)
    assert text is not None
    return model, processor, text


@pytest.fixture(scope="module")
def llava_saliency() -> attribution.Saliency:
    model, processor, text = inputs("llava")
    return attribution.saliency(model, processor, text, images=PHOTO)


@pytest.mark.parametrize("family", EXPLAINED)
def test_each_heads_attention_x_gradient_sums_to_its_head_gate_gradient_with_image_tokens(family):
    model, processor, text = inputs(family)
    s = attribution.saliency(model, processor, text, images=PHOTO)
    c = capture(model, processor, text, images=PHOTO)
    assert s.attention.shape == c.shape("self")  # the language model's heads over the prompt with its image tokens
    np.testing.assert_allclose(s.attention, c.attentions("self"), atol=1e-5)  # the gated pass is the model's own
    np.testing.assert_allclose(s.head_importance, s.attention_x_gradient.sum(axis=(-1, -2)), rtol=1e-4, atol=1e-6)
    assert np.abs(s.head_importance).max() > 1e-6  # not vacuous: the heads matter
    assert np.all(s.attention_x_gradient[s.attention == 0] == 0)  # S = 0 where A = 0
    image_keys = c.patches("self")[:, 0]
    t = s.target.position
    assert np.abs(s.attention_x_gradient[:, :, t, image_keys]).max() > 0  # the target row reads the picture


def test_head_importance_with_pictures_is_a_finite_difference_of_the_head_gate(llava_saliency):
    model, processor, text = inputs("llava")
    s = llava_saliency
    layer, head = np.unravel_index(np.abs(s.head_importance).argmax(), s.head_importance.shape)
    eps = 1e-3
    gates = [1.0] * s.head_importance.shape[1]

    def loss(value: float) -> float:
        values = list(gates)
        values[head] = value
        return attribution.gate_loss(
            model, processor, text, s.target.token_id, images=PHOTO, position=s.target.position, head_values={int(layer): values}
        )

    assert (loss(1 + eps) - loss(1 - eps)) / (2 * eps) == pytest.approx(float(s.head_importance[layer, head]), rel=2e-2, abs=1e-5)


def test_integrated_gradients_over_image_and_word_embeddings_are_complete_on_llava():
    model, processor, text = inputs("llava")
    ig = attribution.integrated_gradients(model, processor, text, images=PHOTO)
    change = ig.f_input - ig.f_baseline
    assert ig.converged and ig.baseline == "zero embeddings"
    assert abs(float(ig.sum()) - change) <= attribution.IG_TOLERANCE * abs(change)  # the text path's tolerance
    assert float(ig.sum()) == pytest.approx(change + ig.completeness_gap, abs=1e-4)
    c = capture(model, processor, text, images=PHOTO)
    image = c.patches("self")[:, 0]
    assert len(ig) == c.shape("self")[3] and np.abs(ig[image]).max() > 0  # image tokens have their share
    f = attribution.saliency(model, processor, text, images=PHOTO).f
    assert ig.f_input == pytest.approx(f, abs=1e-5)  # f(x) is the prediction the model makes with the picture


def test_integrated_gradients_with_pictures_converge_and_batching_does_not_change_them():
    model, processor, text = inputs("qwen2_vl")  # Qwen2-VL: 3-D rotary positions, per-image grids
    one = attribution.integrated_gradients(model, processor, text, images=PHOTO, steps=32, batch_size=1)
    many = attribution.integrated_gradients(model, processor, text, images=PHOTO, steps=32, batch_size=8)
    np.testing.assert_allclose(many, one, rtol=1e-4, atol=1e-6)
    fine = attribution.integrated_gradients(model, processor, text, images=PHOTO, steps=96)
    assert abs(fine.completeness_gap) <= abs(one.completeness_gap) + 1e-6
    assert abs(fine.completeness_gap) <= attribution.IG_TOLERANCE * abs(fine.f_input - fine.f_baseline)


def test_gradient_x_input_with_pictures_is_one_right_endpoint_step_of_integrated_gradients():
    model, processor, text = inputs("llava")
    gxi = attribution.gradient_x_input(model, processor, text, images=PHOTO)
    ig = attribution.integrated_gradients(model, processor, text, images=PHOTO, steps=1, method="right")
    np.testing.assert_allclose(ig, gxi, rtol=1e-5, atol=1e-6)


def test_families_that_cannot_be_explained_with_pictures_say_why():
    model, processor, text = inputs("mllama")
    with pytest.raises(NotImplementedError, match="cross-attention"):
        attribution.saliency(model, processor, text, images=PHOTO)
    with pytest.raises(NotImplementedError, match="cross-attention"):
        AttentionWidget.from_model(model, processor, text, images=PHOTO, saliency=True)
    vit, vit_processor = tiny_vision("vit")
    with pytest.raises(NotImplementedError, match="rollout"):
        AttentionWidget.from_model(vit, vit_processor, images=PHOTO, saliency=True)


def test_a_saliency_widget_with_a_picture_explains_the_language_model_and_draws_per_patch_numbers():
    model, processor, text = inputs("llava")
    w = AttentionWidget.from_model(model, processor, text, images=PHOTO, saliency=True, strip_method="integrated_gradients")
    assert w.kind == "self" and "vision" in [k["id"] for k in w.kinds]
    assert w.heatmap_quantity == "attention"
    np.testing.assert_allclose(w.scores("head_importance"), w.saliency.head_importance)
    ig = w._saliency._cache.strip("integrated_gradients", 0, 0)
    assert "completeness gap" in w.strip_label and len(ig.values) == w.n_tokens
    w.heatmap_quantity = "attention_x_gradient"
    # the vision tower's positions are not the prompt's: saliency stays with the kind it explains
    w.kind = "vision"
    assert w.heatmap_quantity == "attention" and w.strip_method == "attention"
    assert [m["id"] for m in w._strip_methods] == ["attention"]
    assert "head_importance" not in w._metric_ids()
    with pytest.raises(Exception, match="heatmap_quantity"):
        w.heatmap_quantity = "attention_x_gradient"
    w.heatmap_quantity = "rollout"  # rollout applies to the tower's self-attention
    w.kind = "self"
    assert "integrated_gradients" in [m["id"] for m in w._strip_methods]
    signed = {m["id"]: m.get("signed_short") for m in w._strip_methods}
    assert signed["integrated_gradients"] == "integrated gradients" and signed["rollout"] is None


# ------------------------------------------------------------------------------ rollout on pictures
@pytest.mark.parametrize("family", ["vit", "dinov2_registers", "siglip_vision"])
def test_rollout_of_a_captured_vit_keeps_its_identities(family):
    model, processor = tiny_vision(family)
    c = capture(model, processor, images=PHOTO)
    w = AttentionWidget.from_capture(c, heatmap_quantity="rollout")
    n_layers, n_heads, n, _ = c.shape("vision")
    a = c.attentions("vision").astype(np.float64)
    hat = 0.5 * a.mean(axis=1) + 0.5 * np.eye(n)
    for layer in range(n_layers):
        r = w._sources.matrix("rollout", "vision", layer, 0)
        np.testing.assert_allclose(r.sum(axis=-1), 1.0, atol=1e-5)  # rows sum to 1
        assert (r >= 0).all()
        for head in range(1, n_heads):  # every head of a layer shows the same rollout
            np.testing.assert_array_equal(w._sources.matrix("rollout", "vision", layer, head), r)
    np.testing.assert_allclose(w._sources.matrix("rollout", "vision", 0, 0), hat[0], atol=1e-6)  # one layer: ½A + ½I
    np.testing.assert_allclose(w._sources.matrix("rollout", "vision", 1, 0), hat[1] @ hat[0], atol=1e-6)
    np.testing.assert_allclose(attribution.rollout(np.broadcast_to(np.eye(n), a.shape)), np.eye(n), atol=1e-7)
    np.testing.assert_allclose(w.tile(1, 0, [0, n, 0, n]).values, w._sources.matrix("attention", "vision", 1, 0), atol=1e-6)
    tiles = w._sources.tile("rollout", "vision", 1, 0, [0, n, 0, n], [1, 1])[0]
    np.testing.assert_allclose(tiles.values, hat[1] @ hat[0], atol=1e-6)  # what the heatmap and the image panel draw

    on_picture = attribution.patch_rollout(c)
    patches = c.patches("vision")[:, 0]
    full = hat[1] @ hat[0]
    if family == "siglip_vision":  # no CLS token: the mean of the patch rows
        assert "mean of the patch rows" in on_picture.rows
        np.testing.assert_allclose(on_picture, full[patches].mean(axis=0)[patches], atol=1e-6)
    else:
        assert "CLS" in on_picture.rows
        np.testing.assert_allclose(on_picture, full[0, patches], atol=1e-6)


def test_rollout_is_offered_for_self_attention_only_and_pages_carry_it_when_shown(tmp_path):
    model, processor, text = inputs("mllama")
    c = capture(model, processor, text, images=PHOTO)
    w = AttentionWidget.from_capture(c, kind="cross")
    with pytest.raises(Exception, match="heatmap_quantity"):
        w.heatmap_quantity = "rollout"
    vit = AttentionWidget.from_capture(capture(*tiny_vision("vit"), images=PHOTO))
    assert vit.heatmap_quantity == "attention"
    plain = vit._sources.page_quantities("vision", "attention")
    assert list(plain) == ["attention"]  # a page of attention is no bigger than before
    assert list(vit._sources.page_quantities("vision", "rollout")) == ["attention", "rollout"]
