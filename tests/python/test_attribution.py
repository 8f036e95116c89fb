"""attn_widget.attribution against the properties a correct implementation satisfies (each test
names its property), on small randomly initialised models and the packaged grounding model:
identities that must hold exactly (to float error), not just "runs"."""

import numpy as np
import pytest
import torch

from attn_widget import attribution as attr
from attn_widget.attribution.gates import gated
from tests.support.models import tiny_family

TEXT = "A child painted a picture of a horse. My favourite animal is the"


@pytest.fixture(scope="module")
def gpt2():
    return tiny_family("gpt2", seed=1)


@pytest.fixture(scope="module")
def llama():
    return tiny_family("llama", seed=2)


@pytest.fixture(scope="module")
def gpt2_saliency(gpt2):
    model, tokenizer = gpt2
    return attr.saliency(model, tokenizer, TEXT)


def logits(model, tokenizer, text=TEXT):
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt"), use_cache=False).logits


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
def test_gates_at_one_leave_the_model_outputs_unchanged(family):
    model, tokenizer = tiny_family(family, "eager")
    encoded = tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        plain = (
            model(**encoded, use_cache=False).last_hidden_state if family == "bert" else model(**encoded, use_cache=False).logits
        )
        with gated(model) as gates:
            out = model(**encoded, use_cache=False)
            hooked = out.last_hidden_state if family == "bert" else out.logits
    assert len(gates.calls) == model.config.num_hidden_layers if family != "gpt2" else len(gates.calls) == model.config.n_layer
    np.testing.assert_array_equal(hooked.numpy(), plain.numpy())  # bit-identical to eager
    assert model.config._attn_implementation == "eager"


@pytest.mark.parametrize("fixture", ["gpt2", "llama"])
def test_head_importance_equals_the_summed_attention_x_gradient_of_each_head(fixture, request):
    model, tokenizer = request.getfixturevalue(fixture)
    s = attr.saliency(model, tokenizer, TEXT)
    summed = s.attention_x_gradient.sum(axis=(-1, -2))
    np.testing.assert_allclose(s.head_importance, summed, rtol=1e-4, atol=1e-6)
    assert np.abs(s.head_importance).max() > 1e-4  # not trivially zero


def test_head_importance_equals_a_central_finite_difference(gpt2, gpt2_saliency):
    model, tokenizer = gpt2
    eps = 1e-2
    for layer, head in [(0, 0), (1, 2), (2, 3)]:
        gates = [1.0] * 4
        up, down = list(gates), list(gates)
        up[head] += eps
        down[head] -= eps
        fd = (
            attr.gate_loss(model, tokenizer, TEXT, gpt2_saliency.target.token_id, head_values={layer: up})
            - attr.gate_loss(model, tokenizer, TEXT, gpt2_saliency.target.token_id, head_values={layer: down})
        ) / (2 * eps)
        assert fd == pytest.approx(float(gpt2_saliency.head_importance[layer, head]), rel=2e-2, abs=2e-4)


def test_a_zero_gate_is_the_same_as_zero_ablating_the_head_by_hand(gpt2, gpt2_saliency):
    model, tokenizer = gpt2
    target = gpt2_saliency.target.token_id
    layer, head, d = 1, 2, model.config.n_embd // model.config.n_head
    gated_loss = attr.gate_loss(model, tokenizer, TEXT, target, head_values={layer: [1, 1, 0, 1]})

    def zero_head(_module, args):
        (x,) = args
        x = x.clone()
        x[..., head * d : (head + 1) * d] = 0
        return (x,)

    handle = model.transformer.h[layer].attn.c_proj.register_forward_pre_hook(zero_head)
    try:
        logp = torch.log_softmax(logits(model, tokenizer)[0, -1], -1)
    finally:
        handle.remove()
    assert gated_loss == pytest.approx(-float(logp[target]), abs=1e-5)
    baseline = attr.gate_loss(model, tokenizer, TEXT, target)
    assert baseline == pytest.approx(-gpt2_saliency.f, abs=1e-5)
    # report, not assert: how well the first-order estimate -I ranks the true ablation effects
    true = [
        attr.gate_loss(model, tokenizer, TEXT, target, head_values={l: [0 if i == h else 1 for i in range(4)]}) - baseline
        for l in range(3)
        for h in range(4)
    ]
    estimate = (-gpt2_saliency.head_importance).ravel()
    rho = np.corrcoef(np.argsort(np.argsort(true)), np.argsort(np.argsort(estimate)))[0, 1]
    print(f"rank correlation of -I with true ablation dL: {rho:.2f}")


def test_attention_x_gradient_is_zero_where_attention_is_zero_and_after_the_target(gpt2):
    model, tokenizer = gpt2
    t = 6
    s = attr.saliency(model, tokenizer, TEXT, position=t)
    n = len(s.tokens)
    future = np.triu(np.ones((n, n), bool), k=1)
    assert np.all(s.attention[:, :, future] == 0)
    assert np.all(s.attention_x_gradient[:, :, future] == 0.0)
    assert np.all(s.attention_x_gradient[:, :, t + 1 :, :] == 0.0)  # queries after t cannot matter
    last = s.attention_x_gradient[-1]
    others = np.delete(last, t, axis=1)
    assert np.all(others == 0.0) and np.abs(last[:, t]).max() > 0  # final layer: only row t


def test_scaling_the_loss_scales_attention_x_gradient(gpt2, gpt2_saliency):
    model, tokenizer = gpt2
    target = gpt2_saliency.target.token_id

    def doubled(outputs):
        return 2 * torch.log_softmax(outputs.logits[:, -1].float(), -1)[:, target]

    s2 = attr.saliency(model, tokenizer, TEXT, doubled)
    np.testing.assert_allclose(s2.attention_x_gradient, 2 * gpt2_saliency.attention_x_gradient, rtol=1e-4, atol=1e-8)
    assert s2.f == pytest.approx(2 * gpt2_saliency.f, rel=1e-6)


def test_single_entry_agrees_with_a_finite_difference_of_that_attention_weight(gpt2, gpt2_saliency):
    """S_ij = A_ij dL/dA_ij = dL/dg at g = 1 for a gate g scaling that one weight."""
    model, tokenizer = gpt2
    layer, i = 1, len(gpt2_saliency.tokens) - 1
    head, j = np.unravel_index(np.abs(gpt2_saliency.attention_x_gradient[layer, :, i]).argmax(), (4, i + 1))
    target = gpt2_saliency.target.token_id
    encoded = tokenizer(TEXT, return_tensors="pt")
    real_softmax = torch.softmax

    def loss_with(scale):
        calls = []

        def scaled_softmax(x, dim=-1, dtype=None):
            y = real_softmax(x, dim=dim, dtype=dtype)
            if len(calls) == layer:
                y = y.clone()
                y[0, head, i, j] *= scale
            calls.append(1)
            return y

        torch.softmax = scaled_softmax  # the gates compute weights with torch.softmax
        try:
            with gated(model, attention_gates=False), torch.no_grad():
                out = model(**encoded, use_cache=False)
        finally:
            torch.softmax = real_softmax
        return -float(torch.log_softmax(out.logits[0, -1].double(), -1)[target])

    eps = 0.1
    fd = (loss_with(1 + eps) - loss_with(1 - eps)) / (2 * eps)
    assert fd == pytest.approx(float(gpt2_saliency.attention_x_gradient[layer, head, i, j]), rel=2e-2)


def test_default_target_is_the_models_top_prediction_and_words_map_to_ids(gpt2, gpt2_saliency):
    model, tokenizer = gpt2
    top = int(logits(model, tokenizer)[0, -1].argmax())
    assert gpt2_saliency.target.token_id == top and gpt2_saliency.target.position == len(gpt2_saliency.tokens) - 1
    horse = attr.token_id(tokenizer, "horse")
    assert tokenizer.decode([horse]).strip() == "horse"
    s = attr.saliency(
        model,
        tokenizer,
        TEXT,
        "horse",
        foil="cat" if len(tokenizer(" cat", add_special_tokens=False)["input_ids"]) == 1 else horse,
    )
    logp = torch.log_softmax(logits(model, tokenizer)[0, -1], -1)
    assert s.f == pytest.approx(float(logp[horse] - logp[s.target.foil_id]), abs=1e-5)
    with pytest.raises(ValueError, match=r"target 'unbelievably tokenized' is not a single token"):
        attr.saliency(model, tokenizer, TEXT, "unbelievably tokenized")
    with pytest.raises(ValueError, match=r"position must be an int in \[0, \d+\]"):
        attr.saliency(model, tokenizer, TEXT, position=999)


def test_models_without_a_language_model_head_need_a_callable_target():
    model, tokenizer = tiny_family("bert")
    with pytest.raises(ValueError, match=r"has no language-model head: pass target=callable"):
        attr.saliency(model, tokenizer, TEXT)
    s = attr.saliency(model, tokenizer, TEXT, lambda out: out.last_hidden_state[:, 0, 0])
    np.testing.assert_allclose(s.head_importance, s.attention_x_gradient.sum(axis=(-1, -2)), rtol=1e-4, atol=1e-6)
    g = attr.gradient_x_input(model, tokenizer, TEXT, lambda out: out.last_hidden_state[:, 0, 0])
    assert g.shape == (len(s.tokens),) and np.abs(g).max() > 0


def test_token_saliency_is_exactly_zero_after_the_target_position(gpt2):
    model, tokenizer = gpt2
    t = 5
    for scores in (
        attr.gradient_x_input(model, tokenizer, TEXT, position=t),
        attr.gradient_norm(model, tokenizer, TEXT, position=t),
        attr.integrated_gradients(model, tokenizer, TEXT, position=t, steps=4),
    ):
        assert np.all(scores[t + 1 :] == 0.0), scores.method
        assert np.abs(scores[: t + 1]).max() > 0
    assert np.all(attr.gradient_norm(model, tokenizer, TEXT) >= 0)


def test_gradient_x_input_is_integrated_gradients_with_one_right_endpoint_step(gpt2):
    model, tokenizer = gpt2
    gxi = attr.gradient_x_input(model, tokenizer, TEXT)
    ig = attr.integrated_gradients(model, tokenizer, TEXT, gxi.target.token_id, steps=1, method="right")
    np.testing.assert_allclose(ig, gxi, rtol=1e-5, atol=1e-6)


def test_integrated_gradients_completeness_gap_shrinks_with_more_steps(gpt2):
    model, tokenizer = gpt2
    coarse = attr.integrated_gradients(model, tokenizer, TEXT, steps=2)
    fine = attr.integrated_gradients(model, tokenizer, TEXT, coarse.target.token_id, steps=64)
    delta = fine.f_input - fine.f_baseline
    assert abs(fine.completeness_gap) < abs(coarse.completeness_gap)
    assert abs(fine.completeness_gap) < 0.02 * abs(delta) + 1e-4
    assert float(fine.sum()) == pytest.approx(delta + fine.completeness_gap, abs=1e-4)


def test_integrated_gradients_batching_does_not_change_results(gpt2):
    model, tokenizer = gpt2
    one = attr.integrated_gradients(model, tokenizer, TEXT, steps=12, batch_size=1)
    many = attr.integrated_gradients(model, tokenizer, TEXT, one.target.token_id, steps=12, batch_size=5)
    np.testing.assert_allclose(many, one, rtol=1e-4, atol=1e-6)


def test_a_token_equal_to_the_baseline_gets_zero(gpt2):
    model, tokenizer = gpt2
    ids = tokenizer(TEXT)["input_ids"]
    ig = attr.integrated_gradients(model, tokenizer, TEXT, steps=4, baseline=ids[2])
    same = [i for i, t in enumerate(ids) if t == ids[2]]
    assert all(ig[i] == 0.0 for i in same)
    assert np.abs(ig).max() > 0
    with pytest.raises(ValueError, match=r"baseline must be 'zero', 'pad', 'unk', 'mask' or a token id"):
        attr.integrated_gradients(model, tokenizer, TEXT, baseline="blank")


def test_rollout_properties():
    rng = np.random.default_rng(0)
    n, heads = 6, 3
    logits_ = rng.normal(size=(4, heads, n, n))
    logits_[..., np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]] = -np.inf
    a = np.exp(logits_ - logits_.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    r = attr.rollout(a)
    assert np.all(r >= 0)
    np.testing.assert_allclose(r.sum(-1), 1.0, atol=1e-6)
    assert np.all(np.triu(r, 1) == 0)  # causal stays lower-triangular
    np.testing.assert_allclose(attr.rollout(np.broadcast_to(np.eye(n), (3, heads, n, n))), np.eye(n), atol=1e-7)
    hat = [0.5 * layer.mean(0) + 0.5 * np.eye(n) for layer in a]
    np.testing.assert_allclose(attr.rollout(a[:1]), hat[0], atol=1e-6)
    np.testing.assert_allclose(attr.rollout(a[:, ::-1]), r, atol=1e-6)  # head order does not matter
    np.testing.assert_allclose(r, hat[3] @ hat[2] @ hat[1] @ hat[0], atol=1e-6)


def test_attention_rollout_runs_on_the_captured_attention(gpt2):
    model, tokenizer = gpt2
    r = attr.attention_rollout(model, tokenizer, TEXT)
    n = len(tokenizer(TEXT)["input_ids"])
    assert r.shape == (n, n) and r.dtype == np.float32
    np.testing.assert_allclose(r.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(r, 1) == 0)


def test_bf16_models_are_refused_with_a_clear_error():
    model, tokenizer = tiny_family("gpt2")
    with pytest.raises(TypeError, match=r"float32: the model is torch.bfloat16; pass model.float\(\)"):
        attr.saliency(model.to(torch.bfloat16), tokenizer, TEXT)


def test_the_default_target_is_the_top_prediction_on_the_real_input_for_every_method(gpt2, gpt2_saliency):
    """Integrated gradients evaluate interpolated inputs first: the default target must still be
    the model's prediction for the text itself."""
    model, tokenizer = gpt2
    top = gpt2_saliency.target.token_id
    default = attr.integrated_gradients(model, tokenizer, TEXT, steps=8)
    explicit = attr.integrated_gradients(model, tokenizer, TEXT, top, steps=8)
    assert default.target.token_id == top
    np.testing.assert_array_equal(default, explicit)
    assert attr.gradient_x_input(model, tokenizer, TEXT).target.token_id == top


def test_saliency_that_would_not_fit_is_refused_before_running(gpt2):
    model, tokenizer = gpt2
    with pytest.raises(MemoryError, match=r"attention x gradient for 3 layers x 4 heads at N = \d+ holds .* GiB"):
        attr.saliency(model, tokenizer, TEXT, max_bytes=1000)


@pytest.fixture(scope="module")
def grounding():
    from attn_widget.grounding import load_grounding_model

    return load_grounding_model()


GROUNDING_TEXT = "<CHI> painted a picture of a horse <CHI> my favorite animal is the"


def test_adaptive_integrated_gradients_refine_until_complete(grounding):
    """On the packaged model 32 steps leave a gap of 2.10 where f(x) - f(baseline) = 4.81; the
    default refines (reusing every gradient) until the gap is within 5 %."""
    model, tokenizer = grounding
    coarse = attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", steps=32, batch_size=64)
    change = coarse.f_input - coarse.f_baseline
    assert coarse.completeness_gap == pytest.approx(2.10, abs=0.01) and change == pytest.approx(4.81, abs=0.01)
    assert not coarse.converged
    auto = attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", batch_size=64)
    assert auto.converged and auto.steps == 288  # 32 -> 96 -> 288 midpoints, each set inside the next
    assert abs(auto.completeness_gap) <= 0.05 * abs(change)
    assert float(auto.sum()) == pytest.approx(change + auto.completeness_gap, abs=1e-4)
    fixed = attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", steps=288, batch_size=64)
    np.testing.assert_allclose(auto, fixed, rtol=1e-4, atol=1e-5)  # reuse gives the same sums as a fresh run
    right = attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", method="right", batch_size=64)
    assert right.converged and right.steps == 256
    np.testing.assert_allclose(
        right,
        attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", steps=256, method="right", batch_size=64),
        rtol=1e-4,
        atol=1e-5,
    )


def test_adaptive_integrated_gradients_stop_at_the_cap_and_say_so(grounding):
    model, tokenizer = grounding
    capped = attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", max_steps=100, batch_size=64)
    assert capped.steps == 96 and not capped.converged
    assert abs(capped.completeness_gap) > 0.05 * abs(capped.f_input - capped.f_baseline)
    with pytest.raises(ValueError, match=r"tolerance must be a fraction in \(0, 1\)"):
        attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", tolerance=5)
    with pytest.raises(ValueError, match=r"max_steps must be an int >= 32, got 8"):
        attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", max_steps=8)
    with pytest.raises(ValueError, match=r"steps must be 'auto' or an int >= 1, got 'many'"):
        attr.integrated_gradients(model, tokenizer, GROUNDING_TEXT, "horse", steps="many")
