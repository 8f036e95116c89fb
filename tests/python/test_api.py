"""The public constructor: the forms of attention it accepts, and the errors bad input gets."""

import numpy as np
import pytest
import torch
import traitlets

from attn_widget import AttentionWidget
from attn_widget.engine.metrics import max_off_diagonal, mean_row_entropy
from tests.support.arrays import TOKENS, softmax_attention


def test_accepts_hf_tuple_tensor_and_array_alike(recording):
    a = softmax_attention()
    from_tuple = AttentionWidget(tuple(torch.from_numpy(a[i][None]) for i in range(2)), TOKENS)  # (1, H, N, N) each
    from_tensor = AttentionWidget(torch.from_numpy(a), TOKENS)
    from_array = AttentionWidget(a, TOKENS)
    for w in (from_tuple, from_tensor, from_array):
        np.testing.assert_array_equal(w.attention, a)
        assert (w.n_layers, w.n_heads, w.n_tokens) == (2, 3, 5)


def test_batched_input_needs_an_example_and_then_shows_it(recording):
    a = softmax_attention(seed=1)
    b = softmax_attention(seed=2)
    batch = tuple(torch.from_numpy(np.stack([a[i], b[i]])) for i in range(2))  # (B=2, H, N, N) per layer
    with pytest.raises(ValueError, match=r"batch of 2 sequences; pass example=i"):
        AttentionWidget(batch, TOKENS)
    np.testing.assert_array_equal(AttentionWidget(batch, TOKENS, example=1).attention, b)
    with pytest.raises(ValueError, match=r"example must be in \[0, 1\], got 2"):
        AttentionWidget(batch, TOKENS, example=2)


@pytest.mark.parametrize(
    "attention, tokens, message",
    [
        (softmax_attention(), TOKENS[:4], r"tokens has 4 entries but attention has N = 5"),
        (softmax_attention()[0], TOKENS, r"must have shape \(layers, heads, N, N\).*got shape \(3, 5, 5\)"),
        (softmax_attention()[:, :, :4, :], TOKENS, r"square in its last two axes.*got 4 x 5"),
        ((), TOKENS, r"empty sequence.*SDPA"),
        ("not an array", TOKENS, r"attention must be a numeric array"),
    ],
)
def test_bad_shapes_say_what_was_expected_and_what_came(recording, attention, tokens, message):
    with pytest.raises((ValueError, TypeError), match=message):
        AttentionWidget(attention, tokens)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_is_refused_with_its_position(recording, bad):
    a = softmax_attention()
    a[1, 2, 3, 4] = bad
    with pytest.raises(ValueError, match=r"NaN or Inf.*layer 1, head 2, query 3, key 4"):
        AttentionWidget(a, TOKENS)


def test_tokens_must_be_strings(recording):
    with pytest.raises(TypeError, match=r"tokens\[2\] must be a str, got int"):
        AttentionWidget(softmax_attention(), ["a", "b", 3, "d", "e"])
    with pytest.raises(TypeError, match="single str"):
        AttentionWidget(softmax_attention(), "abcde")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("layer", 2, r"layer must be in \[-1, 1\] \(-1 = the mean over layers\), got 2"),
        ("head", -2, r"head must be in \[-1, 2\] \(-1 = the mean over heads\), got -2"),
        ("queries", [0, 5], r"queries must be a list of query positions \(ints in \[0, 4\]\), got \[0, 5\]"),
        ("query", 5, r"query must be in \[-1, 4\] \(-1 = none\), got 5"),
        ("key", -2, r"key must be in \[-1, 4\] \(-1 = none\), got -2"),
        (
            "grid_metric",
            "bogus",
            r"grid_metric must be one of \['entropy', 'max_attention', 'previous_token', .*'local'\], got 'bogus'",
        ),
    ],
)
def test_out_of_range_selection_raises_a_trait_error_with_the_range(recording, name, value, message):
    w = AttentionWidget(softmax_attention(), TOKENS)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(w, name, value)


def test_initial_selection_is_validated_too(recording):
    with pytest.raises(traitlets.TraitError, match=r"head must be in \[-1, 2\] \(-1 = the mean over heads\), got 7"):
        AttentionWidget(softmax_attention(), TOKENS, head=7)


def test_entropy_is_log_n_for_uniform_rows_and_zero_for_one_hot_rows():
    n = 6
    uniform = np.full((1, 1, n, n), 1 / n, np.float32)
    one_hot = np.broadcast_to(np.eye(n, dtype=np.float32), (1, 1, n, n))
    assert mean_row_entropy(uniform)[0, 0] == pytest.approx(np.log(n), rel=1e-6)
    assert mean_row_entropy(one_hot)[0, 0] == 0.0


def test_max_attention_leaves_out_the_first_token_and_the_diagonal():
    a = np.zeros((1, 2, 4, 4), np.float32)
    a[0, 0, :, 0] = 0.9  # a sink on the first token: ignored
    a[0, 0, 2, 2] = 0.8  # self-attention: ignored
    a[0, 0, 3, 1] = 0.3
    a[0, 1, 1, 1] = 1.0
    np.testing.assert_allclose(max_off_diagonal(a), [[0.3, 0.0]])


def test_scores_are_what_the_grid_shows(recording):
    w = AttentionWidget(softmax_attention(), TOKENS)
    np.testing.assert_allclose(w.scores(), mean_row_entropy(w.attention))
    w.grid_metric = "max_attention"
    np.testing.assert_allclose(w.scores(), max_off_diagonal(w.attention))
    assert not w.attention.flags.writeable


def test_misspelt_keywords_are_type_errors_naming_the_closest_valid_one():
    att = softmax_attention(layers=3, heads=2, n=5, seed=1)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'layr'; did you mean 'layer'\?"):
        AttentionWidget(att, list("abcde"), layr=2)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'grid_metrc'; did you mean 'grid_metric'\?"):
        AttentionWidget(att, list("abcde"), grid_metrc="entropy")


def test_from_model_names_a_misspelt_keyword_too():
    from tests.support.models import tiny_family

    model, tokenizer = tiny_family("gpt2", seed=1)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'saliancy'; did you mean 'saliency'\?"):
        AttentionWidget.from_model(model, tokenizer, "a b c", saliancy=True)


def test_positions_refuse_bools_and_floats_and_take_numpy_ints():
    w = AttentionWidget(softmax_attention(layers=3, heads=2, n=5, seed=1), list("abcde"))
    with pytest.raises(traitlets.TraitError, match=r"layer must be an int, got True"):
        w.layer = True
    with pytest.raises(traitlets.TraitError, match=r"head must be an int, got 1\.0"):
        w.head = 1.0
    w.layer = np.int64(2)  # what argmax gives
    assert w.layer == 2 and type(w.layer) is int


def test_every_public_trait_says_its_type_default_and_meaning():
    """What `w.<tab>` offers is documented: each public synced trait has help naming its type and default."""
    traits = AttentionWidget.class_traits(sync=True)
    public = sorted(n for n in traits if not n.startswith("_") and n not in ("layout", "tabbable", "tooltip"))
    assert {"layer", "head", "query", "key", "kind", "window", "grid_metric", "busy", "status"} <= set(public)
    for name in public:
        help_text = traits[name].help
        assert help_text and "default" in help_text and ":" in help_text.split("default")[0], f"{name}: {help_text!r}"


def test_a_from_model_argument_given_to_the_constructor_says_where_it_belongs():
    with pytest.raises(
        TypeError, match=r"'saliency' is an argument of AttentionWidget.from_model\(model, tokenizer, text, \.\.\.\)"
    ):
        AttentionWidget(softmax_attention(layers=3, heads=2, n=5, seed=1), list("abcde"), saliency=True)


def test_arguments_that_would_be_ignored_or_fail_later_are_refused_when_the_widget_is_made():
    att, toks = softmax_attention(layers=3, heads=2, n=5, seed=1), list("abcde")
    with pytest.raises(ValueError, match=r"eager_bytes must be an int >= 0 \(bytes of weights sent up front\), got -5"):
        AttentionWidget(att, toks, eager_bytes=-5)
    with pytest.raises(
        ValueError, match=r"target and position choose the prediction to explain: they need AttentionWidget.from_model"
    ):
        AttentionWidget(att, toks, target="cat")
    with pytest.raises(ValueError, match=r"target and position choose the prediction to explain"):
        AttentionWidget(att, toks, position=2)
