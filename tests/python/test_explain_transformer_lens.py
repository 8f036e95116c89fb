"""w.explain agrees with an independent implementation: TransformerLens's residual decomposition
(``ActivationCache.get_full_resid_decomposition(..., apply_ln=True)``, the stream at a block's input
split into embed, pos_embed, every earlier head, every MLP and the biases, through that block's
LayerNorm with the cached scale) on the same GPT-2 weights gives the same per-component query and
key vectors to 1e-4.

TransformerLens leaves the LayerNorm's gain and shift and the query/key projection to the caller
(``HookedTransformer`` folds them into W_Q); here they are applied by hand from the same model.
TransformerLens 4 (``TransformerBridge``) is in the ``test`` dependency group; without it this skips.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("transformer_lens.model_bridge", reason="TransformerLens 4 (the test dependency group) is not installed")

from attn_widget import AttentionWidget  # noqa: E402
from tests.support.explain_models import model_of  # noqa: E402

TEXT = "The cat sat on the mat because it was tired."


def tl_name(label: str) -> str:
    """TransformerLens's component label as ours: '0_mlp_out' is 'L0.mlp'; heads, embed, pos_embed, bias agree."""
    return f"L{label.split('_')[0]}.mlp" if label.endswith("_mlp_out") else label


def tl_query_and_key_vectors(cache: Any, model: Any, layer: int, head: int, query: int, key: int) -> dict[str, Any]:
    """Per component: (its share of q at ``query``, of k at ``key``), from TransformerLens's stack."""
    stack, labels = cache.get_full_resid_decomposition(layer=layer, expand_neurons=False, apply_ln=True, return_labels=True)
    stack = stack[:, 0].double()  # (C, N, D): centred and divided by ln1's cached scale, per position
    block = model.transformer.h[layer]
    gain, shift = block.ln_1.weight.double(), block.ln_1.bias.double()
    d_model, d_head = int(model.config.n_embd), int(model.config.n_embd) // int(model.config.n_head)
    w, b = block.attn.c_attn.weight.double(), block.attn.c_attn.bias.double()  # Conv1D: (D, 3D), q | k | v
    cols = slice(head * d_head, (head + 1) * d_head)
    w_q, b_q = w[:, :d_model][:, cols], b[:d_model][cols]
    w_k, b_k = w[:, d_model : 2 * d_model][:, cols], b[d_model : 2 * d_model][cols]
    vectors = {}
    for label, part in zip(labels, stack, strict=True):
        q, k = (part[query] * gain) @ w_q, (part[key] * gain) @ w_k
        if label == "bias":  # the constants: ln1's shift and the projections' biases join the biases' share
            q, k = q + shift @ w_q + b_q, k + shift @ w_k + b_k
        vectors[tl_name(label)] = (q.detach().numpy(), k.detach().numpy())
    return vectors


def test_per_component_queries_and_keys_match_transformer_lens_on_the_same_gpt2_weights() -> None:
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import AutoTokenizer

    model, tokenizer = model_of("gpt2")
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        bridge = TransformerBridge.boot_transformers(folder, tokenizer=AutoTokenizer.from_pretrained(folder))
    ids = tokenizer(TEXT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        _, cache = bridge.run_with_cache(ids)
    widget = AttentionWidget.from_model(model, tokenizer, TEXT)
    largest = 0.0
    for layer, head, query, key in ((0, 1, 5, 2), (1, 3, 8, 4), (2, 0, 10, 6), (2, 2, 7, 7)):
        ours = widget.explain(layer, head, query, key)
        theirs = tl_query_and_key_vectors(cache, model, layer, head, query, key)
        assert sorted(theirs) == sorted(ours.components)  # the same components, by name
        for i, name in enumerate(ours.components):
            q, k = theirs[name]
            np.testing.assert_allclose(ours.query_vectors[i], q, atol=1e-4, err_msg=f"{name}'s query, L{layer}H{head}")
            np.testing.assert_allclose(ours.key_vectors[i], k, atol=1e-4, err_msg=f"{name}'s key, L{layer}H{head}")
            largest = max(largest, float(np.abs(q).max()))
        tl_score = sum(float(q @ k) for q, _ in theirs.values() for _, k in theirs.values()) * ours.scale
        assert ours.score == pytest.approx(tl_score, abs=1e-4)
    assert largest > 0.5, "vectors this small would make the 1e-4 check meaningless"
