"""`jupyter nbconvert --to attn_html`: a notebook with two widgets, run by a real kernel and saved
with its widget state, becomes one HTML file that a reader opens from file:// with the network
off. Both widgets answer hovers with Python's numbers: the eager one from its saved heads, the
lazy one from the heads `keep_in_notebook` kept, and it says so for a head that was not kept.
The saved notebook also carries each widget's static picture (image/png) for readers that run no
JavaScript."""

from __future__ import annotations

import base64
import io
import os
import pathlib
import re
import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from tests.support.arrays import softmax_attention
from tests.support.widget_page import cell_center

ROOT = pathlib.Path(__file__).resolve().parents[2]
PNG_BUDGET = 150 * 1000
TOKENS = ["<s>", "The", "</script><b>cat</b>", "sat", "on", "the", "mat", "."]

CELLS = [
    ("markdown", "# Two heads\nSome *markdown* before the widgets."),
    (
        "code",
        "import numpy as np\nfrom attn_widget import AttentionWidget\n"
        "a = np.load('eager.npy'); b = np.load('lazy.npy')\n"
        f"tokens = {TOKENS!r}\n"
        "eager = AttentionWidget(a, tokens, layer=1, head=2)\neager",
    ),
    ("code", "print('between the widgets')"),
    (
        "code",
        "lazy = AttentionWidget(b, tokens, layer=1, head=0, eager_bytes=0)  # heads on request\n"
        "lazy.keep_in_notebook(heads=[(1, 0), (0, 1)])  # ...so keep two of them for the page\nlazy",
    ),
]


def weight_of(text: str) -> str:
    m = re.search(r"weight (\S+)", text)
    assert m, text
    return m.group(1)


def run_and_save(folder: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """Execute the notebook in a kernel that imports this checkout, keeping the widget state as
    JupyterLab's "save widget state" does (nbclient records the same comm messages)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [make[kind](source) for kind, source in CELLS]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    NotebookClient(
        nb, timeout=180, kernel_name="python3", store_widget_state=True, resources={"metadata": {"path": str(folder)}}
    ).execute()
    path = folder / "two_widgets.ipynb"
    nbformat.write(nb, path)
    return path


def declared_exporters() -> str:
    """pyproject.toml's ``[project.entry-points."nbconvert.exporters"]`` as entry_points.txt lines
    (read as text: tomllib is not in Python 3.10)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    table = text.split('[project.entry-points."nbconvert.exporters"]\n', 1)[1].split("\n[", 1)[0]
    pairs = [line.split("=", 1) for line in table.splitlines() if "=" in line and not line.startswith("#")]
    return "".join(f"{name.strip()} = {target.strip().strip(chr(34))}\n" for name, target in pairs)


def nbconvert_env(folder: pathlib.Path) -> dict[str, str]:
    """The environment `jupyter nbconvert` runs in: this checkout first, and the exporter's entry
    point as pyproject.toml declares it. A venv installed before the entry point existed lacks it:
    a dist-info written from pyproject.toml stands in for `pip install -e .` there."""
    paths = [str(ROOT)]
    if not any(ep.name == "attn_html" for ep in entry_points(group="nbconvert.exporters")):
        dist = folder / "site" / "attn_widget_exporter-0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: attn-widget-exporter\nVersion: 0\n")
        (dist / "entry_points.txt").write_text(f"[nbconvert.exporters]\n{declared_exporters()}")
        paths.append(str(folder / "site"))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}


def picture_of(output: dict[str, Any]) -> Any:
    from PIL import Image

    png = base64.b64decode(output["data"]["image/png"])
    assert len(png) <= PNG_BUDGET, f"the static picture takes {len(png)} bytes"
    image = Image.open(io.BytesIO(png))
    image.load()  # decodes every pixel
    return image


def head_shown(page: Any, nth: int, layer: int, head: int) -> None:
    page.wait_for_function(
        "([i, shown]) => document.querySelectorAll('[data-testid=attn-widget]')[i].dataset.headShown === shown",
        arg=[nth, f"{layer},{head}"],
    )


def tooltip_of(page: Any, nth: int) -> str:
    tip = page.locator("[data-testid=attn-tooltip]").nth(nth)  # each widget has its own
    tip.wait_for(state="visible")
    return tip.text_content() or ""


def test_nbconvert_attn_html_page_is_live_offline_with_pythons_numbers(
    offline_page: Any, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = softmax_attention(layers=2, heads=3, n=len(TOKENS), seed=5, causal=True)
    b = softmax_attention(layers=2, heads=3, n=len(TOKENS), seed=6, causal=False)
    np.save(tmp_path / "eager.npy", a)
    np.save(tmp_path / "lazy.npy", b)
    notebook = run_and_save(tmp_path, monkeypatch)

    # The saved notebook: each widget output carries its picture, small, a PNG that decodes.
    saved = nbformat.read(notebook, as_version=4)
    widget_outputs = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(widget_outputs) == 2
    assert all("application/vnd.jupyter.widget-view+json" in o["data"] for o in widget_outputs)
    for output in widget_outputs:
        image = picture_of(output)
        assert image.format == "PNG" and image.width >= 400 and image.height >= 250

    out = tmp_path / "two_widgets.html"
    jupyter = pathlib.Path(sys.executable).with_name("jupyter")
    done = subprocess.run(
        [str(jupyter), "nbconvert", "--to", "attn_html", str(notebook), "--output", out.stem],
        env=nbconvert_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert "<b>cat</b>" not in html.replace("\\u003cb\\u003ecat", "")  # tokens only inside escaped JSON
    assert "unpkg.com" not in html and "<script src=" not in html  # no widget manager, no script from the web

    page = offline_page(out)  # file://, network off; fails on any request, page error or dialog
    assert "Two heads" in page.locator("h1").first.text_content()  # nbconvert's rendering of the rest
    assert "between the widgets" in page.locator(".jp-OutputArea-output pre").first.text_content()
    views = page.locator("[data-testid=attn-widget]")
    assert views.count() == 2
    page.locator("[data-testid=attn-widget][data-ready=true]").nth(1).wait_for(state="attached")

    assert views.nth(0).get_attribute("data-head-shown") == "1,2"
    for q, k in [(3, 1), (7, 7), (5, 0)]:
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k, nth=0))
        assert weight_of(tooltip_of(page, 0)) == format(float(a[1, 2, q, k]), ".3g")
    page.mouse.click(*cell_center(page, "attn-grid", 0, 1, nth=0))  # every head of the eager widget is saved
    head_shown(page, 0, 0, 1)
    page.mouse.move(*cell_center(page, "attn-heatmap", 6, 2, nth=0))
    assert weight_of(tooltip_of(page, 0)) == format(float(a[0, 1, 6, 2]), ".3g")

    lazy = views.nth(1)
    lazy.scroll_into_view_if_needed()
    head_shown(page, 1, 1, 0)
    for q, k in [(2, 5), (7, 0)]:
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k, nth=1))
        assert weight_of(tooltip_of(page, 1)) == format(float(b[1, 0, q, k]), ".3g")
    page.mouse.click(*cell_center(page, "attn-grid", 0, 1, nth=1))
    head_shown(page, 1, 0, 1)
    page.mouse.move(*cell_center(page, "attn-heatmap", 4, 6, nth=1))
    assert weight_of(tooltip_of(page, 1)) == format(float(b[0, 1, 4, 6]), ".3g")
    page.mouse.click(*cell_center(page, "attn-grid", 1, 2, nth=1))  # a head that was not kept says how to keep it
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=attn-heatmap]')[1].dataset.status"
        ".includes('layer 1, head 2 is not saved in this notebook: run w.keep_in_notebook()')"
    )
    notes = page.locator(".attn-nb-note")
    assert "holds all 6 heads" in notes.nth(0).text_content()
    assert "holds 2 of 6 heads (kept with w.keep_in_notebook)" in notes.nth(1).text_content()
