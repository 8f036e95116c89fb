"""The widget's saliency state in Python: busy before work and idle after, the flow-span metric,
span validation, and the shipped grounding model's brief figure: the environment noun is the most
salient token for predicting it."""

from __future__ import annotations

import numpy as np
import pytest

from attn_widget import AttentionWidget
from tests.support.models import SALIENCY_TEXT, saliency_widget, tiny_family

TEXT = SALIENCY_TEXT


@pytest.fixture(scope="module")
def gpt2():
    return tiny_family("gpt2", seed=1)


def test_python_reports_busy_before_the_recomputation_and_idle_after(gpt2, recording):
    w = saliency_widget(gpt2)
    w.comm.take()
    seen = []
    w.observe(lambda c: seen.append(c["new"]), names=["busy"])
    w.target_position = 4
    assert seen == [True, False]
    states = [m["data"]["state"] for m in w.comm.take() if m["data"].get("method") == "update"]
    busy = [s["busy"] for s in states if "busy" in s]
    assert busy[0] is True and busy[-1] is False  # the views hear "busy" before the work starts
    assert any("status" in s and s["status"].startswith("computing saliency") for s in states)


def test_flow_span_restricts_the_saliency_flow_metric(gpt2, recording):
    w = saliency_widget(gpt2, grid_metric="saliency_flow")
    all_keys = w.scores().copy()
    w.flow_span = "<ENV>"
    env = w.scores()
    t = w.n_tokens - 1
    np.testing.assert_allclose(env, np.abs(w.saliency.attention_x_gradient[:, :, t, 0:8]).sum(-1), rtol=1e-5)
    assert np.all(env <= all_keys + 1e-7)
    with pytest.raises(Exception, match=r"flow_span must be '' \(all tokens\) or one of \['<ENV>', '<LAN>'\]"):
        w.flow_span = "nope"
    with pytest.raises(Exception, match=r"spans\[0\] must be \(name: str, start, end\) with 0 <= start < end <= 15"):
        w.spans = [("bad", 3, 99)]


def test_the_shipped_grounding_model_grounds_the_noun_and_the_widget_finds_the_head(recording):
    from attn_widget.grounding import load_grounding_model, spans

    model, tokenizer = load_grounding_model()
    assert (model.config.n_layer, model.config.n_head) == (12, 12)  # the brief's grid
    text = "<CHI> painted a picture of a horse <CHI> my favorite animal is the"
    words = text.split()
    noun = words.index("horse")
    w = AttentionWidget.from_model(
        model,
        tokenizer,
        text,
        saliency=True,
        grid_metric="saliency_flow",
        spans=spans(words) + [("ground", noun, noun + 1)],
        flow_span="ground",
    )
    s = w.saliency
    assert s.target.token == "horse" and np.exp(s.f) > 0.5  # its own top prediction: the ground
    layer, head = divmod(int(w.scores().argmax()), w.n_heads)
    t = s.target.position
    assert s.attention[layer, head, t, noun] > 0.9  # that head looks at the noun
    assert int(np.abs(s.attention_x_gradient[layer, head, t]).argmax()) == noun
    # grounding by category: with two objects, the one of the category asked for is predicted
    for sentence, answer in [
        ("<CHI> played with a ball and a dog <CHI> my favorite animal is the", "dog"),
        ("<CHI> played with a ball and a dog <CHI> my favorite toy is the", "ball"),
    ]:
        g = AttentionWidget.from_model(model, tokenizer, sentence, saliency=True)
        assert g.saliency.target.token == answer


def test_a_model_without_a_language_model_head_is_explained_through_a_callable_target(recording):
    model, tokenizer = tiny_family("bert")

    def first_feature(outputs):
        return outputs.last_hidden_state[:, 0, 0]

    w = AttentionWidget.from_model(model, tokenizer, TEXT, saliency=True, target=first_feature, strip_method="gradient_x_input")
    assert w.saliency.target.description == "first_feature" and w.target_token == ""
    np.testing.assert_allclose(
        w.saliency.head_importance, w.saliency.attention_x_gradient.sum(axis=(-1, -2)), rtol=1e-4, atol=1e-6
    )
    from attn_widget import attribution

    expected = attribution.gradient_x_input(model, tokenizer, TEXT, first_feature)
    from attn_widget.wire.dec3 import dec3_bytes

    assert w._strip_values["data"] == dec3_bytes(expected) and w._strip_values["what"] == "strip"


def test_a_failed_computation_ends_busy_says_why_and_keeps_the_last_strip(gpt2, recording, monkeypatch):
    """An unexpected error while the strip computes: the toolbar must not stay on "computing…"."""
    w = saliency_widget(gpt2)
    w.strip_method = "gradient_x_input"
    shown = dict(w._strip_values)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory on the GPU")

    monkeypatch.setattr(w._sources.saliency_cache(), "strip", broken)
    seen = []
    w.observe(lambda c: seen.append(c["new"]), names=["busy"])
    with pytest.warns(RuntimeWarning, match="could not compute integrated gradients: RuntimeError: out of memory"):
        w.strip_method = "integrated_gradients"
    assert seen == [True, False] and w.busy is False
    assert w.status == "could not compute integrated gradients: out of memory on the GPU"
    assert w.strip_method == "gradient_x_input" and w._strip_values == shown  # the last strip that worked stays


def test_integrated_gradients_arguments_are_checked_when_the_widget_is_made(gpt2):
    model, tokenizer = gpt2
    with pytest.raises(ValueError, match=r"ig_baseline must be 'zero', 'pad', 'unk', 'mask' or a token id, got 'blank'"):
        AttentionWidget.from_model(model, tokenizer, TEXT, saliency=True, ig_baseline="blank")
    with pytest.raises(ValueError, match=r"ig_steps must be 'auto' or an int >= 1, got 0"):
        AttentionWidget.from_model(model, tokenizer, TEXT, saliency=True, ig_steps=0)


def test_the_integrated_gradients_caption_says_whether_it_converged(recording):
    from attn_widget.grounding import load_grounding_model

    model, tokenizer = load_grounding_model()
    text = "<CHI> painted a picture of a horse <CHI> my favorite animal is the"
    w = AttentionWidget.from_model(model, tokenizer, text, saliency=True, strip_method="integrated_gradients")
    assert w.strip_label.startswith("integrated gradients (288 steps, baseline zero embeddings)"), w.strip_label
    assert w.strip_label.endswith("of f(x) − f(baseline) = 4.81: converged (within 5%)"), w.strip_label
    fixed = AttentionWidget.from_model(model, tokenizer, text, saliency=True, strip_method="integrated_gradients", ig_steps=32)
    assert "completeness gap 2.1 of f(x) − f(baseline) = 4.81: not converged" in fixed.strip_label, fixed.strip_label


def test_a_refused_target_is_said_in_the_status_line_without_a_warning(gpt2, recording):
    import warnings

    w = saliency_widget(gpt2)
    before = w.target_token
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a refusal of the user's input is not a fault to warn about
        w.target_token = "unbelievably tokenized"
    assert w.status.startswith("could not explain that target: target 'unbelievably tokenized' is not a single token")
    assert w.target_token == before and w.busy is False
