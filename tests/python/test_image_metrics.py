"""The grid's image metrics (text -> image, image -> text, visual sink): exact values on attention
built to have them, and equal to plain loops on real (tiny, random) vision-language models and a
ViT, through the exact pass (recorded heads and heads given as values) and the sampled estimate."""

import numpy as np
import pytest

from attn_widget import AttentionWidget, Capture, capture
from attn_widget.capturing.result import Axis, Kind
from attn_widget.engine import grid_scores
from attn_widget.engine.image_roles import ImageRoles, reference_image_metrics
from tests.support.vision_models import prompt, sample_image, tiny_vision

IMAGE_METRICS = ("text_to_image", "image_to_text", "visual_sink")


def captured(family: str) -> Capture:
    model, processor = tiny_vision(family)
    return capture(model, processor, prompt(family), images=sample_image())


@pytest.fixture(scope="module")
def llava() -> Capture:
    return captured("llava")


def expected(c: Capture, kind: str, metric: str) -> np.ndarray:
    roles = ImageRoles.of(c.kind(kind))
    assert roles is not None
    layers, heads = c.shape(kind)[:2]
    return np.array(
        [
            [
                reference_image_metrics(c.attention(layer, head, kind), roles.image_queries, roles.image_keys)[metric]
                for head in range(heads)
            ]
            for layer in range(layers)
        ]
    )


def with_patches(attention: np.ndarray, tokens: list[str], patch_tokens: list[int]) -> AttentionWidget:
    """A widget over ``attention`` whose positions ``patch_tokens`` are patches of a 10 x 10 picture."""
    rows = np.array([[t, 0, 2 * i, 0, 2 * i + 2, 2] for i, t in enumerate(patch_tokens)], dtype=np.int64)
    axis = Axis.of(tokens, patches=rows)
    layers, heads = attention.shape[:2]
    from attn_widget.capturing.result import ArrayKind

    kind: Kind = ArrayKind("self", attention, axis, axis)
    assert kind.n_layers == layers and kind.n_heads == heads
    return AttentionWidget(Capture([kind], [np.zeros((10, 10, 3), dtype=np.uint8)]))


def test_a_head_that_reads_the_picture_and_a_sink_head_score_as_built():
    tokens = ["<s>", "<p0>", "<p1>", "<p2>", "<p3>", "a", "red", "circle"]
    n = len(tokens)
    a = np.zeros((1, 2, n, n), dtype=np.float32)
    # head 0: every word looks at a different patch (grounding); patches look at <s>
    a[0, 0, :, 0] = 1.0
    for word, patch in zip([5, 6, 7], [1, 2, 3], strict=True):
        a[0, 0, word] = 0.0
        a[0, 0, word, patch] = 0.5
        a[0, 0, word, word] = 0.5
    # head 1: every query puts all it gives the picture on patch 4 (a sink)
    a[0, 1] = np.eye(n, dtype=np.float32) * 0.75
    a[0, 1, :, 4] += 0.25
    w = with_patches(a, tokens, [1, 2, 3, 4])
    assert {"text_to_image", "image_to_text", "visual_sink"} <= set(w._metric_ids())
    t2i, i2t, sink = (w.scores(m)[0] for m in IMAGE_METRICS)
    # text queries: <s> and the 3 words; head 0 gives the words 0.5 each on a patch, <s> 0
    assert t2i[0] == pytest.approx(3 * 0.5 / 4)
    assert i2t[0] == pytest.approx(1.0)  # patches look at <s> only
    assert sink[0] == pytest.approx(0.5 / 1.5)  # 3 patches got 0.5 each (from the words); one of them
    assert t2i[1] == pytest.approx(0.25)  # every text query gives 0.25 to patch 4
    assert i2t[1] == pytest.approx(0.0)  # patches look at themselves and patch 4
    # patch 4 gets 0.25 from every row and its own 0.75; patches 1-3 their own 0.75 each
    assert sink[1] == pytest.approx((8 * 0.25 + 0.75) / (8 * 0.25 + 4 * 0.75))


def test_text_without_pictures_is_not_offered_image_metrics():
    a = np.full((1, 1, 3, 3), 1 / 3, dtype=np.float32)
    w = AttentionWidget(a, list("abc"))
    assert not set(IMAGE_METRICS) & set(w._metric_ids())


@pytest.mark.parametrize("metric", IMAGE_METRICS)
def test_a_vision_language_models_image_metrics_equal_plain_loops(llava, metric):
    w = AttentionWidget.from_capture(llava, kind="self")
    np.testing.assert_allclose(w.scores(metric), expected(llava, "self", metric), rtol=1e-5, atol=1e-7)


def test_a_vits_image_metrics_read_its_cls_token_as_the_non_patch_query():
    c = captured("vit")
    w = AttentionWidget.from_capture(c, kind="vision")
    assert {"text_to_image", "image_to_text", "visual_sink"} <= set(w._metric_ids())
    for metric in IMAGE_METRICS:
        np.testing.assert_allclose(w.scores(metric), expected(c, "vision", metric), rtol=1e-5, atol=1e-7)
    # the CLS row alone is the "text" query: its weight on the patches is 1 minus its self-weight
    cls_on_patches = np.array(
        [
            [1 - c.attention(layer, head, "vision")[0, 0] for head in range(c.shape("vision")[1])]
            for layer in range(c.shape("vision")[0])
        ]
    )
    np.testing.assert_allclose(w.scores("text_to_image"), cls_on_patches, rtol=1e-5)


def test_cross_attention_to_the_picture_offers_text_to_image_and_the_sink_only():
    c = captured("mllama")
    w = AttentionWidget.from_capture(c, kind="cross")
    ids = set(w._metric_ids())
    assert {"text_to_image", "visual_sink"} <= ids and "image_to_text" not in ids
    for metric in ("text_to_image", "visual_sink"):
        np.testing.assert_allclose(w.scores(metric), expected(c, "cross", metric), rtol=1e-5, atol=1e-7)


def test_heads_given_as_values_score_as_the_recorded_heads(llava):
    """An array widget's batched pass (value_heads.py) and a capture's full pass agree."""
    kind = llava.kind("self")
    values = llava.attentions("self")
    axis = kind.keys
    from attn_widget.capturing.result import ArrayKind

    w = AttentionWidget(Capture([ArrayKind("self", values, axis, axis)], llava.images))
    for metric in IMAGE_METRICS:
        np.testing.assert_allclose(w.scores(metric), expected(llava, "self", metric), rtol=1e-5, atol=1e-7)


def test_the_sampled_estimate_is_the_loop_over_the_sampled_rows(llava, monkeypatch):
    monkeypatch.setattr(grid_scores, "MAX_SAMPLE", 8)
    monkeypatch.setattr(grid_scores, "MIN_SAMPLE", 8)
    w = AttentionWidget.from_capture(llava, kind="self")
    grid = grid_scores.GridScores(llava.kind("self"), w._sources.engine, lambda layer, head: ("sample", layer, head))
    grid.estimate()
    rows = grid_scores.sample_rows(w.n_queries, 8)
    roles = ImageRoles.of(llava.kind("self"))
    assert roles is not None
    a = llava.attention(1, 2, "self")
    sampled = reference_image_metrics(a[rows], roles.image_queries[rows], roles.image_keys)
    for metric in IMAGE_METRICS:
        assert grid.values(metric)[0][1, 2] == pytest.approx(sampled[metric], rel=1e-5, abs=1e-7), metric
