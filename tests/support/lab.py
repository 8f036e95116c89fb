"""A throwaway JupyterLab server on loopback (no token, no news toast), for the end-to-end test
and the head-switch benchmark, plus the clicks that open a notebook and run it."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from typing import Any, Iterator

import nbformat


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: pathlib.Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)


@contextmanager
def jupyter_lab(root: pathlib.Path, start_timeout: float = 90) -> Iterator[str]:
    """Run JupyterLab on `root` and yield its URL; stopped on exit."""
    # No "get Jupyter news?" toast over the widget, and no network look-ups for news or updates.
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", JUPYTER_CONFIG_DIR=str(root / ".cfg"), JUPYTER_RUNTIME_DIR=str(root / ".rt"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"), JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"))
    env.pop("ANYWIDGET_HMR", None)
    log_path = root / "lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             f"--ServerApp.root_dir={root}", "--IdentityProvider.token=", "--ServerApp.password=",
             "--allow-root", "--LabApp.extension_manager=readonly"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + start_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited: {log_path.read_text()[-3000:]}")
                try:
                    urllib.request.urlopen(f"{url}/api/status", timeout=2)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError(f"jupyter lab did not start in {start_timeout} s") from None
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def open_and_run_all(page: Any, url: str, notebook: str, timeout_ms: int = 120_000) -> None:
    """Open a notebook in Lab (in a fresh workspace of its own, so notebooks opened earlier on the
    same server are not restored beside it), wait for an idle kernel, and Run All Cells."""
    workspace = "w-" + "".join(c if c.isalnum() else "-" for c in notebook)
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset", timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook", timeout=timeout_ms)
    try:
        page.locator(".jp-Dialog button.jp-mod-accept").click(timeout=3000)
    except Exception:
        pass  # no kernel dialog this time
    page.get_by_text("Kernel status: Idle").first.wait_for(state="attached", timeout=timeout_ms)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
