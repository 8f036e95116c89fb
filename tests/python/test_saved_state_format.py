"""What a saved notebook stores of a widget is its synced state, read back by name. These four
widgets' states were written by attn_widget 0.1.0 (fixtures/widget-state-0.1.0.json) and must come
out the same, byte for byte, from today's code: a difference is a change of the saved format (and
of what the page receives), to be made on purpose, with the page's reader, never by a refactor.

Traits added since 0.1.0 are listed in ADDED with the value a widget without pictures saves: a
0.1.0 notebook lacks them and the page reads their absence as that value (js/wire/trait_groups.ts)."""

from __future__ import annotations

import base64
import json
import pathlib
from typing import Any

import pytest

from attn_widget import AttentionWidget
from tests.support.arrays import softmax_attention

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "widget-state-0.1.0.json"
# anywidget's and ipywidgets' own fields: the bundle, versions, and the layout model's id
FRAMEWORK = ("_esm", "_css", "_model_module_version", "_view_module_version", "_anywidget_id", "layout")
TOKENS = [f"t{i}" for i in range(9)]
#: Synced traits added on purpose after 0.1.0, with what a widget without pictures saves in them.
ADDED = {
    "_images": {},  # the image panel's pictures (issue 19)
    "_patches": {},  # the patch map of the kind shown
    "_query_patches": None,  # the query axis's, where it differs from the keys'
    "generating": False,  # live generation (issue 20): still writing
    "step": 0,  # tokens generated so far
    "_generation": {},  # the progress line
    "_candidates": {},  # each generated token's top k
    "_candidates_recent": {},  # the same for the tokens written since _candidates was last sent whole
    "_forks": [],  # forked comparisons shown below the widget
    "_notebook_page": {},  # heads w.keep_in_notebook() keeps for `nbconvert --to attn_html` (issue 21); the page never reads it
    "search": "",  # the token search's text (issue 21)
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _widget(case: str) -> AttentionWidget:
    a = softmax_attention(layers=3, heads=4, n=9, seed=3)
    if case == "eager":
        return AttentionWidget(a, TOKENS, layer=1, head=2, query=3)
    if case == "lazy":
        return AttentionWidget(a, TOKENS, eager_bytes=0, grid_metric="max_attention", queries=[1, 4])
    if case == "aggregate":
        return AttentionWidget(a, TOKENS, eager_bytes=0, layer=-1, head=2, queries=[2, 3])
    b = softmax_attention(layers=3, heads=4, n=9, seed=4)
    return AttentionWidget.compare(a, b, TOKENS, labels=("x", "y"), queries=[5])


@pytest.mark.parametrize("case", ["eager", "lazy", "aggregate", "compare"])
def test_the_synced_state_is_what_version_0_1_saved(case: str) -> None:
    expected = {**json.loads(FIXTURE.read_text())[case], **ADDED}
    w = _widget(case)
    try:
        state = {k: _jsonable(v) for k, v in w.get_state().items() if k not in FRAMEWORK}
    finally:
        w.close()
    assert sorted(state) == sorted(expected)
    changed = [k for k in expected if state[k] != expected[k]]
    assert not changed, f"traits whose saved value changed: {changed}"
