"""``jupyter nbconvert --to attn_html``'s exporter, on a notebook saved the way JupyterLab saves one
(each output's mime bundle, every widget model's state in the notebook's metadata): each attn_widget
output becomes its offline page's data, the bundle comes once, and nothing is loaded from the web.
The pages are opened and hovered in Chromium by tests/browser/test_notebook_html_in_chromium.py."""

from __future__ import annotations

import base64
import importlib
import json
import os
import pathlib
import re
from importlib.metadata import entry_points
from typing import Any

import ipywidgets
import nbformat
import numpy as np
from ipywidgets.embed import embed_data
from nbconvert.exporters import HTMLExporter, get_exporter
from traitlets.config import Config

from attn_widget import AttentionWidget
from attn_widget.export.notebook_html import AttentionHTMLExporter
from attn_widget.wire.dec3 import encode_dec3
from tests.support.arrays import softmax_attention

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKENS = ["<s>", "The", "</script><b>cat</b>", "sat", "on", "."]


def saved_notebook(*shown: Any) -> nbformat.NotebookNode:
    """One cell a widget, its output as the kernel displayed it, and the widget state as
    JupyterLab's "Save Widget State Automatically" writes it (every trait, buffers in base64)."""
    nb = nbformat.v4.new_notebook()
    for widget in shown:
        bundle = widget._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        cell = nbformat.v4.new_code_cell("w")
        cell.outputs = [nbformat.v4.new_output("display_data", data=data, metadata=metadata)]
        nb.cells.append(cell)
    state = embed_data(views=list(shown), drop_defaults=False)["manager_state"]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    return nbformat.from_dict(json.loads(json.dumps(nb)))  # as read back from disk


def pages_in(html: str) -> list[dict[str, Any]]:
    found = re.findall(r"<script[^>]*\bdata-attn-widget-page\b[^>]*>(.*?)</script>", html, re.S)
    return [json.loads(text) for text in found]


def test_every_attn_widget_output_becomes_its_offline_page_and_nothing_comes_from_the_web() -> None:
    a = softmax_attention(layers=2, heads=3, n=len(TOKENS), seed=1)
    b = softmax_attention(layers=2, heads=3, n=len(TOKENS), seed=2)
    eager = AttentionWidget(a, TOKENS, layer=1, head=2)
    kept = AttentionWidget(b, TOKENS, eager_bytes=0)
    kept.keep_in_notebook(heads=[(0, 1)])
    not_kept = AttentionWidget(b, TOKENS, eager_bytes=0)
    slider = ipywidgets.IntSlider(value=3)  # another library's widget: no widget manager from a CDN to draw it

    html, _ = AttentionHTMLExporter().from_notebook_node(saved_notebook(eager, kept, not_kept, slider))

    pages = pages_in(html)
    assert [p["heads"]["included"] for p in pages] == [[[l, h] for l in range(2) for h in range(3)], [[0, 1]], []]
    codes = np.frombuffer(base64.b64decode(pages[0]["heads"]["quantities"]["attention"]["data"]["$b64"]), dtype="<u2")
    np.testing.assert_array_equal(codes, encode_dec3(a.reshape(6, len(TOKENS), len(TOKENS))).ravel())
    assert (pages[0]["state"]["layer"], pages[0]["state"]["head"]) == (1, 2)  # opens where the notebook was
    assert all(p["missing"].startswith("is not saved in this notebook: run w.keep_in_notebook()") for p in pages)
    notes = re.findall(r'<p class="attn-nb-note">(.*?)</p>', html)
    assert ["all 6 heads" in notes[0], "1 of 6 heads" in notes[1], "none of the 6 heads" in notes[2]] == [True] * 3

    assert html.count('id="attn-widget-bundle"') == 1  # the bundle once, however many widgets
    assert "IntSlider(value=3)" in html  # the other widget shows its text
    assert "<b>cat</b>" not in html  # tokens only inside escaped JSON
    assert "widget-state+json" not in html and "<script src=" not in html and "https://cdn" not in html


def test_execute_and_export_in_one_command_mounts_the_widgets_the_run_made(tmp_path: pathlib.Path, monkeypatch: Any) -> None:
    # `jupyter nbconvert --to attn_html --execute notebook.ipynb`: a real kernel runs the cell first.
    source = "import numpy as np\nfrom attn_widget import AttentionWidget\nAttentionWidget(np.full((1, 2, 3, 3), 1 / 3), ['a', 'b', 'c'])"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )  # the kernel imports this checkout
    exporter = AttentionHTMLExporter(config=Config({"ExecutePreprocessor": {"enabled": True, "timeout": 120}}))
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(tmp_path)}})
    assert [p["heads"]["included"] for p in pages_in(html)] == [[[0, 0], [0, 1]]]
    assert html.count('id="attn-widget-bundle"') == 1


def test_a_notebook_without_attn_widgets_is_nbconverts_page_without_our_bundle() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Just text")])
    html, _ = AttentionHTMLExporter().from_notebook_node(nb)
    assert "Just text" in html and "attn-widget-bundle" not in html


def test_pyproject_registers_the_exporter_as_attn_html() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'\[project\.entry-points\."nbconvert\.exporters"\]\nattn_html = "([\w.]+):(\w+)"', text)
    assert declared, "pyproject.toml declares no attn_html exporter"
    exporter = getattr(importlib.import_module(declared.group(1)), declared.group(2))
    assert exporter is AttentionHTMLExporter and issubclass(exporter, HTMLExporter)
    if any(ep.name == "attn_html" for ep in entry_points(group="nbconvert.exporters")):  # installed after it was declared
        assert get_exporter("attn_html").__name__ == "AttentionHTMLExporter"
