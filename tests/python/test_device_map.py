"""Models split by accelerate's ``device_map`` (layers on different devices, some offloaded to
disk and loaded only for their forward): capture records each layer's queries and keys where
the layer ran, and tiles and grid scores equal the model's own attention weights."""

from __future__ import annotations

import numpy as np
import pytest

from attn_widget import AttentionWidget
from attn_widget.capturing.run import capture
from tests.support.models import byte_level_tokenizer

pytest.importorskip("accelerate")

TEXT = "A child painted a picture of a horse. My favourite animal is the horse."


def tiny_llama(tmp_path):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = byte_level_tokenizer()
    eos = tokenizer.eos_token_id
    torch.manual_seed(5)
    config = LlamaConfig(
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_size=32,
        intermediate_size=64,
        vocab_size=len(tokenizer),
        bos_token_id=eos,
        eos_token_id=eos,
    )
    model = LlamaForCausalLM._from_config(config, attn_implementation="eager").eval()
    for layer in model.model.layers:  # sharper heads than random init gives, so differences show
        layer.self_attn.q_proj.weight.data.mul_(8.0)
    model.save_pretrained(tmp_path / "weights")
    return model, tokenizer


def test_capture_and_tiles_of_a_model_split_between_cpu_and_disk(tmp_path):
    import torch
    from transformers import LlamaForCausalLM

    reference, tokenizer = tiny_llama(tmp_path)
    device_map = {
        "model.embed_tokens": "cpu",
        "model.rotary_emb": "cpu",
        "model.layers.0": "cpu",
        "model.layers.1": "disk",
        "model.layers.2": "cpu",
        "model.layers.3": "disk",
        "model.norm": "cpu",
        "lm_head": "cpu",
    }
    split = LlamaForCausalLM.from_pretrained(
        tmp_path / "weights", device_map=device_map, offload_folder=str(tmp_path / "offload")
    ).eval()
    assert getattr(split, "hf_device_map", {}).get("model.layers.1") == "disk"
    # offloaded weights live on disk (read from the checkpoint when the layer runs): in memory
    # the layer holds only placeholders on the "meta" device
    assert split.model.layers[1].self_attn.q_proj.weight.device.type == "meta"
    assert split.model.layers[2].self_attn.q_proj.weight.device.type == "cpu"

    with torch.no_grad():
        encoded = tokenizer(TEXT, return_tensors="pt")
        expected = reference(**encoded, output_attentions=True).attentions  # eager: the weights
    expected = np.stack([t[0].numpy() for t in expected])
    captured = capture(split, tokenizer, TEXT)
    got = captured.attentions(captured.kinds[0])
    n = encoded["input_ids"].shape[1]
    assert got.shape == expected.shape == (4, 4, n, n)
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert abs(expected.std() - 0) > 1e-3  # not uniform: the comparison means something

    w = AttentionWidget(captured, eager_bytes=0)  # lazy: every number through the tile engine
    for layer in (1, 3):  # the disk-offloaded layers
        exact = w.tile(layer, 2, (0, n, 0, n), 1).values
        np.testing.assert_allclose(exact, expected[layer, 2], atol=2e-6)
        pooled = w.tile(layer, 2, (0, n, 0, n), 4)
        blocks = np.pad(expected[layer, 2], ((0, -n % 4), (0, -n % 4))).reshape(-(-n // 4), 4, -(-n // 4), 4).max(axis=(1, 3))
        np.testing.assert_allclose(pooled.values, blocks, atol=2e-6)
    p = expected.astype(np.float64)
    entropy = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(-1).mean(-1)
    np.testing.assert_allclose(w.scores("entropy"), entropy, rtol=1e-4, atol=1e-5)
    w.close()
