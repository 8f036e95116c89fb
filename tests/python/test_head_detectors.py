"""Head detectors as grid metrics: exact values on attention built to have them, and equal to a
plain loop on a real (tiny, random) model, through the exact pass and the sampled estimate."""

import numpy as np
import pytest

from attn_widget import AttentionWidget
from attn_widget.engine import grid_scores
from attn_widget.engine.detectors import LOCAL_WINDOW, reference_detectors
from attn_widget.wire.dec3 import format_value
from tests.support.models import tiny_family

DETECTOR_FIELDS = {
    "previous_token": "previous",
    "duplicate_token": "duplicate",
    "induction": "induction",
    "first_token": "first",
    "local": "local",
}
TOKENS = ["<s>", "a", "b", "c", "a", "b", "c", "d"]  # a b c repeated: earlier copies at 4, 5, 6


def _one_hot(targets: list[int]) -> np.ndarray:
    n = len(targets)
    a = np.zeros((1, 1, n, n), dtype=np.float32)
    a[0, 0, np.arange(n), targets] = 1.0
    return a


def test_a_previous_token_head_scores_one_and_a_sink_head_scores_one():
    n = len(TOKENS)
    w = AttentionWidget(_one_hot([0] + list(range(n - 1))), TOKENS)
    assert w.scores("previous_token")[0, 0] == 1.0
    assert w.scores("first_token")[0, 0] == pytest.approx(2 / n)  # rows 0 and 1 look at position 0
    sink = AttentionWidget(_one_hot([0] * n), TOKENS)
    assert sink.scores("first_token")[0, 0] == 1.0
    assert sink.scores("previous_token")[0, 0] == pytest.approx(1 / (n - 1))  # row 1's previous is 0


def test_an_induction_head_scores_one_and_a_duplicate_head_scores_one_on_rows_with_an_earlier_copy():
    # rows 4, 5, 6 ("a b c" again) look at the token after their earlier copy: 2, 3, 4
    targets = list(range(len(TOKENS)))
    targets[4:7] = [2, 3, 4]
    w = AttentionWidget(_one_hot(targets), TOKENS)
    assert w.scores("induction")[0, 0] == 1.0
    assert w.scores("duplicate_token")[0, 0] == 0.0
    targets[4:7] = [1, 2, 3]  # the earlier copies themselves
    w = AttentionWidget(_one_hot(targets), TOKENS)
    assert w.scores("duplicate_token")[0, 0] == 1.0
    assert w.scores("induction")[0, 0] == 0.0


def test_local_counts_keys_within_the_window_and_no_repeats_means_no_value():
    n = 12
    uniform = np.full((1, 1, n, n), 1 / n, dtype=np.float32)
    tokens = [f"t{i}" for i in range(n)]
    w = AttentionWidget(uniform, tokens)
    expected = np.mean([sum(1 for j in range(n) if abs(i - j) <= LOCAL_WINDOW) / n for i in range(n)])
    assert w.scores("local")[0, 0] == pytest.approx(expected, rel=1e-6)
    assert np.isnan(w.scores("induction")[0, 0]) and np.isnan(w.scores("duplicate_token")[0, 0])
    payload = w._grid_feed.payload("induction", w.kind, None)
    assert payload["undefined"] == b"\x01" and payload["aggregates_undefined"] == b"\x01\x01\x01"


@pytest.fixture(scope="module")
def probe_widget():
    model, tokenizer = tiny_family("llama")  # rotary, grouped-query: the logit path in full
    return AttentionWidget.induction_probe(model, tokenizer, length=12, seed=3)


def test_the_induction_probe_repeats_random_tokens_after_a_first_token(probe_widget):
    w = probe_widget
    assert w.n_tokens == 25 and w.grid_metric == "induction"
    assert w.tokens[1:13] == w.tokens[13:] and len(set(w.tokens[1:13])) == 12


@pytest.mark.parametrize("metric", sorted(DETECTOR_FIELDS))
def test_each_detector_on_a_real_model_equals_a_hand_computed_loop(probe_widget, metric):
    w = probe_widget
    cap = w.capture
    expected = np.array(
        [
            [reference_detectors(cap.attention(layer, head), w.tokens)[DETECTOR_FIELDS[metric]] for head in range(w.n_heads)]
            for layer in range(w.n_layers)
        ]
    )
    np.testing.assert_allclose(w.scores(metric), expected, rtol=1e-5, atol=1e-7)


def test_the_sampled_estimate_of_a_detector_is_the_loop_over_the_sampled_rows(probe_widget, monkeypatch):
    w = probe_widget
    monkeypatch.setattr(grid_scores, "MAX_SAMPLE", 8)
    monkeypatch.setattr(grid_scores, "MIN_SAMPLE", 8)
    grid = grid_scores.GridScores(w.capture.kind(), w._sources.engine, lambda layer, head: ("probe", layer, head))
    grid.estimate()
    rows = grid_scores.sample_rows(w.n_queries, 8)
    values, errors = grid.values("previous_token")
    attention = w.capture.attention(1, 2)
    expected = np.mean([attention[i, i - 1] for i in rows if i >= 1])
    assert values[1, 2] == pytest.approx(expected, rel=1e-5) and errors[1, 2] > 0


def test_detectors_are_offered_for_self_attention_only():
    model, tokenizer = tiny_family("bart")
    w = AttentionWidget.from_model(model, tokenizer, "The cat sat on the mat.", grid_metric="induction")
    assert "induction" in w._metric_ids()
    w.kind = "cross"
    assert w.grid_metric == "entropy" and "induction" not in w._metric_ids()
    with pytest.raises(ValueError, match="for kind 'cross'"):
        w.scores("previous_token")


def test_the_grid_payload_sends_the_aggregates_python_computes():
    rng = np.random.default_rng(0)
    a = rng.random((3, 4, 6, 6)).astype(np.float32)
    a /= a.sum(-1, keepdims=True)
    w = AttentionWidget(a, list("abcabd"))
    scores = w.scores("previous_token").astype(np.float64)
    payload = w._grid_feed.payload("previous_token", w.kind, None)
    codes = np.frombuffer(payload["aggregates"], dtype="<u2")
    expected = np.concatenate([scores.mean(1), scores.mean(0), [scores.mean()]])
    assert [format_value(v) for v in expected] == [format_value(v) for v in _decode(codes)]


def _decode(codes: np.ndarray) -> np.ndarray:
    from attn_widget.wire.dec3 import decode_dec3

    return decode_dec3(codes)


def test_the_dense_fallback_for_texts_with_too_many_copies_gives_the_same_numbers(probe_widget, monkeypatch):
    from attn_widget.engine import detectors

    monkeypatch.setattr(detectors, "MAX_PAIRS", 0)  # as for a text that repeats a few tokens thousands of times
    w = AttentionWidget(probe_widget.capture)
    assert w._grid_feed.attention.grid(w.kind).ids.pairs() is None
    for metric in ("duplicate_token", "induction"):
        np.testing.assert_allclose(w.scores(metric), probe_widget.scores(metric), rtol=1e-6)
