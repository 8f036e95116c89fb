"""What travels to the browser: binary buffers (never JSON lists of floats), and trait changes
arriving from the browser as a click would send them."""

import numpy as np
import pytest

from attn_widget import AttentionWidget
from attn_widget.encoding import dec3_bytes
from tests.python.test_api import TOKENS, softmax_attention
from tests.support.fake_kernel import frontend_custom, frontend_update, initial_state


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
    assert state["attention_data"]["$b64"]  # binary, travels as a buffer
    import base64

    assert base64.b64decode(state["attention_data"]["$b64"]) == dec3_bytes(a)
    assert base64.b64decode(state["grid_scores"]["$b64"]) == dec3_bytes(w.scores())


def test_a_head_switch_in_a_small_widget_sends_only_the_indices(recording):
    w = AttentionWidget(softmax_attention(), TOKENS)
    w.comm.take()
    w.head = 2
    (update,) = _updates(w)
    assert update["data"]["state"] == {"head": 2}
    assert update["buffers"] == []


def test_a_head_switch_in_a_large_widget_sends_that_head_as_a_binary_buffer(recording):
    a = softmax_attention()
    w = AttentionWidget(a, TOKENS, eager_bytes=0)
    assert not w.eager
    w.comm.take()
    w.layer, w.head = 1, 2
    messages = _updates(w)
    sent = {k: v for m in messages for k, v in m["data"]["state"].items()}
    assert sent["head_data_for"] == [1, 2, 0, 0, 0]
    buffer_paths = [p for m in messages for p in m["data"]["buffer_paths"]]
    assert ["head_data"] in buffer_paths
    buffers = [b for m in messages for b in m["buffers"]]
    assert dec3_bytes(a[1, 2]) in buffers
    assert all(_no_float_lists(m["data"]["state"]) for m in messages)


def test_wire_budget_at_512_tokens_for_a_gpt2_small_shape(recording):
    """DESIGN.md: at most 1 MB on the wire before first paint at N = 512 (bundle included)."""
    rng = np.random.default_rng(0)
    n = 512
    a = rng.random((12, 12, n, n), dtype=np.float32)
    a /= a.sum(-1, keepdims=True)
    w = AttentionWidget(a, [f"t{i}" for i in range(n)])
    assert not w.eager
    opened = [m for m in w.comm.messages if m["msg_type"] == "comm_open"]
    state = w.get_state()
    payload = sum(len(b) for m in opened for b in m["buffers"]) + len(str({k: v for k, v in state.items() if not isinstance(v, (bytes, memoryview))}))
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


def test_head_requests_are_answered_by_id_with_bytes(recording):
    a = softmax_attention()
    w = AttentionWidget(a, TOKENS, eager_bytes=0)
    w.comm.take()
    frontend_custom(w, {"type": "head", "id": 7, "layer": 0, "head": 1})
    (reply,) = w.comm.take()
    assert reply["data"]["content"] == {"type": "head", "id": 7, "layer": 0, "head": 1, "kind": "self"}
    assert reply["buffers"] == [dec3_bytes(a[0, 1])]


@pytest.mark.parametrize("layer, head", [(2, 0), (0, 3), ("0", 1)])
def test_bad_head_requests_get_an_error_not_a_crash(recording, layer, head):
    w = AttentionWidget(softmax_attention(), TOKENS, eager_bytes=0)
    w.comm.take()
    frontend_custom(w, {"type": "head", "id": 1, "layer": layer, "head": head})
    (reply,) = w.comm.take()
    assert "layer must be in [0, 1] and head in [0, 2]" in reply["data"]["content"]["error"]
    assert reply["buffers"] == []


def test_long_inputs_send_a_pooled_preview_before_the_exact_head(recording):
    rng = np.random.default_rng(0)
    n = 600
    a = rng.random((2, 2, n, n), dtype=np.float32)
    w = AttentionWidget(a, [f"t{i}" for i in range(n)], layer=1, eager_bytes=0)
    assert w.head_preview == b""  # the first paint needs the exact head only
    w.comm.take()
    w.head = 1
    # binary values leave the JSON state for buffer_paths
    keys = [p[0] for m in _updates(w) for p in m["data"]["buffer_paths"]]
    assert keys == ["head_preview", "head_data"]  # preview first, each in its own message
    assert w.head_preview_for == [1, 1, 3, 200, 200]  # ceil(600 / 256) = 3 -> 200 x 200
    pooled = a[1, 1].reshape(200, 3, 200, 3).max(axis=(1, 3))
    assert w.head_preview == dec3_bytes(pooled)
    assert w.head_data == dec3_bytes(a[1, 1])


def test_max_pool_keeps_each_blocks_maximum_and_pads_by_repeating_edges():
    from attn_widget.encoding import max_pool

    m = np.arange(25, dtype=np.float32).reshape(5, 5)
    np.testing.assert_array_equal(max_pool(m, 2), [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    np.testing.assert_array_equal(max_pool(m, 1), m)
