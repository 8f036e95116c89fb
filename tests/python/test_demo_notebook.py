"""The demo notebook runs top to bottom on the packaged model, offline, and shows the widget."""

import pathlib
import re

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
    results = [
        o["data"]["text/plain"] for o in outputs if o.output_type == "execute_result" and "text/plain" in o.get("data", {})
    ]
    assert "(0, 0, -1, -1)" in results  # the selection before any click


GROUNDING = NOTEBOOK.with_name("grounding.ipynb")


def test_grounding_notebook_reproduces_the_briefs_figure(tmp_path):
    """On the shipped model, the widget shows and the environment noun is the most salient token."""
    nb = nbformat.read(GROUNDING, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "target: log p('horse' after position 12) (chosen)" in printed
    assert "most salient token for that head: horse" in printed
    assert "(attention the -> horse 1.00)" in printed
    assert "integrated gradients completeness gap" in printed
    # the head detectors: the "horse" head is ranked against every head, for both detectors
    assert re.search(r"previous token \(this text\)\s+best head L\d+H\d+ = 0\.\d+; the 'horse' head L9H1", printed), printed
    assert re.search(r"induction \(the probe\)\s+best head L\d+H\d+ = 0\.\d+; .* \(rank \d+ of 144\)", printed), printed
