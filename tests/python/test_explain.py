"""w.explain and w.writes: a cell's score as (query component x key component) terms and a
position's logits as direct logit attributions, exact (to 1e-4 in float32) for GPT-2, BERT, a
Llama with RoPE and grouped-query heads, Qwen3 (QK-norm) and Gemma 2 (sandwich norms, soft-caps)
built from tiny random configs whose weights are scaled up so that scores are far from zero."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from attn_widget import AttentionWidget, capture  # noqa: E402
from attn_widget.attribution.decomposition import explain_cell  # noqa: E402
from attn_widget.capturing.residuals import recorded_residuals, structure_of  # noqa: E402
from attn_widget.capturing.residuals.source import residuals_kept  # noqa: E402
from attn_widget.widget.explain_reply import number  # noqa: E402
from tests.support.explain_models import gemma2, loud, model_of  # noqa: E402

TEXT = "The cat sat on the mat because it was tired."
CELLS = [(5, 2), (8, 8), (3, 0), (10, 6)]
FAMILIES = ["gpt2", "bert", "llama", "qwen3", "gemma2", "qwen2", "mistral"]


def recorded_score(call: Any, head: int, query: int, key: int) -> float:
    group = call.n_heads // int(call.k.shape[0])
    return float(call.scaling * (call.q[head, query].double() @ call.k[head // group, key].double()))


@pytest.mark.parametrize("family", FAMILIES)
def test_terms_sum_to_the_captured_score_for_every_head(family: str) -> None:
    model, tokenizer = model_of(family)
    captured = capture(model, tokenizer, TEXT, explain=True)
    rec = recorded_residuals(captured)
    calls = captured.kind("self").calls
    sizes = []
    for layer, call in enumerate(calls):
        for head in range(call.n_heads):
            for query, key in CELLS:
                e = explain_cell(rec, layer, head, query, key, tokens=captured.tokens)
                want = recorded_score(call, head, query, key)
                assert sum(t.value for t in e.terms) == pytest.approx(want, abs=1e-4)
                assert e.score == pytest.approx(want, abs=1e-4)
                assert sum(e.by_query.values()) == pytest.approx(e.score, abs=1e-9)
                assert sum(e.by_key.values()) == pytest.approx(e.score, abs=1e-9)
                assert float(e.dims.sum()) == pytest.approx(e.score, abs=1e-9)
                # each side's components rebuild the very query and key the model used
                assert np.allclose(e.query_vectors.sum(0), call.q[head, query].double().numpy(), atol=1e-4)
                sizes.append(abs(want))
    assert max(sizes) > 0.5, "scores this small would make the 1e-4 check meaningless"
    names = e.components
    assert names[0] == "embed" and names[-1] == "bias"
    assert ("pos_embed" in names) == (family in ("gpt2", "bert"))
    last = len(calls) - 1
    assert f"L{last - 1}H0" in names and f"L{last - 1}.mlp" in names and f"L{last}H0" not in names
    terms = e.terms
    assert [abs(t.value) for t in terms] == sorted((abs(t.value) for t in terms), reverse=True)
    frame = e.to_frame()
    assert list(frame.columns) == ["query_component", "key_component", "value"] and len(frame) == len(names) ** 2


@pytest.mark.parametrize("family", ["gpt2", "llama", "qwen3", "gemma2"])
def test_direct_logit_attributions_and_constants_sum_to_the_logits(family: str) -> None:
    model, tokenizer = model_of(family)
    captured = capture(model, tokenizer, TEXT)  # no explain=True: the second pass records the parts
    widget = AttentionWidget(captured)
    ids = tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits[0].double().numpy()
    for query in (0, 4, 10):
        w = widget.writes(1, 2, query, k=5)
        assert np.allclose(w.by_component.sum(0) + w.constants, w.logits, atol=1e-4)
        assert np.allclose(w.capped_logits, logits[query], atol=1e-4)
        assert np.abs(w.logits).max() > 0.5
        assert len(w.promoted) == 5 and w.promoted[0][1] == pytest.approx(float(w.head_logits.max()))
        assert w.suppressed[0][1] == pytest.approx(float(w.head_logits.min()))
        assert np.allclose(w.of("L1H2"), w.head_logits, atol=1e-6)
    if family == "gemma2":  # the attributions explain the logits before Gemma 2's final soft-cap
        assert w.softcap == 5.0 and not np.allclose(w.logits, logits[query], atol=1e-3)


def test_gemma2_scores_are_explained_before_the_soft_cap() -> None:
    """With attention soft-capping the capture refuses the model, but the decomposition stands on
    its own: softmax(cap * tanh(explained score / cap)) over a row is the model's attention."""
    model, tokenizer = gemma2(attn_softcap=0.3)
    loud(model)
    ids = tokenizer(TEXT, return_tensors="pt")
    with residuals_kept(model, 0) as done, torch.no_grad():
        out = model(**ids, output_attentions=True)
    rec = done[0]
    tokens = [str(i) for i in ids["input_ids"][0].tolist()]
    query = 9
    largest = 0.0
    for layer, weights in enumerate(out.attentions):
        window = 4 if layer % 2 == 0 else 10**9  # Gemma 2 alternates sliding-window and global layers
        keys = [j for j in range(query + 1) if query - j < window]
        for head in range(4):
            explained = [explain_cell(rec, layer, head, query, j, tokens=tokens) for j in keys]
            assert explained[0].softcap == 0.3
            capped = torch.tensor([e.capped_score for e in explained], dtype=torch.float64)
            largest = max(largest, *(abs(e.score) for e in explained))
            want = weights[0, head, query, keys].double()
            assert torch.allclose(torch.softmax(capped, 0), want, atol=1e-4)
    assert largest > 0.5  # the cap changed the scores: the uncapped ones would not match


def test_a_padded_batch_row_is_explained_on_its_own_tokens() -> None:
    model, tokenizer = model_of("llama")
    captured = capture(model, tokenizer, ["Hi.", TEXT], example=0, explain=True)
    rec = recorded_residuals(captured)
    call = captured.kind("self").calls[1]
    e = explain_cell(rec, 1, 3, 2, 1, tokens=captured.tokens)
    assert e.score == pytest.approx(recorded_score(call, 3, 2, 1), abs=1e-4)


def test_the_widget_explains_its_selection_and_answers_the_panel() -> None:
    model, tokenizer = model_of("gpt2")
    widget = AttentionWidget.from_model(model, tokenizer, TEXT, layer=2, head=1, query=7, key=3)
    e = widget.explain()
    assert (e.layer, e.head, e.query, e.key) == (2, 1, 7, 3)
    assert e.query_token == widget.capture.tokens[7] and not e.masked
    assert widget.explain(2, 1, 3, 7).masked  # a future key under the causal mask: decomposed, and said so
    sent: list[Any] = []
    widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    widget._messages.answer(widget, {"type": "explain", "id": "e1", "layer": 2, "head": 1, "query": 7, "key": 3}, [])
    reply = sent[-1]
    assert reply["ok"] and reply["id"] == "e1"
    shown = reply["explanation"]
    assert shown["score"] == number(e.score)
    top = e.terms[0]
    assert shown["pairs"][0]["text"] == number(top.value)
    assert shown["pairs"][0]["label"] == f"{top.query_component} at '{e.query_token}' x {top.key_component} of '{e.key_token}'"
    assert [t["token"] for t in shown["promoted"]] == [t for t, _ in widget.writes(2, 1, 7, k=5).promoted]
    widget._messages.answer(widget, {"type": "explain", "id": "e2", "layer": -1, "head": 1, "query": 7, "key": 3}, [])
    assert not sent[-1]["ok"] and "layer" in sent[-1]["error"]


def test_what_cannot_be_explained_is_refused_by_name() -> None:
    for family, words in (("gptj", "parallel"), ("falcon", "parallel"), ("t5", "relative")):
        fake = types.SimpleNamespace(config=types.SimpleNamespace(model_type=family))
        with pytest.raises(NotImplementedError, match=words):
            structure_of(fake)
    fake = types.SimpleNamespace(config=types.SimpleNamespace(model_type="mamba"))
    with pytest.raises(NotImplementedError, match="'mamba' family is not covered"):
        structure_of(fake)
    model, tokenizer = model_of("bert")
    widget = AttentionWidget.from_model(model, tokenizer, TEXT, query=2, key=1)
    assert widget.explain().score == pytest.approx(widget.explain(0, 0, 2, 1).score)
    with pytest.raises(NotImplementedError, match="not linear"):
        widget.writes()
    arrays = AttentionWidget(np.full((1, 1, 3, 3), 1 / 3), tokens=["a", "b", "c"], query=1, key=0)
    with pytest.raises(ValueError, match="needs the model"):
        arrays.explain()
    with pytest.raises(ValueError, match="select a cell"):
        AttentionWidget.from_model(model, tokenizer, TEXT).explain()


def test_a_bfloat16_model_is_explained_to_its_own_rounding() -> None:
    """Half-precision norms pass the norm check, and the terms sum to the captured score within the
    model's bfloat16 rounding (the decomposition itself runs in float64)."""
    model, tokenizer = model_of("llama")
    captured = capture(model.to(torch.bfloat16), tokenizer, TEXT)
    widget = AttentionWidget(captured)
    call = captured.kind("self").calls[1]
    for head, (query, key) in zip(range(4), CELLS, strict=True):
        want = recorded_score(call, head, query, key)
        assert widget.explain(1, head, query, key).score == pytest.approx(want, rel=0.05, abs=0.02)
    assert len(widget.writes(1, 0, 5, k=3).promoted) == 3


def test_a_long_input_is_recorded_in_row_chunks_with_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the memory budget only the row chunks that hold a cell's query and key are recorded
    (a pass each, the last few kept), and the explanation is the same as from a whole recording."""
    from attn_widget.capturing.residuals import source

    model, tokenizer = model_of("llama")
    whole = AttentionWidget(capture(model, tokenizer, ["Hi.", TEXT], example=1, explain=True))  # recorded whole, now
    monkeypatch.setattr(source, "RESIDUAL_BUDGET_BYTES", 0)
    monkeypatch.setattr(source, "CHUNK_ROWS", 4)
    chunked = AttentionWidget(capture(model, tokenizer, ["Hi.", TEXT], example=1, explain=True))
    passes: list[Any] = []
    record = source.ExplainSource.record
    monkeypatch.setattr(source.ExplainSource, "record", lambda self, rows=None: passes.append(rows) or record(self, rows))
    for layer, head, query, key in ((1, 3, 10, 2), (0, 1, 9, 9), (1, 0, 10, 5), (1, 2, 10, 1)):
        a, b = chunked.explain(layer, head, query, key), whole.explain(layer, head, query, key)
        assert a.components == b.components
        np.testing.assert_allclose(a.matrix, b.matrix, atol=1e-9)
    assert passes == [[0, 1, 2, 3, 8, 9, 10], [4, 5, 6, 7, 8, 9, 10]]  # 11 tokens; the 2nd and 4th cells reuse a pass
    np.testing.assert_allclose(chunked.writes(1, 2, 6).logits, whole.writes(1, 2, 6).logits, atol=1e-9)
    rec = source.recorded_residuals(chunked.capture, (6,))
    assert rec.positions == (4, 5, 6, 7, 8, 9, 10) and int(rec.z[0].shape[0]) == 7  # only the chunks' rows are kept
