"""Every text family transformers v5 builds, as a researcher loads it: a tiny random model with a
config shaped like the family's published one (tests/support/families.py). Every head of every
kind equals eager ``output_attentions`` to 1e-5, through ``Capture.attentions`` and through the tile
engine; families that compute attention their own way are captured whole and say so."""

import numpy as np
import pytest
import torch

from attn_widget import capture
from attn_widget.capturing.run import _shift_right
from attn_widget.engine.tiles import TileEngine
from tests.support.families import FAMILIES, START_IN_GENERATION_CONFIG, tiny_family_model
from tests.support.models import eager_reference

BATCH = ["The cat sat on the mat because it was tired.", "A child painted a horse."]
EXAMPLE = 1  # the shorter text: padding is dropped, and biases and masks follow the kept positions
#: Families that never call transformers' AttentionInterface: captured from one eager pass, whole.
OWN_ATTENTION = {"bloom", "deberta_v2", "mpnet"}
PUBLISHED_44 = {
    "gpt2", "gpt_neox", "gptj", "opt", "bloom", "falcon", "llama", "mistral", "mixtral", "qwen2", "qwen2_moe",
    "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3", "phi", "phi3", "olmo", "olmo2", "starcoder2", "cohere",
    "granite", "stablelm", "gpt_oss", "smollm3", "glm", "helium", "exaone4", "bert", "roberta", "distilbert",
    "electra", "albert", "xlm_roberta", "deberta_v2", "modernbert", "mpnet", "bart", "mbart", "marian",
    "pegasus", "t5", "m2m_100",
}  # fmt: skip


def test_the_table_holds_the_44_families_of_the_issue():
    assert PUBLISHED_44 <= set(FAMILIES)
    assert len(PUBLISHED_44) == 44


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_head_of_every_kind_equals_eager(family):
    model, tokenizer = tiny_family_model(family)
    tokenizer.pad_token = tokenizer.eos_token
    encoded = dict(tokenizer(BATCH, return_tensors="pt", padding=True))
    extra = {}
    if model.config.is_encoder_decoder:
        dec, dec_mask = _shift_right(encoded["input_ids"], encoded["attention_mask"], model.config, model)
        extra = {"decoder_input_ids": dec, "decoder_attention_mask": dec_mask}
    reference = {k: v[:, EXAMPLE] for k, v in eager_reference(model, encoded, **extra).items()}
    c = capture(model, tokenizer, BATCH, example=EXAMPLE)

    enc_keep = encoded["attention_mask"][EXAMPLE].bool().numpy()
    dec_keep = extra["decoder_attention_mask"][EXAMPLE].bool().numpy() if extra else enc_keep
    axes = {
        "self": (enc_keep, enc_keep),
        "encoder": (enc_keep, enc_keep),
        "decoder": (dec_keep, dec_keep),
        "cross": (dec_keep, enc_keep),
    }
    assert set(c.kinds) == set(reference)
    engine = TileEngine()
    for kind, ref in reference.items():
        q_keep, k_keep = axes[kind]
        expected = ref[:, :, q_keep][:, :, :, k_keep]
        got = c.attentions(kind)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0, err_msg=f"{family} {kind}")
        # the tile engine (what the widget draws) gives the same weights, head by head
        n_layers, n_heads, n_q, n_k = got.shape
        for layer in range(n_layers):
            for head in range(n_heads):
                tile = engine.tile((kind, layer, head), c.kind(kind).source(layer, head), (0, n_q, 0, n_k), (1, 1))
                np.testing.assert_allclose(tile.values, expected[layer, head], atol=1e-5, rtol=0, err_msg=f"{family} tile")
    assert c.long_inputs is (family not in OWN_ATTENTION)
    if family in OWN_ATTENTION:
        assert type(model).__name__ in c.note and "no long-input path" in c.note and "no long-input path" in repr(c)
    else:
        assert c.note == ""


def test_a_start_token_kept_in_generation_config_is_read():
    """A checkpoint saved by transformers v5 keeps decoder_start_token_id in generation_config.json only."""
    for family in START_IN_GENERATION_CONFIG:
        model, tokenizer = tiny_family_model(family)
        assert getattr(model.config, "decoder_start_token_id", None) is None
        c = capture(model, tokenizer, BATCH[0])
        assert c.kinds == ("encoder", "decoder", "cross")


def test_sink_rows_sum_to_less_than_one_and_the_rest_is_the_sinks_share():
    from attn_widget.engine.row_stats import safe_lse

    model, tokenizer = tiny_family_model("gpt_oss")
    with torch.no_grad():
        model.model.layers[0].self_attn.sinks.fill_(2.0)  # a sink that takes a visible share
    c = capture(model, tokenizer, BATCH[0])
    weights = c.attention(0, 1)
    assert np.all(weights.sum(-1) < 0.99)
    source = c.kind().source(0, 1)
    lse = TileEngine().lse("k", source)
    share = np.exp(source.sink - safe_lse(lse).numpy())
    np.testing.assert_allclose(weights.sum(-1) + share, 1.0, atol=1e-5)


def test_a_bias_that_is_no_function_of_positions_is_refused_by_name(monkeypatch):
    from transformers.models.t5 import modeling_t5

    model, tokenizer = tiny_family_model("t5")

    def arbitrary_bias(self, query_length, key_length, device=None, past_seen_tokens=0):
        return torch.randn(1, self.n_heads, query_length, key_length, device=device)

    monkeypatch.setattr(modeling_t5.T5Attention, "compute_bias", arbitrary_bias)
    with pytest.raises(NotImplementedError, match=r"T5Attention's position bias is a float bias that is neither a function"):
        capture(model, tokenizer, BATCH[0])


@pytest.mark.parametrize("family", ["gemma2", "gpt_oss", "falcon_alibi", "t5"])
def test_saliency_gates_see_the_same_weights_and_leave_outputs_unchanged(family):
    from attn_widget.attribution.gates import gated

    model, tokenizer = tiny_family_model(family)
    encoded = dict(tokenizer(BATCH[0], return_tensors="pt"))
    if model.config.is_encoder_decoder:
        encoded["decoder_input_ids"] = _shift_right(encoded["input_ids"], None, model.config, model)[0]
    with torch.no_grad():
        plain = model(**encoded, use_cache=False).logits
        with gated(model) as gates:
            hooked = model(**encoded, use_cache=False).logits
    np.testing.assert_allclose(hooked.numpy(), plain.numpy(), atol=1e-5, rtol=0)
    c = capture(model, tokenizer, BATCH[0])
    first = c.kinds[0]
    gate_weights = np.stack([g.weights[0].numpy() for g in gates.calls[: c.shape(first)[0]]])
    np.testing.assert_allclose(gate_weights, c.attentions(first), atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", ["gemma2", "gpt_oss"])
def test_attention_x_gradient_runs_on_soft_capped_and_sink_models(family):
    from attn_widget import attribution as attr

    model, tokenizer = tiny_family_model(family)
    s = attr.saliency(model, tokenizer, BATCH[0])
    summed = s.attention_x_gradient.sum(axis=(-1, -2))
    np.testing.assert_allclose(s.head_importance, summed, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("family", ["gemma2", "t5", "falcon_alibi", "gpt_oss"])
def test_grid_metrics_detectors_and_aggregates_equal_those_of_the_same_weights_as_arrays(family):
    """The grid scores recomputed heads in torch and arrays in numpy: for soft-capped, biased
    and sink heads too, every metric must not depend on which (a sink's entropy counts the sink
    as one more outcome of its row)."""
    from attn_widget import AttentionWidget, Capture

    model, tokenizer = tiny_family_model(family)
    c = capture(model, tokenizer, BATCH[0])
    recorded = AttentionWidget.from_capture(c)
    weights = c.attentions()
    arrays = AttentionWidget(Capture.from_array(weights, c.tokens))
    for metric in recorded._metric_ids():
        got, expected = recorded.scores(metric), arrays.scores(metric)
        if metric == "entropy" and family == "gpt_oss":
            sink = np.clip(1.0 - weights.sum(-1, dtype=np.float64), 1e-30, 1.0)
            expected = expected - (sink * np.log(sink)).mean(-1)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=metric)
    n = weights.shape[-1]
    mean_head = recorded.tile(1, -1, (0, n, 0, n), 1).values  # the layer's aggregate
    np.testing.assert_allclose(mean_head, weights[1].mean(0), atol=1e-5)


@pytest.mark.parametrize(("family", "band"), [("gemma2", (3, 0)), ("gpt_oss", (3, 0)), ("modernbert", (2, 2))])
def test_sliding_windows_and_position_biases_are_kept_as_a_few_numbers(family, band):
    """Nothing N x N is stored: a sliding window is two numbers, T5's bias its buckets per offset."""
    model, tokenizer = tiny_family_model(family)
    c = capture(model, tokenizer, BATCH[0])
    windowed = [call for call in c.kind().calls if call.band is not None]
    assert windowed and all(call.mask is None and (call.band.before, call.band.after) == band for call in windowed)
    t5, tokenizer = tiny_family_model("t5")
    n = len(tokenizer(BATCH[0])["input_ids"])
    for call in capture(t5, tokenizer, BATCH[0]).kind("encoder").calls:
        assert call.bias.table.shape == (4, 2 * n - 1)  # per head, one value per offset j - i


@pytest.mark.parametrize("family", ["gemma2", "t5", "gpt_oss", "falcon_alibi"])
def test_long_inputs_take_the_tile_path_and_stay_exact(family):
    """Past the eager size the widget asks for tiles: pooled blocks are the block maxima of the
    exact weights, cells are the weights, sampled grid estimates come from the same rows."""
    from attn_widget import AttentionWidget
    from attn_widget.capturing.run import capture_ids

    model, tokenizer = tiny_family_model(family)
    n = 600
    ids = torch.randint(1, len(tokenizer), (1, n), generator=torch.Generator().manual_seed(0))
    encoded = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    decoder = _shift_right(ids, None, model.config, model) if model.config.is_encoder_decoder else None
    c = capture_ids(model, tokenizer, encoded, decoder=decoder)
    w = AttentionWidget.from_capture(c, eager_bytes=0)
    weights = c.attention(1, 3)
    pooled = w.tile(1, 3, (0, 512, 0, 512), 4).values
    np.testing.assert_allclose(pooled, weights[:512, :512].reshape(128, 4, 128, 4).max(axis=(1, 3)), atol=1e-6)
    np.testing.assert_allclose(w.tile(1, 3, (256, 512, 256, 512), 1).values, weights[256:512, 256:512], atol=1e-6)
    estimate = w.scores("entropy", exact=False)
    assert np.isfinite(estimate).all()
