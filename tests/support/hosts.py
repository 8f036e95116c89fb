"""The widget in the notebook hosts besides JupyterLab: Jupyter Notebook 7, Voila and marimo.

Each host runs the same two widgets, built by code that the test process runs too, so the test
knows every number Python holds:

* a short one (6 layers x 4 heads, 12 tokens), whose observer logs the selection to
  ``selection.json`` and answers a click on key 11 by moving to layer 4, head 3 itself: a change
  made in Python that the view must show, in hosts where no cell can be run by hand;
* a long one (2 x 2 heads, 1,024 tokens, 16 MB), far above the eager limit, so every head it draws
  is fetched from the kernel in tiles.
"""

from __future__ import annotations

import pathlib
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.lab import write_notebook
from tests.support.server_process import free_port, jupyter_server, serve

DATA = """\
import json, pathlib
import numpy as np
from attn_widget import AttentionWidget

def attention(layers, heads, n, seed):
    rng = np.random.default_rng(seed)
    x = 3 * rng.standard_normal((layers, heads, n, n)).astype(np.float32)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)

short_attention = attention(6, 4, 12, seed=3)
long_attention = attention(2, 2, 1024, seed=5)
"""

WIDGETS = """\
w = AttentionWidget(short_attention, [f"tok{i}" for i in range(12)], layer=1, head=2)
log = pathlib.Path("selection.json")

def on_selection(change):
    log.write_text(json.dumps([w.layer, w.head, w.query, w.key]))
    if w.key == 11 and (w.layer, w.head) != (4, 3):
        w.layer, w.head = 4, 3  # Python reacts to the click: the view must follow

w.observe(on_selection, names=["layer", "head", "query", "key"])
long_w = AttentionWidget(long_attention, [f"p{i}" for i in range(1024)], layer=1, head=0)
"""

HOSTS = ("notebook7", "voila", "marimo")
NOTEBOOK = "hosts.ipynb"
MARIMO_APP = "app.py"
MOVE_ON_KEY = 11
MOVED_TO = (4, 3)


def expected_attention() -> tuple[Any, Any]:
    """The short and long arrays exactly as the kernel built them."""
    scope: dict[str, Any] = {}
    exec(DATA, scope)  # the same source the notebook runs
    return scope["short_attention"], scope["long_attention"]


def jupyter_notebook_file(path: pathlib.Path) -> None:
    """Two widgets, each the last expression of its cell (Notebook 7 and Voila)."""
    write_notebook(path, [DATA + WIDGETS + "w", "long_w"])


def marimo_app_file(path: pathlib.Path) -> None:
    """The same widgets in a marimo app, each wrapped by mo.ui.anywidget."""
    body = textwrap.indent(DATA + WIDGETS, "    ")
    path.write_text(
        "import marimo\n\napp = marimo.App()\n\n\n@app.cell\ndef _():\n    import marimo as mo\n"
        f"{body}    mo.vstack([mo.ui.anywidget(w), mo.ui.anywidget(long_w)])\n    return\n\n\n"
        'if __name__ == "__main__":\n    app.run()\n'
    )


def _argv(host: str, root: pathlib.Path, port: int) -> tuple[list[str], str]:
    """The command that serves the host's file in `root`, and the path that answers once it is up."""
    py = [sys.executable, "-m"]
    if host == "notebook7":
        return jupyter_server("notebook", root, port), "/api/status"
    if host == "voila":  # Voila runs the notebook itself for each page it serves
        return py + [
            "voila",
            NOTEBOOK,
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={port}",
            "--show_tracebacks=True",
        ], "/favicon.ico"
    if host == "marimo":
        return py + [
            "marimo",
            "run",
            MARIMO_APP,
            "--headless",
            "--host=127.0.0.1",
            f"--port={port}",
            "--no-token",
            "--no-sandbox",
            "--no-check",
        ], "/health"
    raise ValueError(f"host must be one of {HOSTS}, got {host!r}")


@contextmanager
def host_server(host: str, root: pathlib.Path) -> Iterator[str]:
    """Write the host's notebook or app into `root`, serve it, and yield the server's URL."""
    if host == "marimo":
        marimo_app_file(root / MARIMO_APP)
    else:
        jupyter_notebook_file(root / NOTEBOOK)
    port = free_port()
    argv, ready = _argv(host, root, port)
    url = f"http://127.0.0.1:{port}"
    with serve(host, argv, root, url + ready):
        yield url
