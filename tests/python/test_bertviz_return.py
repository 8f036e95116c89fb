"""bertviz's save-to-file recipe: ``head_view(..., html_action="return").data`` written to a file
is a page (ours: the widget's offline page), and the widget is one attribute away."""

from __future__ import annotations

import base64
import json
import pathlib
import re
import warnings

import numpy as np
import pytest
from IPython.display import HTML

from attn_widget import AttentionWidget, head_view, model_view
from attn_widget.export.page import PageTooLarge
from attn_widget.wire.dec3 import encode_dec3


def bertviz_input(layers: int = 3, heads: int = 4, n: int = 7) -> tuple[tuple[np.ndarray, ...], list[str]]:
    rng = np.random.default_rng(3)
    a = rng.random((layers, heads, n, n)).astype(np.float32) ** 3
    a /= a.sum(-1, keepdims=True)
    return tuple(a[i][None] for i in range(layers)), ["[CLS]", *[f"Ġw{i}" for i in range(n - 2)], "[SEP]"]


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="attn-page-data">(.*?)</script>', html, re.S)
    assert found, "the page holds no widget data"
    return json.loads(found.group(1))


def test_bertviz_readme_recipe_writes_our_offline_page(tmp_path: pathlib.Path) -> None:
    attention, tokens = bertviz_input()
    # bertviz's README, as it is written there:
    html_head_view = head_view(attention, tokens, html_action="return")
    with open(tmp_path / "head_view.html", "w") as file:
        file.write(html_head_view.data)

    assert isinstance(html_head_view, HTML)
    text = (tmp_path / "head_view.html").read_text()
    assert text.startswith("<!doctype html>") and "https://" not in text  # one file, nothing from the web
    w = html_head_view.widget
    assert isinstance(w, AttentionWidget) and (w.n_layers, w.n_heads) == (3, 4)
    w.to_html(tmp_path / "to_html.html")
    assert (tmp_path / "to_html.html").read_text() == text  # the very page to_html writes
    data = page_data(text)
    assert data["heads"]["included"] == [[l, h] for l in range(3) for h in range(4)]
    codes = np.frombuffer(base64.b64decode(data["heads"]["quantities"]["attention"]["data"]["$b64"]), dtype="<u2")
    expected = encode_dec3(np.stack([attention[l][0, h] for l in range(3) for h in range(4)]))
    np.testing.assert_array_equal(codes, expected.ravel())  # every weight, in the code the tooltips print
    assert data["state"]["tokens"][1] == " w0"  # prettified, as bertviz does


def test_the_returned_object_displays_the_widget_not_a_pasted_document() -> None:
    attention, tokens = bertviz_input()
    returned = model_view(attention, tokens, html_action="return")
    bundle, _ = returned._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == returned.widget.model_id
    assert "text/html" not in bundle and returned._repr_html_() is None
    assert returned.data.startswith("<!doctype html>")


def test_a_page_too_large_for_every_head_holds_the_selected_layer_then_head(monkeypatch: pytest.MonkeyPatch) -> None:
    attention, tokens = bertviz_input()
    real = AttentionWidget.page_html
    fits: list[int] = [4]

    def limited(self: AttentionWidget, heads: object = "all", **kwargs: object) -> str:
        if heads == "all" or len(list(heads)) > fits[0]:  # type: ignore[arg-type]
            raise PageTooLarge("too large")
        return real(self, heads, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(AttentionWidget, "page_html", limited)
    with pytest.warns(UserWarning, match="it holds the heads of layer 2; write others with .widget.to_html"):
        returned = head_view(attention, tokens, layer=2, heads=[1], html_action="return")
    assert page_data(returned.data)["heads"]["included"] == [[2, h] for h in range(4)]
    fits[0] = 1
    with pytest.warns(UserWarning, match="it holds layer 2, head 1"):
        returned = head_view(attention, tokens, layer=2, heads=[1], html_action="return")
    assert page_data(returned.data)["heads"]["included"] == [[2, 1]]
    fits[0] = 0
    with pytest.raises(PageTooLarge), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head_view(attention, tokens, html_action="return")
