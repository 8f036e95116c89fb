"""The demo notebook runs top to bottom on the packaged model, offline, and shows the widget."""

import pathlib

import nbformat
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / "demo.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_demo_notebook_runs_and_displays_widgets(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    views = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    assert len(views) >= 3  # the demo widget, the observer's log, the array-input widget
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "sharpest non-trivial head: layer" in printed
    results = [o["data"]["text/plain"] for o in outputs if o.output_type == "execute_result" and "text/plain" in o.get("data", {})]
    assert "(0, 0, -1, -1)" in results  # the selection before any click
