"""AttentionWidget.generate outside a kernel: the streamed widget equals a one-pass capture of the
final text, head by head and in the grid; seeded sampling writes plain generate's text; stop,
wait, candidates and fork do what they say; what the recording cannot follow is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attn_widget import AttentionWidget
from attn_widget.capturing.run import capture_ids
from attn_widget.widget.live_feed import _followed, candidates_payload
from tests.support.models import byte_level_tokenizer, tiny_family

PROMPT = "the cat sat on the"


def _tiny_gemma() -> tuple[object, object]:
    from transformers import GemmaConfig, GemmaForCausalLM

    tokenizer = byte_level_tokenizer()
    torch.manual_seed(0)
    config = GemmaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, head_dim=8, max_position_embeddings=128,
    )  # fmt: skip
    return GemmaForCausalLM(config).eval(), tokenizer


def _model(name: str) -> tuple[object, object]:
    if name == "gemma":
        return _tiny_gemma()
    if name == "grounding":
        from attn_widget.grounding import load_grounding_model

        return load_grounding_model()
    return tiny_family(name)


def _one_pass(model: object, tokenizer: object, ids: list[int], n_prompt: int):  # noqa: ANN202
    sequence = torch.tensor([ids])
    return capture_ids(
        model, tokenizer, {"input_ids": sequence, "attention_mask": torch.ones_like(sequence)}, generated_from=n_prompt
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["gpt2", "llama", "mqa", "gemma", "grounding"])
def test_streamed_heads_and_grid_equal_a_one_pass_capture_of_the_final_text(name: str) -> None:
    model, tokenizer = _model(name)
    prompt = "<CHI> painted a picture of a horse <CHI> my favorite animal is" if name == "grounding" else PROMPT
    w = AttentionWidget.generate(model, tokenizer, prompt, max_new_tokens=12, min_new_tokens=12)
    assert w.wait(timeout=120)
    ids = w._decoding.ids  # type: ignore[union-attr]
    n_prompt = len(ids) - 12
    ref = _one_pass(model, tokenizer, ids, n_prompt)
    assert w.capture.shape() == ref.shape() == (*ref.shape()[:2], len(ids), len(ids))
    np.testing.assert_allclose(w.capture.attentions(), ref.attentions(), atol=1e-5)
    assert w.tokens == ref.tokens and w.generated == [i >= n_prompt for i in range(len(ids))]
    assert w.step == 12 and not w.generating and w.n_tokens == len(ids)
    plain = AttentionWidget(ref)
    for metric in ("entropy", "max_attention", "previous_token", "induction"):
        np.testing.assert_allclose(w.scores(metric), plain.scores(metric), atol=1e-5, err_msg=metric)
    tile = w.tile(1, 0, [0, len(ids), 0, len(ids)])
    np.testing.assert_allclose(tile.values, ref.attention(1, 0), atol=1e-5)


def test_seeded_sampling_writes_the_text_of_plain_generate() -> None:
    model, tokenizer = tiny_family("gpt2")
    ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    torch.manual_seed(7)
    plain = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=True, top_k=50, pad_token_id=0)
    w = AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens=16, seed=7, do_sample=True, top_k=50, pad_token_id=0)
    w.wait(timeout=60)
    assert w._decoding.ids == plain[0].tolist()  # type: ignore[union-attr]
    greedy = AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens=16, seed=7)
    greedy.wait(timeout=60)
    assert greedy._decoding.ids != plain[0].tolist()  # type: ignore[union-attr]  # the seed alone does not sample


def test_candidates_are_the_models_distribution_at_each_step() -> None:
    model, tokenizer = tiny_family("llama")
    w = AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens=6, top_k=3)
    w.wait(timeout=60)
    ids = w._decoding.ids  # type: ignore[union-attr]
    first = len(ids) - 6
    for position in range(first, len(ids)):
        c = w.candidates(position)
        with torch.no_grad():
            logits = model(torch.tensor([ids[:position]])).logits[0, -1]
        p = torch.softmax(logits.float(), -1)
        top = torch.topk(p, 3)
        assert c.ids == top.indices.tolist() and c.chosen_id == ids[position]
        np.testing.assert_allclose(c.probabilities, top.values.numpy(), rtol=1e-4)
        assert c.chosen_id == c.ids[0]  # greedy writes the most probable token
        assert c.entropy == pytest.approx(float(-(p * p.log()).sum()), rel=1e-4)
    payload = w._candidates  # sent whole at the end
    assert payload == candidates_payload([w.candidates(i) for i in range(first, len(ids))])
    assert w._candidates_recent == candidates_payload([])
    with pytest.raises(ValueError, match=rf"position must be a generated position, an int in \[{first}, {len(ids) - 1}\]"):
        w.candidates(first - 1)


def test_stop_keeps_what_was_written_and_wait_reports_it() -> None:
    model, tokenizer = tiny_family("gpt2", seed=1)
    model.register_forward_pre_hook(lambda *args: __import__("time").sleep(0.01))  # slow enough to stop midway
    w = AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens=60, min_new_tokens=60)
    assert w.generating
    w.stop()
    assert w.wait(timeout=60)
    assert not w.generating and 0 <= w.step < 60
    assert w._generation["line"].startswith(f"stopped at {w.step} of 60 tokens")
    assert w.n_tokens == len(w._decoding.ids)  # type: ignore[union-attr]  # every written token has its row
    ref = _one_pass(model, tokenizer, w._decoding.ids, w.n_tokens - w.step)  # type: ignore[union-attr]
    np.testing.assert_allclose(w.capture.attentions(), ref.attentions(), atol=1e-5)


def test_setting_generating_false_stops_like_the_page_button() -> None:
    model, tokenizer = tiny_family("gpt2", seed=2)
    model.register_forward_pre_hook(lambda *args: __import__("time").sleep(0.01))
    w = AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens=60, min_new_tokens=60)
    w.generating = False
    w.wait(timeout=60)
    assert w.step < 60 and w._decoding.stopped  # type: ignore[union-attr]


def test_fork_compares_the_two_continuations_with_a_shared_prefix() -> None:
    model, tokenizer = tiny_family("gpt2")
    w = AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens=10, min_new_tokens=10)
    w.wait(timeout=60)
    position = w.n_tokens - 6
    other = w.candidates(position).ids[1]
    forked = w.fork(position, other)
    label = w.candidates(position).tokens[1]
    assert forked.compare_labels == ["as written", f"fork at {position}: {label}"]
    assert forked.tokens[:position] == w.tokens[:position]
    assert forked.tokens[position] == f"{w.tokens[position]}/{label}"
    assert forked.n_tokens == w.n_tokens
    # run a is the widget's own capture: its heads are unchanged by the fork
    np.testing.assert_allclose(forked.capture.attention(0, 1), w.capture.attention(0, 1), atol=0)
    with pytest.raises(ValueError, match="token must be one token"):
        w.fork(position, "the cat")


def test_window_follows_the_newest_row_unless_zoomed_elsewhere() -> None:
    assert _followed([0, 10, 0, 10], 10, 12) == [0, 12, 0, 12]  # the whole input stays whole
    assert _followed([4, 10, 4, 10], 10, 12) == [6, 12, 6, 12]  # the newest rows: moves down
    assert _followed([4, 10, 0, 5], 10, 12) == [6, 12, 0, 5]
    assert _followed([2, 6, 0, 6], 10, 12) == [2, 6, 0, 6]  # elsewhere: stays


def test_what_the_live_recording_cannot_follow_is_refused_by_name() -> None:
    model, tokenizer = tiny_family("gpt2")
    with pytest.raises(ValueError, match="num_beams=3: live generation follows one sequence"):
        AttentionWidget.generate(model, tokenizer, PROMPT, num_beams=3)
    with pytest.raises(ValueError, match="must not set 'streamer'"):
        AttentionWidget.generate(model, tokenizer, PROMPT, streamer=object())
    with pytest.raises(ValueError, match="at most 128"):
        AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens=500)
    bart, bart_tokenizer = tiny_family("bart")
    with pytest.raises(ValueError, match="encoder-decoder"):
        AttentionWidget.generate(bart, bart_tokenizer, PROMPT)
    beams = AttentionWidget.from_generate(model, tokenizer, PROMPT, max_new_tokens=4, generate_kwargs={"num_beams": 2})
    assert sum(beams.generated) == 4  # from_generate still takes beam search: captured after generating


@pytest.mark.parametrize("family", ["llava", "llava_next", "llava_onevision", "idefics3", "smolvlm"])
def test_a_vision_language_model_writes_live_with_its_picture(family: str) -> None:
    """The tower's attention is recorded once at the prompt's pass ("vision"), the language
    model's grows ("self"), the image positions keep their patches; both equal one pass."""
    from attn_widget.capturing.live_decoding import _token_aligned
    from attn_widget.capturing.recorder import recording
    from attn_widget.capturing.vision.capture import built_capture, prepare_images
    from tests.support.vision_models import prompt, sample_image, tiny_vision

    model, processor = tiny_vision(family)
    picture = sample_image()
    w = AttentionWidget.generate(model, processor, prompt(family), images=picture, max_new_tokens=6, min_new_tokens=6)
    w.wait(timeout=120)
    ids = torch.tensor([w._decoding.ids])  # type: ignore[union-attr]
    run = prepare_images(model, processor, prompt(family), picture)
    inputs = {**_token_aligned(run.inputs, ids.shape[1]), "input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with recording(model, 0, whole_batch=True) as rec, torch.no_grad():
        model(**inputs, use_cache=False)
    ref = built_capture(run, rec.calls, text_axis=w._decoding.axis(ids.shape[1]))  # type: ignore[union-attr]
    assert set(w.capture.kinds) == {"self", "vision"}
    for kind in w.capture.kinds:
        np.testing.assert_allclose(w.capture.attentions(kind), ref.attentions(kind), atol=1e-5, err_msg=kind)
    np.testing.assert_array_equal(w.capture.patches("self"), run.text_axis.patches)  # type: ignore[union-attr]
    assert w._images and w.generated[-6:] == [True] * 6 and not any(w.generated[:-6])


@pytest.mark.parametrize(
    ("family", "reason"),
    [
        ("gemma3", "Gemma3ForConditionalGeneration: its image tokens attend to each other both ways"),
        ("paligemma", "PaliGemmaForConditionalGeneration: its prompt .image and prefix. attends both ways"),
        ("qwen2_vl", "Qwen2VLForConditionalGeneration: its rotary positions over the picture .M-RoPE."),
        ("qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration: its rotary positions over the picture .M-RoPE."),
        ("mllama", "MllamaForConditionalGeneration: its text reads the picture through cross-attention"),
    ],
)
def test_vision_language_families_it_cannot_follow_are_refused_with_the_reason(family: str, reason: str) -> None:
    from tests.support.vision_models import prompt, sample_image, tiny_vision

    model, processor = tiny_vision(family)
    with pytest.raises(ValueError, match=f"does not follow {reason}"):
        AttentionWidget.generate(model, processor, prompt(family), images=sample_image())


@pytest.mark.parametrize(
    ("family", "refusal"),
    [("gemma2", "softcap"), ("gpt_oss", "s_aux|sinks"), ("falcon_alibi", "a bias such as ALiBi")],
)
def test_scores_the_recording_does_not_grow_are_refused_and_from_generate_captures_after(family: str, refusal: str) -> None:
    """Soft-capping, sinks and ALiBi (which capture models exactly) are refused by the live
    recording with the reason; from_generate then captures the finished text in one pass."""
    from tests.support.families import tiny_family_model

    model, tokenizer = tiny_family_model(family)
    with pytest.raises(RuntimeError, match=refusal):
        AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens=4, min_new_tokens=4).wait(timeout=60)
    w = AttentionWidget.from_generate(model, tokenizer, PROMPT, max_new_tokens=4, generate_kwargs={"min_new_tokens": 4})
    prompt = tokenizer(PROMPT, return_tensors="pt")["input_ids"]  # type: ignore[operator]
    with torch.no_grad():
        sequence = model.generate(  # type: ignore[attr-defined]
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=4, min_new_tokens=4, do_sample=False
        )
    assert w.generated == [False] * prompt.shape[1] + [True] * 4
    ref = _one_pass(model, tokenizer, sequence[0].tolist(), prompt.shape[1])
    np.testing.assert_allclose(w.capture.attentions("self"), ref.attentions("self"), atol=1e-5)


def test_candidates_travel_whole_now_and_then_and_the_newest_every_update() -> None:
    """At 4,096 tokens every generated token's top k is 0.6 MB: sent whole every 0.1 s it held the
    kernel back. The page joins ``_candidates`` and ``_candidates_recent``; together they always
    hold every token written so far, and the whole list travels O(log n) times."""
    from attn_widget.capturing.live_decoding import Candidates
    from attn_widget.widget.live_feed import LiveFeed

    class Traits:
        def __init__(self) -> None:
            self.sent: dict[str, dict] = {"_candidates": {}}  # the trait's default
            self.whole_sends = 0

        def set_trait(self, name: str, value: dict) -> None:
            self.sent[name] = value
            self.whole_sends += name == "_candidates"

    feed = LiveFeed.__new__(LiveFeed)
    feed._widget, feed._candidates_whole = Traits(), 0
    made = [Candidates(p, ["a"], [1], [1.0], "a", 1, 1.0, 0.0) for p in range(4096)]
    for n in range(1, 4097):
        feed._send_candidates(made[:n], whole=False)
        shown = feed._widget.sent["_candidates"].get("positions", []) + feed._widget.sent["_candidates_recent"]["positions"]
        assert shown == list(range(n))
    assert feed._widget.whole_sends < 25
    assert len(feed._widget.sent["_candidates_recent"]["positions"]) <= 4096 // 4
    feed._send_candidates(made, whole=True)
    assert feed._widget.sent["_candidates"]["positions"] == list(range(4096))
    assert feed._widget.sent["_candidates_recent"]["positions"] == []
