"""from_model on real and small models: attention is collected whatever the attention
implementation, equals an eager forward, and the user's model is left as it was."""

import numpy as np
import pytest
import torch

from attn_widget import AttentionWidget
from attn_widget.capture import capture_attention
from tests.python.models import minilm, tiny_gpt2

TEXT = "The cat sat on the mat because it was tired."


def eager_reference(model, tokenizer, text):
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(**tokenizer(text, return_tensors="pt"), output_attentions=True)
        return torch.stack([a[0] for a in out.attentions]).numpy()
    finally:
        model.set_attn_implementation(before)


def test_packaged_minilm_under_sdpa_gives_its_eager_attention(recording):
    model, tokenizer = minilm()
    assert model.config._attn_implementation == "sdpa"  # transformers v5 default: no weights
    w = AttentionWidget.from_model(model, tokenizer, TEXT)
    assert (w.n_layers, w.n_heads) == (6, 12)
    np.testing.assert_allclose(w.attention, eager_reference(model, tokenizer, TEXT), atol=1e-6)
    np.testing.assert_allclose(w.attention.sum(-1), 1.0, atol=1e-5)
    assert model.config._attn_implementation == "sdpa"  # switched back
    assert w.tokens[:3] == ["[CLS]", "the", "cat"] and w.tokens[-1] == "[SEP]"
    assert w.special[0] and w.special[-1] and not any(w.special[1:-1])


def test_wordpiece_continuations_keep_their_marker(recording):
    model, tokenizer = minilm()
    w = AttentionWidget.from_model(model, tokenizer, "unbelievably tokenized")
    assert any(t.startswith("##") for t in w.tokens), w.tokens


def test_gpt2_byte_level_labels_are_readable_and_causal_zeros_exact(recording):
    model, tokenizer = tiny_gpt2()
    text = "A child painted a horse.\nMy favourite animal"
    w = AttentionWidget.from_model(model, tokenizer, text)
    raw = tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
    assert any(t.startswith("Ġ") for t in raw)  # the tokenizer really is byte-level
    assert not any("Ġ" in t or "Ċ" in t for t in w.tokens), w.tokens
    assert "⏎" in "".join(w.tokens)
    n = w.n_tokens
    upper = np.triu(np.ones((n, n), bool), k=1)
    assert np.all(w.attention[:, :, upper] == 0.0)
    np.testing.assert_allclose(w.attention, eager_reference(model, tokenizer, text), atol=1e-6)


def test_training_mode_and_gradients_are_untouched():
    model, tokenizer = tiny_gpt2()
    model.train()
    captured = capture_attention(model, tokenizer, "the cat")
    assert model.training
    assert model.config._attn_implementation == "sdpa"
    assert captured.attention.dtype == np.float32


def test_a_padded_batch_shows_one_example_with_its_real_tokens_only(recording):
    model, tokenizer = minilm()
    texts = ["a short one", TEXT]
    with pytest.raises(ValueError, match=r"batch of 2 strings; pass example=i"):
        AttentionWidget.from_model(model, tokenizer, texts)
    w = AttentionWidget.from_model(model, tokenizer, texts, example=0)
    assert w.tokens == ["[CLS]", "a", "short", "one", "[SEP]"]
    np.testing.assert_allclose(w.attention, eager_reference(model, tokenizer, "a short one"), atol=1e-5)


@pytest.mark.parametrize("text, error, message", [("", ValueError, "text is empty"), ("   ", ValueError, "text is empty"), ([], TypeError, "non-empty str"), (["ok", ""], ValueError, r"text\[1\] is empty"), (3, TypeError, "got int")])
def test_bad_text_gets_a_clear_error(recording, text, error, message):
    model, tokenizer = tiny_gpt2()
    with pytest.raises(error, match=message):
        AttentionWidget.from_model(model, tokenizer, text)


def test_text_longer_than_the_model_allows_is_refused():
    model, tokenizer = tiny_gpt2(n_positions=8)
    with pytest.raises(ValueError, match=r"tokens long but the model accepts at most 8 positions"):
        capture_attention(model, tokenizer, TEXT)
