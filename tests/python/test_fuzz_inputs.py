"""Inputs tried by machine (hypothesis): arrays of any shape and dtype with NaN and Inf anywhere and
tokens of any text give a widget whose numbers equal the input's, or a clear error; the comm
protocol answers whatever a browser could send with a reply, never an exception, and stays
correct and bounded after a burst of a thousand requests, and after a burst of malformed ones.

How many examples each property gets is the hypothesis profile's (tests/python/conftest.py): 150
by default, 10,000 with ``ATTN_FUZZ=long``, which also makes the malformed burst 10,000 messages."""

from __future__ import annotations

import random
import tracemalloc
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attn_widget import AttentionWidget
from attn_widget.wire.dec3 import dec3_bytes
from tests.support.arrays import softmax_attention
from tests.support.fake_kernel import frontend_custom, use_recording_comms

#: Messages in the malformed burst: as many as the profile gives examples (150, or 10,000 when long).
BURST = settings.default.max_examples


@pytest.fixture(scope="module", autouse=True)
def recording_comms() -> Iterator[None]:
    """Every widget in this module records its traffic (no kernel here); undone after the module."""
    with pytest.MonkeyPatch.context() as patch:
        use_recording_comms(patch)
        yield


# Tokens as tokenizers and users produce them: empty, control characters, right-to-left text,
# emoji, markup, and very long strings.
TOKEN = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "\x00", "\u202e", "שלום", "مرحبا", "👩‍👩‍👧", "</script>", "<img src=x onerror=alert(1)>", "\n\t"]),
    st.text(min_size=1000, max_size=3000).map(lambda s: s[:3000]),
)
DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bfloat16"]


@st.composite
def attention_inputs(draw: Any) -> tuple[Any, np.ndarray, list[str]]:
    """(what the user passes, the float32 numbers it holds, tokens)."""
    layers, heads, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 9))
    dtype = draw(st.sampled_from(DTYPES))
    shape = (layers, heads, n, n)
    if dtype in ("float16", "float32", "float64", "bfloat16"):
        base = "float32" if dtype == "bfloat16" else dtype
        values = draw(arrays(base, shape, elements=st.floats(-1e4, 1e4, allow_nan=False, width=16 if base == "float16" else 32)))
        if draw(st.booleans()):  # NaN or Inf somewhere
            where = tuple(draw(st.integers(0, d - 1)) for d in shape)
            values[where] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        given_ = torch.from_numpy(values.astype(np.float32)).to(torch.bfloat16) if dtype == "bfloat16" else values
        expected = given_.float().numpy() if dtype == "bfloat16" else values.astype(np.float32)
    else:
        info = np.iinfo(dtype)
        values = draw(arrays(dtype, shape, elements=st.integers(max(info.min, -1000), min(info.max, 1000))))
        given_, expected = values, values.astype(np.float32)
    if draw(st.booleans()):
        given_ = torch.as_tensor(np.asarray(given_)) if not isinstance(given_, torch.Tensor) else given_
    tokens = draw(st.lists(TOKEN, min_size=n, max_size=n))
    if draw(st.integers(0, 9)) == 0:  # now and then the wrong number of tokens
        tokens = tokens + ["extra"]
    return given_, expected, tokens


@given(attention_inputs())
def test_any_array_gives_its_own_numbers_or_a_clear_error(case: tuple[Any, np.ndarray, list[str]]) -> None:
    given_, expected, tokens = case
    n = expected.shape[-1]
    bad = ~np.isfinite(expected)
    try:
        w = AttentionWidget(given_, tokens)
    except ValueError as err:
        message = str(err)
        if bad.any():
            layer, head, q, k = (int(i) for i in np.argwhere(bad)[0])
            assert f"the first at layer {layer}, head {head}, query {q}, key {k}" in message, message
        else:
            assert len(tokens) != n and f"tokens has {len(tokens)} entries but attention has N = {n}" in message, message
        return
    assert not bad.any() and len(tokens) == n, "a bad input was accepted"
    np.testing.assert_array_equal(w.attention, expected)
    assert w.capture.tokens == tokens
    layer, head = w.n_layers - 1, w.n_heads - 1
    tile = w.tile(layer, head, (0, n, 0, n), (1, 1))
    assert dec3_bytes(tile.values) == dec3_bytes(expected[layer, head])  # what a tooltip will print


# ----------------------------------------------------------------------------- the comm protocol
FIELDS = [
    "type",
    "id",
    "kind",
    "layer",
    "head",
    "quantity",
    "version",
    "window",
    "block",
    "event",
    "view",
    "index",
    "count",
    "bytes",
    "width",
    "height",
    "error",
]
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=80),
    st.text(min_size=65, max_size=100_000).map(lambda s: s * 3),
)
JSONISH = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12
)


@st.composite
def browser_messages(draw: Any) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(JSONISH)  # not even a dict
    message = draw(st.fixed_dictionaries({}, optional={f: JSONISH for f in FIELDS}))
    if draw(st.booleans()):
        message["type"] = draw(st.sampled_from(["tile", "view", "export-chunk", "reply", "", "TILE"]))
    if message.get("type") == "tile" and draw(st.booleans()):  # near-valid: one field off
        valid = {
            "type": "tile",
            "id": "fz-1",
            "kind": "self",
            "layer": 0,
            "head": 1,
            "quantity": "attention",
            "version": 0,
            "window": [0, 6, 0, 6],
            "block": [1, 1],
        }
        field = draw(st.sampled_from(sorted(valid)))
        valid[field] = message.get(field, draw(JSONISH))
        message = valid
    return message


@pytest.fixture(scope="module")
def lazy_widget() -> AttentionWidget:
    return AttentionWidget(softmax_attention(layers=2, heads=2, n=6, seed=3), [f"t{i}" for i in range(6)], eager_bytes=0)


def send_and_check(w: AttentionWidget, message: Any, buffers: list[bytes]) -> list[tuple[dict[str, Any], list[bytes]]]:
    """Deliver one message as a browser would and check what the kernel did: it never raises,
    answers at most once, refuses with a short error that a view can show, and takes a bad
    request for what it is (a ``RuntimeWarning`` "could not answer" says the fault is ours).
    Returns the replies with their buffers."""
    w.comm.take()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frontend_custom(w, message, buffers)  # must not raise
    sent = [(m["data"]["content"], m["buffers"]) for m in w.comm.take()]
    replies = [content for content, _ in sent]
    blamed = [str(c.message) for c in caught if issubclass(c.category, RuntimeWarning) and "could not answer" in str(c.message)]
    assert blamed == [], f"a malformed message was taken for a fault of the widget: {blamed}"
    is_dict = isinstance(message, dict)
    if is_dict and message.get("type") == "export-chunk":
        assert all(not r.get("ok", True) for r in replies)  # chunks for no save are dropped, or refused
        return sent
    assert len(replies) <= 1
    if (
        is_dict
        and message.get("type") == "view"
        and message.get("event") in ("open", "close")
        and isinstance(message.get("view"), str)
        and len(message["view"]) <= 64
    ):
        assert replies == []  # a view announcing itself needs no answer
        return sent
    (reply,) = replies
    assert reply["type"] == "reply"
    request_id = message.get("id") if is_dict else None
    assert reply["id"] == (request_id if isinstance(request_id, str) and len(request_id) <= 64 else None)
    if not reply["ok"]:
        assert isinstance(reply["error"], str) and reply["error"]
        assert len(reply["error"]) < 2_000, "an error reply must not echo an enormous field"
    return sent


@given(browser_messages(), st.lists(st.binary(max_size=64), max_size=2))
def test_malformed_messages_get_an_error_reply_and_the_kernel_never_raises(
    lazy_widget: AttentionWidget, message: Any, buffers: list[bytes]
) -> None:
    send_and_check(lazy_widget, message, buffers)


def test_the_widget_stays_correct_and_bounded_after_a_burst_of_a_thousand_requests() -> None:
    a = softmax_attention(layers=2, heads=2, n=64, seed=9)
    w = AttentionWidget(a, [f"t{i}" for i in range(64)], eager_bytes=0)
    rng = np.random.default_rng(0)
    w.comm.take()
    tracemalloc.start()
    try:
        for i in range(1000):
            q0, k0 = (int(v) for v in rng.integers(0, 56, 2))
            request: dict[str, Any] = {
                "type": "tile",
                "id": f"burst-{i}",
                "kind": "self",
                "layer": int(rng.integers(0, 3)),
                "head": int(rng.integers(0, 2)),
                "quantity": "attention",
                "version": 0,
                "window": [q0, q0 + 8, k0, k0 + 8],
                "block": [1, 1],
            }
            if i % 7 == 0:
                request["id"] = "x" * 10_000  # an enormous id
            if i % 11 == 0:
                request["view"] = f"v{i}"
                frontend_custom(w, {"type": "view", "event": "open", "view": f"v{i}"})
            frontend_custom(w, request)
            if i % 100 == 99:
                w.comm.take()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    replies = [m["data"]["content"] for m in w.comm.take()]
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB held during the burst"
    assert all(r["type"] == "reply" for r in replies)
    # still exact afterwards
    w.comm.take()
    frontend_custom(
        w,
        {
            "type": "tile",
            "id": "after",
            "kind": "self",
            "layer": 1,
            "head": 1,
            "quantity": "attention",
            "version": 0,
            "window": [0, 64, 0, 64],
            "block": [1, 1],
        },
    )
    (reply,) = w.comm.take()
    assert reply["data"]["content"]["ok"] and reply["buffers"] == [dec3_bytes(a[1, 1])]


# Values a browser could put in any field: wrong types, edge numbers, enormous strings and lists.
JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    3,
    2**31,
    -(2**70),
    1.5,
    float("nan"),
    float("inf"),
    "",
    "self",
    "cross",
    "x" * 65,
    "x" * 300_000,
    "\x00",
    "\u202e",
    [],
    {},
    [0, 6, 0, 6],
    [1, 1],
    [0, 0, 0, 0],
    [6, 0, 6, 0],
    [0, 6, 0, 6, 0],
    [0.0, 6.0, 0.0, 6.0],
    [True, 1],
    [0] * 100_000,
    [[0, 6], [0, 6]],
    {"0": 0},
]
VALID_REQUEST: dict[str, Any] = {
    "type": "tile",
    "kind": "self",
    "layer": 1,
    "head": 0,
    "quantity": "attention",
    "version": 0,
    "window": [0, 6, 0, 6],
    "block": [1, 1],
}


def malformed_message(rng: random.Random, i: int) -> tuple[Any, list[bytes]]:
    """Message ``i`` of the burst: mostly a tile request with fields dropped or replaced, else a
    view or export message with junk in it, a message of no known type, or not a dict at all."""
    pick = rng.random()
    buffers = [rng.randbytes(rng.randrange(64))] if rng.random() < 0.1 else []
    if pick < 0.5:
        message = {**VALID_REQUEST, "id": f"burst-{i}"}
        for field in rng.sample(sorted(message), rng.randint(1, 3)):
            if rng.random() < 0.2:
                del message[field]
            else:
                message[field] = rng.choice(JUNK)
        return message, buffers
    if pick < 0.6:
        return {
            "type": "view",
            "id": f"burst-{i}",
            "event": rng.choice(["open", "close", *JUNK]),
            "view": rng.choice(JUNK),
        }, buffers
    if pick < 0.7:
        fields = ("id", "view", "index", "count", "bytes", "width", "height", "error")
        return {"type": "export-chunk", **{f: rng.choice(JUNK) for f in rng.sample(fields, rng.randint(0, 4))}}, buffers
    if pick < 0.85:
        return {**VALID_REQUEST, "id": f"burst-{i}", "type": rng.choice(["reply", "TILE", "", "export", *JUNK])}, buffers
    return rng.choice(JUNK), buffers


@pytest.mark.parametrize("seed", [0])
def test_a_burst_of_malformed_messages_leaves_the_widget_exact_and_bounded(seed: int) -> None:
    """BURST messages in a row to one widget, every tenth a valid request whose numbers must stay
    exact; the kernel's memory stays bounded and nothing a view did not set changes."""
    a = softmax_attention(layers=2, heads=2, n=6, seed=5)
    w = AttentionWidget(a, [f"t{i}" for i in range(6)], eager_bytes=0)
    before = (w.layer, w.head, w.kind, list(w.window), w.grid_metric)
    rng = random.Random(seed)
    tracemalloc.start()
    try:
        for i in range(BURST):
            if i % 10 == 9:
                q0, k0 = rng.randrange(6), rng.randrange(6)
                window = [q0, rng.randint(q0 + 1, 6), k0, rng.randint(k0 + 1, 6)]
                request = {
                    **VALID_REQUEST,
                    "id": f"valid-{i}",
                    "layer": rng.randrange(2),
                    "head": rng.randrange(2),
                    "window": window,
                }
                ((reply, data),) = send_and_check(w, request, [])
                assert reply["ok"] and reply["payload"]["window"] == window, reply
                q0, q1, k0, k1 = window
                assert data[0] == dec3_bytes(a[request["layer"], request["head"], q0:q1, k0:k1])
                continue
            message, buffers = malformed_message(rng, i)
            send_and_check(w, message, buffers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB held during the burst"
    assert (w.layer, w.head, w.kind, list(w.window), w.grid_metric) == before
    tile = w.tile(1, 1, (0, 6, 0, 6), (1, 1))
    assert dec3_bytes(tile.values) == dec3_bytes(a[1, 1])


@pytest.mark.parametrize("kind", [[], {}, ["self"], {"self": 1}], ids=["empty-list", "empty-object", "list", "object"])
def test_a_kind_that_is_a_list_or_an_object_is_refused_as_a_bad_request(lazy_widget: AttentionWidget, kind: Any) -> None:
    w = lazy_widget
    w.comm.take()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frontend_custom(w, {**VALID_REQUEST, "id": "bad-kind", "kind": kind})
    (reply,) = [m["data"]["content"] for m in w.comm.take()]
    assert reply["id"] == "bad-kind" and not reply["ok"]
    assert reply["error"].startswith("kind must be one of ['self'], got "), reply["error"]
    assert [str(c.message) for c in caught] == []  # the browser sent something wrong: nothing for Python to hear
