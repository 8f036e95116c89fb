"""What travels to the browser: binary buffers (never JSON lists of floats), and trait changes
arriving from the browser as a click would send them."""

import numpy as np
import pytest

from attn_widget import AttentionWidget
from attn_widget.wire.dec3 import dec3_bytes
from tests.support.arrays import TOKENS, softmax_attention
from tests.support.fake_kernel import frontend_custom, frontend_update, initial_state

N = len(TOKENS)


def _no_float_lists(value):
    """True if no list anywhere in a JSON-able value holds floats (arrays must be bytes)."""
    if isinstance(value, dict):
        return all(_no_float_lists(v) for v in value.values())
    if isinstance(value, list):
        return not any(isinstance(v, float) for v in value) and all(_no_float_lists(v) for v in value)
    return True


def _updates(w):
    return [m for m in w.comm.take() if m["data"]["method"] == "update"]


def test_small_widget_sends_every_head_as_bytes_up_front(recording):
    a = softmax_attention()
    w = AttentionWidget(a, TOKENS)
    assert w.eager
    state = initial_state(w)
    assert _no_float_lists(state)
    heads = state["_attention_data"]
    assert {k: heads[k] for k in ("what", "kind", "shape", "encoding")} == {
        "what": "heads",
        "kind": "self",
        "shape": list(a.shape),
        "encoding": "dec3",
    }
    import base64

    assert base64.b64decode(heads["data"]["$b64"]) == dec3_bytes(a)  # binary, travels as a buffer
    assert base64.b64decode(state["_grid_scores"]["data"]["$b64"]) == dec3_bytes(w.scores())
    assert state["_grid_scores"]["exact"] is True


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "lazy"])
def test_a_head_switch_sends_only_the_indices(recording, eager):
    """Views ask for the tiles they show; the kernel pushes no head on a switch."""
    w = AttentionWidget(softmax_attention(), TOKENS, eager_bytes=10**9 if eager else 0)
    w.comm.take()
    w.head = 2
    (update,) = _updates(w)
    assert update["data"]["state"] == {"head": 2}
    assert update["buffers"] == []


def test_wire_budget_at_512_tokens_for_a_gpt2_small_shape(recording):
    """The budget (docs/architecture.md): at most 1 MB on the wire before first paint at N = 512 (bundle included)."""
    rng = np.random.default_rng(0)
    n = 512
    a = rng.random((12, 12, n, n), dtype=np.float32)
    a /= a.sum(-1, keepdims=True)
    w = AttentionWidget(a, [f"t{i}" for i in range(n)])
    assert not w.eager
    opened = [m for m in w.comm.messages if m["msg_type"] == "comm_open"]
    state = w.get_state()
    payload = sum(len(b) for m in opened for b in m["buffers"]) + len(
        str({k: v for k, v in state.items() if not isinstance(v, (bytes, memoryview))})
    )
    assert payload + len(w._esm) < 1_000_000, payload


def test_clicks_from_the_browser_set_the_traits_and_fire_observers(recording):
    w = AttentionWidget(softmax_attention(), TOKENS)
    seen = []
    w.observe(lambda c: seen.append((c["name"], c["new"])), names=["layer", "head", "query", "key"])
    frontend_update(w, layer=1, head=2)
    frontend_update(w, query=3, key=4)
    assert (w.layer, w.head, w.query, w.key) == (1, 2, 3, 4)
    assert seen == [("layer", 1), ("head", 2), ("query", 3), ("key", 4)]


def test_metric_chosen_in_the_browser_sends_new_scores_as_bytes(recording):
    w = AttentionWidget(softmax_attention(), TOKENS)
    w.comm.take()
    frontend_update(w, grid_metric="max_attention")
    messages = _updates(w)
    assert dec3_bytes(w.scores("max_attention")) in [b for m in messages for b in m["buffers"]]


def _tile_request(**overrides):
    request = {
        "type": "tile",
        "id": "v1-7",
        "kind": "self",
        "layer": 0,
        "head": 1,
        "quantity": "attention",
        "version": 0,
        "window": [0, len(TOKENS), 0, len(TOKENS)],
        "block": [1, 1],
    }
    request.update(overrides)
    return request


def test_tile_requests_are_answered_by_id_with_a_self_describing_payload(recording):
    a = softmax_attention()
    w = AttentionWidget(a, TOKENS, eager_bytes=0)
    w.comm.take()
    frontend_custom(w, _tile_request())
    (reply,) = w.comm.take()
    content = reply["data"]["content"]
    assert content["type"] == "reply" and content["id"] == "v1-7" and content["ok"]
    assert content["request"]["window"] == [0, len(TOKENS), 0, len(TOKENS)]  # the view checks it against what it asked
    payload = content["payload"]
    assert {
        k: payload[k] for k in ("what", "kind", "layer", "head", "level", "window", "block", "shape", "encoding", "where")
    } == {
        "what": "tile",
        "kind": "self",
        "layer": 0,
        "head": 1,
        "level": 0,
        "window": [0, N, 0, N],
        "block": [1, 1],
        "shape": [N, N],
        "encoding": "dec3",
        "where": None,
    }
    assert payload["range"] == [0.0, pytest.approx(float(a[0, 1].max()))]
    assert reply["buffers"] == [dec3_bytes(a[0, 1])]


def test_several_tile_requests_in_one_message_get_one_reply_each_in_order(recording):
    """What a page lets go at once travels as one "tiles" message (one round of kernel status for
    the host instead of one per tile); each request is answered as if it had come alone."""
    a = softmax_attention()
    w = AttentionWidget(a, TOKENS, eager_bytes=0)
    w.comm.take()
    frontend_custom(w, {"type": "tiles", "requests": [_tile_request(id="r1", head=2), _tile_request(id="r2"), {"id": "r3"}]})
    replies = [m["data"]["content"] for m in w.comm.take()]
    assert [(r["id"], r["ok"]) for r in replies] == [("r1", True), ("r2", True), ("r3", False)]
    assert replies[0]["payload"]["head"] == 2 and "tile requests only" in replies[2]["error"]
    for bad in ({"type": "tiles"}, {"type": "tiles", "requests": []}, {"type": "tiles", "requests": [_tile_request()] * 65}):
        frontend_custom(w, bad)
        (reply,) = w.comm.take()
        assert reply["data"]["content"]["ok"] is False and "1 to 64 tile requests" in reply["data"]["content"]["error"]


def test_a_pooled_tile_holds_each_blocks_largest_weight_and_where_it_sits(recording):
    rng = np.random.default_rng(0)
    n = 600
    a = rng.random((2, 2, n, n), dtype=np.float32)
    w = AttentionWidget(a, [f"t{i}" for i in range(n)], eager_bytes=0)
    w.comm.take()
    frontend_custom(w, _tile_request(layer=1, head=1, window=[0, n, 0, n], block=[4, 4]))
    (reply,) = w.comm.take()
    payload = reply["data"]["content"]["payload"]
    assert payload["shape"] == [150, 150] and payload["level"] == 2 and payload["where"] == "u8"
    codes, where = reply["buffers"]
    pooled = a[1, 1].reshape(150, 4, 150, 4).max(axis=(1, 3))
    assert codes == dec3_bytes(pooled)
    offsets = np.frombuffer(where, dtype="u1").reshape(150, 150)
    i, j = 37, 101
    dr, dc = divmod(int(offsets[i, j]), 4)
    assert a[1, 1, 4 * i + dr, 4 * j + dc] == pooled[i, j]


BAD_REQUESTS = [
    ({"layer": 2}, "layer must be in [-1, 1] and head in [-1, 2]"),
    ({"head": 3}, "layer must be in [-1, 1] and head in [-1, 2]"),
    ({"layer": "0"}, "layer must be an int"),
    ({"layer": True}, "layer must be an int"),
    ({"kind": "cross"}, "kind must be one of ['self']"),
    ({"window": [0, N + 1, 0, N]}, f"outside the {N} x {N} matrix"),
    ({"window": [2, 1, 0, N]}, f"outside the {N} x {N} matrix"),
    ({"window": [0, N]}, "window must be [q0, q1, k0, k1]"),
    ({"block": [3, 3]}, "powers of two"),
    ({"block": [2, 2], "window": [1, N, 0, N]}, "must start on a block boundary"),
    ({"quantity": "attention_x_gradient"}, "quantity must be one of ['attention', 'rollout']"),
    ({"id": 7}, "id must be a non-empty string"),
    ({"id": "x" * 10_000}, "id must be a non-empty string"),
    ({"type": "head"}, "unknown request type 'head'"),
]


@pytest.mark.parametrize("change, message", BAD_REQUESTS, ids=[m for _, m in BAD_REQUESTS])
def test_bad_tile_requests_get_an_error_reply_not_a_crash(recording, change, message):
    w = AttentionWidget(softmax_attention(), TOKENS, eager_bytes=0)
    w.comm.take()
    frontend_custom(w, _tile_request(**change))
    (reply,) = w.comm.take()
    content = reply["data"]["content"]
    assert content["ok"] is False and message in content["error"], content
    assert reply["buffers"] == []
    frontend_custom(w, _tile_request())  # and the widget still answers good ones
    (good,) = w.comm.take()
    assert good["data"]["content"]["ok"]


def test_a_tile_too_big_for_one_message_is_refused(recording):
    rng = np.random.default_rng(0)
    n = 600
    w = AttentionWidget(rng.random((1, 1, n, n), dtype=np.float32), [f"t{i}" for i in range(n)], eager_bytes=0)
    w.comm.take()
    frontend_custom(w, _tile_request(layer=0, head=0, window=[0, n, 0, n], block=[1, 1]))
    (reply,) = w.comm.take()
    assert "a tile has at most 65536 blocks, this one would have 360000" in reply["data"]["content"]["error"]


def test_the_window_is_state_checked_both_ways(recording):
    w = AttentionWidget(softmax_attention(), TOKENS)
    assert w.window == [0, N, 0, N]
    frontend_update(w, window=[1, 3, 0, 2])
    assert w.window == [1, 3, 0, 2]
    w.comm.take()
    w.window = (0, 2, 2, 4)
    (update,) = _updates(w)
    assert update["data"]["state"] == {"window": [0, 2, 2, 4]}
    for bad in ([0, N + 1, 0, N], [2, 2, 0, N], [0, N, 0], [0.5, N, 0, N]):
        with pytest.raises(Exception, match=rf"window must be \(q0, q1, k0, k1\) with 0 <= q0 < q1 <= {N}"):
            w.window = bad


def test_offsets_inside_blocks_travel_in_the_smallest_type_that_holds_them() -> None:
    from attn_widget.wire.protocol import where_bytes, where_type

    assert [where_type((b, b)) for b in (2, 16, 32, 256, 512)] == ["u8", "u8", "u16", "u16", "u32"]
    where = np.array([[0, 255], [3, 7]], dtype=np.uint32)
    assert np.frombuffer(where_bytes(where, (16, 16)), dtype="u1").tolist() == [0, 255, 3, 7]
    big = np.array([65535 * 3], dtype=np.uint32)
    assert np.frombuffer(where_bytes(big, (512, 512)), dtype="<u4").tolist() == [65535 * 3]


def test_token_axes_travel_compactly_so_131k_tokens_fit_in_one_message(recording):
    """Flags travel as one byte per token and self-attention's query lists as null ("the same as
    the keys"): a token costs its label plus two bytes, so the first message stays under 2 MB at
    131,072 tokens (the six lists as JSON were 6.3 MB there)."""
    import json

    def opening(n: int) -> tuple[int, dict]:
        a = np.full((1, 1, n, n), 1.0 / n, dtype=np.float32)
        special = [i == 0 for i in range(n)]
        w = AttentionWidget(a, [f"t{100000 + i}" for i in range(n)], special=special, eager_bytes=0)
        state = initial_state(w)
        return len(json.dumps(state)), state

    small, _ = opening(1000)
    large, state = opening(3000)
    per_token = (large - small) / 2000
    assert per_token <= 14, per_token  # '"t123456", ' is 11 characters; two flag bytes as base64: 2.7
    assert state["_query_tokens"] is None and state["_query_special"] is None and state["_query_generated"] is None
    import base64

    assert base64.b64decode(state["special"]["$b64"]) == bytes([1] + [0] * 2999)
    assert base64.b64decode(state["generated"]["$b64"]) == bytes(3000)


def _sent_state(w):
    """Every trait the updates since the last take() carried, binary ones as {"$b64": ...}."""
    from tests.support.fake_kernel import _with_buffers

    state = {}
    for update in _updates(w):
        data = update["data"]
        state.update(_with_buffers(data["state"], data.get("buffer_paths", []), update["buffers"]))
    return state


def test_a_kind_switch_sends_the_query_axis_whenever_it_differs_from_the_new_keys(recording):
    """decoder -> cross keeps the decoder's tokens as queries while the keys become the encoder's:
    the query lists must travel again, or the page would read null as "the same as the keys"."""
    import base64

    from attn_widget.capturing.run import capture
    from tests.support.models import tiny_family

    model, tokenizer = tiny_family("bart")
    c = capture(model, tokenizer, "The quick brown fox jumps.", decoder_text="A cat.")
    w = AttentionWidget.from_capture(c)
    w.kind = "decoder"
    w.comm.take()
    w.kind = "cross"
    state = _sent_state(w)
    assert state["tokens"] == w.tokens != w._query_tokens
    assert state["_query_tokens"] == w._query_tokens  # the decoder's, sent again though unchanged
    assert base64.b64decode(state["_query_special"]["$b64"]) == bytes(w._query_special)
    assert base64.b64decode(state["_query_generated"]["$b64"]) == bytes(w._query_generated)
    w.kind = "encoder"
    state = _sent_state(w)
    assert state["_query_tokens"] is None and w.tokens == w._query_tokens  # keys unchanged: not resent


def test_an_error_reply_quotes_an_enormous_field_only_in_part(recording):
    """Found by the protocol fuzzer: a 20 MB 'type' came back whole inside the error text."""
    w = AttentionWidget(softmax_attention(), TOKENS, eager_bytes=0)
    w.comm.take()
    frontend_custom(w, {"type": "x" * 20_000_000, "id": "y" * 100_000})
    (reply,) = w.comm.take()
    content = reply["data"]["content"]
    assert content["ok"] is False and content["id"] is None  # an unusable id is not echoed either
    assert content["error"].startswith("unknown request type 'xxx") and "characters left out" in content["error"]
    assert len(content["error"]) < 1_000


def test_a_fault_while_answering_reaches_the_view_and_python(recording, monkeypatch):
    w = AttentionWidget(softmax_attention(), TOKENS, eager_bytes=0)
    w.comm.take()

    def broken(*args, **kwargs):
        raise MemoryError("no room for the tile")

    monkeypatch.setattr(w._messages, "_tile_reply", broken)
    with pytest.warns(RuntimeWarning, match="could not answer a view's request: MemoryError: no room for the tile"):
        frontend_custom(w, _tile_request())
    (reply,) = w.comm.take()
    assert reply["data"]["content"]["ok"] is False
    assert reply["data"]["content"]["error"] == "MemoryError: no room for the tile"
