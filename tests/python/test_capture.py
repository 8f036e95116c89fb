"""attn_widget.capture: queries and keys recorded in one SDPA forward, heads recomputed on demand.
For every family, every head equals eager ``output_attentions`` (1e-5 in fp32, causal zeros exact),
with padding and sentence pairs, whatever the attention implementation; the model is left as it was."""

import numpy as np
import pytest
import torch

from attn_widget import AttentionWidget, Capture, capture
from attn_widget.capturing.run import _shift_right
from tests.support.models import eager_reference, minilm, tiny_family, tiny_gpt2

TEXT = "The cat sat on the mat because it was tired."
BATCH = ["A child painted a picture of a horse.", "The cat sat"]
FAMILIES = ["gpt2", "bert", "llama", "mqa", "bart"]


def real(mask, example):
    return mask[example].bool().numpy()


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("family", FAMILIES)
def test_every_head_equals_eager_attention_with_padding(family, implementation):
    model, tokenizer = tiny_family(family, implementation)
    tokenizer.pad_token = tokenizer.eos_token
    encoded = dict(tokenizer(BATCH, return_tensors="pt", padding=True))
    extra = {}
    if model.config.is_encoder_decoder:
        dec, dec_mask = _shift_right(encoded["input_ids"], encoded["attention_mask"], model.config)
        extra = {"decoder_input_ids": dec, "decoder_attention_mask": dec_mask}
    reference = eager_reference(model, encoded, **extra)
    for example in (0, 1):
        c = capture(model, tokenizer, BATCH, example=example)
        assert model.config._attn_implementation == implementation  # restored
        assert set(c.kinds) == set(reference)
        enc_keep = real(encoded["attention_mask"], example)
        dec_keep = real(extra["decoder_attention_mask"], example) if extra else enc_keep
        axes = {
            "self": (enc_keep, enc_keep),
            "encoder": (enc_keep, enc_keep),
            "decoder": (dec_keep, dec_keep),
            "cross": (dec_keep, enc_keep),
        }
        for kind, ref in reference.items():
            q_keep, k_keep = axes[kind]
            expected = ref[:, example][:, :, q_keep][:, :, :, k_keep]
            got = c.attentions(kind)
            assert got.shape == expected.shape and got.dtype == np.float32
            np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
            # any single head on demand is the same matrix
            layer, head = got.shape[0] - 1, got.shape[1] - 1
            np.testing.assert_array_equal(c.attention(layer, head, kind), got[layer, head])
            np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
            if kind in ("decoder",) or (kind == "self" and family in ("gpt2", "llama", "mqa")):
                upper = np.triu(np.ones(got.shape[-2:], bool), k=1)
                assert np.all(got[:, :, upper] == 0.0), "causal zeros must be exact"
        if example == 1 and "self" in c.kinds:
            assert len(c.tokens) == int(enc_keep.sum())  # padding dropped


def test_grouped_query_heads_map_to_their_shared_key_head():
    model, tokenizer = tiny_family("llama")
    c = capture(model, tokenizer, TEXT)
    assert (c.n_layers, c.n_heads) == (2, 4)  # one matrix per query head, 2 key heads
    a = c.attentions()
    assert not np.allclose(a[0, 0], a[0, 1])  # query heads sharing a key head still differ


def test_sentence_pairs_on_the_packaged_minilm():
    model, tokenizer = minilm()
    assert model.config._attn_implementation == "sdpa"
    c = capture(model, tokenizer, "A child painted a horse.", text_pair="It is her favourite animal.")
    encoded = tokenizer("A child painted a horse.", "It is her favourite animal.", return_tensors="pt")
    expected = eager_reference(model, dict(encoded))["self"][:, 0]
    np.testing.assert_allclose(c.attentions(), expected, atol=1e-5, rtol=0)
    assert c.tokens.count("[SEP]") == 2
    assert model.config._attn_implementation == "sdpa"


def test_bf16_model_gives_float32_attention_close_to_eager():
    model, tokenizer = tiny_family("llama")
    reference = eager_reference(model, dict(tokenizer(TEXT, return_tensors="pt")))["self"][:, 0]
    model = model.to(torch.bfloat16)
    c = capture(model, tokenizer, TEXT)
    assert model.dtype == torch.bfloat16
    got = c.attentions()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, reference, atol=3e-2)


def test_training_mode_and_implementation_are_restored():
    model, tokenizer = tiny_gpt2()
    model.train()
    c = capture(model, tokenizer, "the cat")
    assert model.training
    assert model.config._attn_implementation == "sdpa"
    assert isinstance(c, Capture) and c.attentions().dtype == np.float32


def test_capture_stores_queries_and_keys_not_weights():
    model, tokenizer = tiny_family("gpt2")
    c = capture(model, tokenizer, TEXT * 3)
    calls = c.kind().calls
    n = len(c.tokens)
    assert len(calls) == 3
    assert calls[0].q.shape == (4, n, 8) and calls[0].k.shape == (4, n, 8)
    assert calls[0].mask is None and calls[0].causal  # the causal mask is implicit, not N x N


def test_encoder_decoder_has_three_kinds_and_the_widget_switches_between_them():
    model, tokenizer = tiny_family("bart")
    c = capture(model, tokenizer, TEXT, decoder_text="A cat.")
    assert c.kinds == ("encoder", "decoder", "cross")
    n_enc, n_dec = len(tokenizer(TEXT)["input_ids"]), len(tokenizer(text_target="A cat.")["input_ids"])
    assert c.shape("encoder") == (2, 4, n_enc, n_enc)
    assert c.shape("decoder") == (3, 2, n_dec, n_dec)
    assert c.shape("cross") == (3, 2, n_dec, n_enc)
    w = AttentionWidget.from_capture(c, layer=1, head=3)
    assert w.kind == "encoder" and [k["id"] for k in w.kinds] == ["encoder", "decoder", "cross"]
    w.kind = "cross"
    assert (w.n_layers, w.n_heads, w.n_queries, w.n_tokens) == (3, 2, n_dec, n_enc)
    assert (w.layer, w.head) == (1, 1)  # clamped into the new kind's range
    assert w.query_tokens != w.tokens
    np.testing.assert_array_equal(w.attention, c.attentions("cross"))
    np.testing.assert_array_equal(w.scores(), w.scores(kind="cross"))
    with pytest.raises(Exception, match=r"kind must be one of \['encoder', 'decoder', 'cross'\], got 'self'"):
        w.kind = "self"


def test_from_generate_marks_the_generated_tokens():
    model, tokenizer = tiny_family("gpt2")
    prompt = "A child painted a picture of a"
    n_prompt = len(tokenizer(prompt)["input_ids"])
    w = AttentionWidget.from_generate(model, tokenizer, prompt, max_new_tokens=5)
    assert w.n_tokens == n_prompt + 5
    assert w.generated == [False] * n_prompt + [True] * 5
    # the attention over the whole sequence is one causal forward of prompt + generation
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        full = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    reference = eager_reference(model, {"input_ids": full})["self"][:, 0]
    np.testing.assert_allclose(w.attention, reference, atol=1e-5, rtol=0)


def test_from_generate_on_an_encoder_decoder_marks_the_decoder_side():
    model, tokenizer = tiny_family("bart")
    w = AttentionWidget.from_generate(model, tokenizer, "A child painted a horse.", max_new_tokens=4)
    w.kind = "cross"
    assert w.query_generated[0] is False and all(w.query_generated[1:])
    assert len(w.query_tokens) >= 2 and not any(w.generated)


def test_widget_from_model_uses_the_capture(recording):
    model, tokenizer = minilm()
    w = AttentionWidget.from_model(model, tokenizer, TEXT)
    assert (w.n_layers, w.n_heads) == (6, 12)
    expected = eager_reference(model, dict(tokenizer(TEXT, return_tensors="pt")))["self"][:, 0]
    np.testing.assert_allclose(w.attention, expected, atol=1e-5)
    assert w.tokens[:3] == ["[CLS]", "the", "cat"] and w.tokens[-1] == "[SEP]"
    assert w.special[0] and w.special[-1] and not any(w.special[1:-1])


def test_wordpiece_continuations_keep_their_marker(recording):
    model, tokenizer = minilm()
    w = AttentionWidget.from_model(model, tokenizer, "unbelievably tokenized")
    assert any(t.startswith("##") for t in w.tokens), w.tokens


def test_gpt2_byte_level_labels_are_readable(recording):
    model, tokenizer = tiny_gpt2()
    text = "A child painted a horse.\nMy favourite animal"
    w = AttentionWidget.from_model(model, tokenizer, text)
    raw = tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
    assert any(t.startswith("Ġ") for t in raw)  # the tokenizer really is byte-level
    assert not any("Ġ" in t or "Ċ" in t for t in w.tokens), w.tokens
    assert "⏎" in "".join(w.tokens)


def test_a_batch_needs_an_example():
    model, tokenizer = tiny_gpt2()
    with pytest.raises(ValueError, match=r"batch of 2 strings; pass example=i"):
        capture(model, tokenizer, BATCH)
    with pytest.raises(ValueError, match=r"example must be an int in \[0, 1\], got 2"):
        capture(model, tokenizer, BATCH, example=2)


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("", ValueError, "text is empty"),
        ("   ", ValueError, "text is empty"),
        ([], TypeError, "non-empty str"),
        (["ok", ""], ValueError, r"text\[1\] is empty"),
        (3, TypeError, "got int"),
    ],
)
def test_bad_text_gets_a_clear_error(recording, text, error, message):
    model, tokenizer = tiny_gpt2()
    with pytest.raises(error, match=message):
        AttentionWidget.from_model(model, tokenizer, text)


def test_text_longer_than_the_model_allows_is_refused():
    model, tokenizer = tiny_gpt2(n_positions=8)
    with pytest.raises(ValueError, match=r"tokens long but the model accepts at most 8 positions"):
        capture(model, tokenizer, TEXT)


def test_bad_head_and_kind_requests_name_the_range():
    model, tokenizer = tiny_gpt2()
    c = capture(model, tokenizer, TEXT)
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 2\] for kind 'self', got 3"):
        c.attention(3, 0)
    with pytest.raises(ValueError, match=r"kind must be one of \['self'\], got 'cross'"):
        c.attention(0, 0, "cross")
    with pytest.raises(MemoryError, match=r"would need .* GiB"):
        c.attentions(max_bytes=10)


def test_grid_scores_of_a_capture_equal_those_of_its_array():
    """Recomputed heads are scored in torch, arrays in numpy: the grid must not depend on which."""
    from attn_widget.engine.metrics import max_off_diagonal, mean_row_entropy

    model, tokenizer = tiny_family("llama")
    c = capture(model, tokenizer, TEXT)
    w = AttentionWidget.from_capture(c)
    np.testing.assert_allclose(w.scores("entropy"), mean_row_entropy(c.attentions()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.scores("max_attention"), max_off_diagonal(c.attentions()), rtol=1e-6)
    # the grid's pass over each head also caches what tiles are cut from: they stay exact,
    # down to the first query row (its only key is also its diagonal cell)
    n = c.attentions().shape[-1]
    for layer, head in ((0, 0), (1, 3)):
        np.testing.assert_allclose(w.tile(layer, head, (0, n, 0, n), 1).values, c.attentions()[layer, head], atol=2e-6)


def test_left_padding_keeps_the_real_tokens_and_stays_exact():
    model, tokenizer = tiny_family("llama")
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    try:
        encoded = dict(tokenizer(BATCH, return_tensors="pt", padding=True))
        reference = eager_reference(model, encoded)["self"]
        c = capture(model, tokenizer, BATCH, example=1)  # the short text, padded on the left
    finally:
        tokenizer.padding_side = "right"
    keep = real(encoded["attention_mask"], 1)
    assert not keep[0]  # really left-padded
    np.testing.assert_allclose(c.attentions(), reference[:, 1][:, :, keep][:, :, :, keep], atol=1e-5, rtol=0)
    assert len(c.tokens) == int(keep.sum())


def test_attention_that_the_recomputation_cannot_model_is_refused_by_name(monkeypatch):
    """T5's relative position bias is modelled (a function of j - i per head); an arbitrary N x N
    bias is not, and is refused by name, with the model left as it was."""
    from transformers import T5Config, T5ForConditionalGeneration
    from transformers.models.t5 import modeling_t5

    _, tokenizer = tiny_family("gpt2")
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=32,
        num_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
        pad_token_id=0,
    )
    model = T5ForConditionalGeneration(config).eval()
    assert capture(model, tokenizer, TEXT).kinds == ("encoder", "decoder", "cross")

    def arbitrary_bias(self, query_length, key_length, device=None, past_seen_tokens=0):
        return torch.randn(1, self.n_heads, query_length, key_length, device=device)

    monkeypatch.setattr(modeling_t5.T5Attention, "compute_bias", arbitrary_bias)
    with pytest.raises(NotImplementedError, match=r"T5Attention's position bias is a float bias that is neither"):
        capture(model, tokenizer, TEXT)
    assert model.config._attn_implementation == "sdpa"  # restored after the refusal
