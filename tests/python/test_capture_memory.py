"""A capture that would not fit is refused before the forward pass, with the size it would need;
the size of what a capture keeps is predicted exactly from the config."""

from __future__ import annotations

import pytest

from attn_widget.capturing import memory as capture_memory
from attn_widget.capturing.run import capture
from tests.support.models import tiny_family

TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.mark.parametrize("family", ["gpt2", "bert", "llama", "mqa", "bart"])
def test_the_kept_queries_and_keys_are_predicted_to_the_byte(family: str) -> None:
    model, tokenizer = tiny_family(family)
    c = capture(model, tokenizer, TEXT)
    n = len(c.tokens)
    element = next(model.parameters()).element_size()
    assert capture_memory.kept_bytes(model.config, n, element) == c.nbytes


def test_a_capture_that_would_not_fit_is_refused_before_the_model_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    model, tokenizer = tiny_family("llama")
    calls: list[int] = []
    model.register_forward_pre_hook(lambda *_: calls.append(1))
    monkeypatch.setattr(capture_memory, "available_bytes", lambda device: 10_000)
    with pytest.raises(MemoryError) as err:
        capture(model, tokenizer, TEXT)
    need = capture_memory.capture_need(model.config, len(tokenizer(TEXT)["input_ids"]), 4)
    assert need is not None and need.total > 10_000
    message = str(err.value)
    assert f"capturing {len(tokenizer(TEXT)['input_ids'])} tokens would need about" in message
    assert "queries and keys kept" in message and "is available" in message and "on cpu" in message
    assert calls == []  # refused before the forward pass
    monkeypatch.setattr(capture_memory, "available_bytes", lambda device: need.total)
    assert capture(model, tokenizer, TEXT).n_layers == 2  # exactly enough is enough


def test_the_131k_token_capture_of_the_benchmark_model_is_sized_in_advance() -> None:
    """The long-context benchmark's Llama shape at 131,072 tokens keeps 0.7 GiB of queries and keys
    (the benchmark measures 168 MB at 32,768: a quarter)."""
    from transformers import LlamaConfig

    config = LlamaConfig(
        num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2, hidden_size=256, intermediate_size=688
    )
    assert capture_memory.kept_bytes(config, 32_768, 4) == 167_772_160
    assert capture_memory.kept_bytes(config, 131_072, 4) == 4 * 167_772_160
