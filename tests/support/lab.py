"""A throwaway JupyterLab server on loopback (no token, no news toast), for the end-to-end test
and the head-switch benchmark, plus the clicks that open a notebook and run it."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nbformat

from tests.support.server_process import free_port, jupyter_server, serve


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
    url = f"http://127.0.0.1:{port}"
    argv = [
        *jupyter_server("lab", root, port),
        "--LabApp.extension_manager=readonly",
    ]
    with serve("lab", argv, root, f"{url}/api/status", start_timeout):
        yield url


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
