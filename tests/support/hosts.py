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

import os
import pathlib
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from typing import Any, Iterator

from tests.support.lab import free_port, write_notebook

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

SHORT_SHAPE = (6, 4, 12)
LONG_N = 1024
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


def host_env(root: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", JUPYTER_CONFIG_DIR=str(root / ".cfg"), JUPYTER_RUNTIME_DIR=str(root / ".rt"),
               JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"), JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"),
               MARIMO_SKIP_UPDATE_CHECK="1", PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[2]))
    env.pop("ANYWIDGET_HMR", None)
    return env


@contextmanager
def serve(name: str, argv: list[str], root: pathlib.Path, ready_url: str, start_timeout: float = 90) -> Iterator[None]:
    """Run a host's server in `root` until `ready_url` answers; stopped on exit. Its log is
    `root/<name>.log`, quoted when it fails to start."""
    log_path = root / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=root, env=host_env(root), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + start_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {log_path.read_text()[-3000:]}")
                try:
                    urllib.request.urlopen(ready_url, timeout=2)
                    break
                except urllib.error.HTTPError:
                    break  # an answer, even 404, means the server is up
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError(f"{name} did not start in {start_timeout} s: {log_path.read_text()[-3000:]}") from None
                    time.sleep(0.5)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def python_tool(module: str) -> list[str]:
    return [sys.executable, "-m", module]


@contextmanager
def notebook7(root: pathlib.Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = python_tool("jupyter") + ["notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                                     f"--ServerApp.root_dir={root}", "--IdentityProvider.token=",
                                     "--ServerApp.password=", "--allow-root"]
    with serve("notebook", argv, root, f"{url}/api/status"):
        yield url


@contextmanager
def voila(root: pathlib.Path, notebook: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = python_tool("voila") + [notebook, "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
                                   "--show_tracebacks=True"]
    with serve("voila", argv, root, f"{url}/favicon.ico"):
        yield url


@contextmanager
def marimo(root: pathlib.Path, app: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = python_tool("marimo") + ["run", app, "--headless", "--host=127.0.0.1", f"--port={port}", "--no-token",
                                    "--no-sandbox", "--no-check"]
    with serve("marimo", argv, root, f"{url}/health"):
        yield url
