"""Aggregates (mean over heads or layers), comparisons of two runs, and query spans, in Python:
the numbers the page shows are these."""

import numpy as np
import pytest
import traitlets

from attn_widget import AttentionWidget, capture
from attn_widget.engine.comparison import reference_js
from attn_widget.wire.dec3 import decode_dec3
from tests.support.arrays import TOKENS, softmax_attention
from tests.support.models import tiny_family


def test_head_minus_one_is_the_mean_over_heads_and_layer_minus_one_over_layers():
    a = softmax_attention(layers=3, heads=4)
    w = AttentionWidget(a, TOKENS, layer=1, head=-1)
    np.testing.assert_allclose(w.tile(1, -1, [0, 5, 0, 5]).values, a[1].mean(0), rtol=1e-6)
    np.testing.assert_allclose(w.tile(-1, 2, [0, 5, 0, 5]).values, a[:, 2].mean(0), rtol=1e-6)
    np.testing.assert_allclose(w.tile(-1, -1, [0, 5, 0, 5]).values, a.mean((0, 1)), rtol=1e-6)
    with pytest.raises(traitlets.TraitError, match=r"head must be in \[-1, 3\] \(-1 = the mean over heads\)"):
        w.head = -2


def test_aggregates_of_a_recorded_model_are_means_of_its_exact_heads():
    model, tokenizer = tiny_family("gpt2")
    w = AttentionWidget.from_model(model, tokenizer, "The cat sat on the mat.")
    mean = np.mean([w.capture.attention(1, h) for h in range(w.n_heads)], axis=0)
    np.testing.assert_allclose(w.tile(1, -1, [0, w.n_queries, 0, w.n_tokens]).values, mean, atol=1e-7)
    assert np.allclose(mean.sum(-1), 1, atol=1e-5)  # the mean of rows that sum to 1 sums to 1


def test_compare_two_arrays_shows_b_minus_a_and_js_divergence_per_head():
    a, b = softmax_attention(seed=0), softmax_attention(seed=1)
    w = AttentionWidget.compare(a, b, TOKENS, labels=("clean", "corrupted"))
    assert w.compare_labels == ["clean", "corrupted"] and w.heatmap_quantity == "difference"
    assert w.grid_metric == "js_divergence" and not w.eager
    expected = [[reference_js(a[layer, head], b[layer, head]) for head in range(3)] for layer in range(2)]
    np.testing.assert_allclose(w.scores(), expected, rtol=1e-5)
    np.testing.assert_allclose(w.scores("max_abs_difference"), np.abs(b - a).max((2, 3)), rtol=1e-6)
    assert w.scores()[0, 0] <= np.log(2)
    w.layer, w.head = 1, 2
    w.queries = [1, 3]
    np.testing.assert_allclose(w.queries_row(), (b - a)[1, 2, [1, 3]].mean(0), atol=1e-7)
    row = decode_dec3(np.frombuffer(w._queries_row["data"], dtype="<u2"))
    np.testing.assert_allclose(row, (b - a)[1, 2, [1, 3]].mean(0), rtol=2e-3, atol=1e-9)
    same = AttentionWidget.compare(a, a.copy(), TOKENS)
    assert np.all(same.scores() < 1e-7)


def test_compare_two_texts_with_one_model_and_one_text_with_two_models():
    model, tokenizer = tiny_family("gpt2")
    w = AttentionWidget.compare("The cat sat on the mat.", "The mat sat on the cat.", model=model, tokenizer=tokenizer)
    a = capture(model, tokenizer, "The cat sat on the mat.").attention(2, 1)
    b = capture(model, tokenizer, "The mat sat on the cat.").attention(2, 1)
    np.testing.assert_allclose(w._sources.runs().difference(2, 1), b - a)
    np.testing.assert_allclose(w.scores()[2, 1], reference_js(a, b), rtol=1e-4)
    assert w.tokens == ["The", "cat/mat", "sat", "on", "the", "mat/cat", "."]  # where the runs differ
    other, _ = tiny_family("gpt2", seed=1)
    w2 = AttentionWidget.compare(model, other, tokenizer=tokenizer, text="The cat sat on the mat.", labels=("seed 0", "seed 1"))
    assert w2.compare_labels == ["seed 0", "seed 1"] and w2.scores().max() > 0


def test_runs_tokenized_differently_are_refused_with_both_token_lists():
    model, tokenizer = tiny_family("gpt2")
    with pytest.raises(ValueError, match="tokenized differently") as err:
        AttentionWidget.compare("The cat sat.", "The dog sat.", model=model, tokenizer=tokenizer)
    message = str(err.value)
    assert (
        "a (4 tokens): ['The', 'cat', 'sat', '.']" in message
        and "b (7 tokens): ['The', '␣', 'd', 'o', 'g', 'sat', '.']" in message
    )
    with pytest.raises(ValueError, match="needs model=... and tokenizer=..."):
        AttentionWidget.compare("The cat.", "The dog.")
    with pytest.raises(TypeError, match="two runs of the same form"):
        AttentionWidget.compare("The cat.", softmax_attention(), TOKENS)
    with pytest.raises(ValueError, match="the same layers and heads"):
        AttentionWidget.compare(softmax_attention(heads=3), softmax_attention(heads=2), TOKENS)


def test_queries_sync_sorted_and_the_strip_row_is_their_exact_mean():
    a = softmax_attention(layers=1, heads=2, n=5)
    w = AttentionWidget(a, TOKENS)
    w.queries = [3, 1, 3]
    assert w.queries == [1, 3]
    np.testing.assert_allclose(w.queries_row(), a[0, 0, [1, 3]].mean(0), atol=1e-7)
    payload = w._queries_row
    assert payload["queries"] == [1, 3] and (payload["layer"], payload["head"]) == (0, 0)
    w.head = 1
    assert w._queries_row["head"] == 1
    w.queries = []
    assert w._queries_row == {}


def test_selected_queries_follow_a_kind_switch():
    model, tokenizer = tiny_family("bart")
    w = AttentionWidget.from_model(model, tokenizer, "The cat sat on the mat.", queries=[1, 2])
    w.kind = "cross"
    assert w._queries_row["kind"] == "cross" and w.queries == [1, 2]
    np.testing.assert_allclose(w.queries_row(), w.capture.attention(0, 0, "cross")[[1, 2]].mean(0), atol=1e-7)
