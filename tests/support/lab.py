"""A throwaway JupyterLab server on loopback (no token, no news toast), for the end-to-end test
and the head-switch benchmark, plus the clicks that open a notebook and run it."""

from __future__ import annotations

import pathlib
import time
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


# Every status the notebook's kernel indicator (Lab's and Notebook 7's toolbar) shows, in order,
# from the page's first moment. It says "idle" before any kernel exists, so the text "Kernel
# status: Idle" proves nothing: a Run All then finds no kernel and runs nothing. The kernel is
# there once the indicator has been something else (connecting, restarting) and is idle again.
_RECORD_KERNEL_STATUS = """
(() => {
  const seen = (window.__kernelStatuses = []);
  const read = () => {
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
    if (status && status !== seen.at(-1)) seen.push(status);
  };
  const watch = () => new MutationObserver(read).observe(document.documentElement, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-status']});
  if (document.documentElement) watch(); else document.addEventListener('readystatechange', watch, {once: true});
})();
"""
_KERNEL_READY = """() => {
  if (document.querySelector('.jp-Dialog')) return 'dialog';
  const seen = window.__kernelStatuses ?? [];
  return seen.some((s) => s !== 'idle') && seen.at(-1) === 'idle' && 'ready';
}"""


def record_kernel_status(page: Any) -> None:
    """Record the kernel indicator's statuses in every page this page loads from now on."""
    page.add_init_script(_RECORD_KERNEL_STATUS)


def wait_for_kernel(page: Any, timeout_ms: int = 120_000) -> None:
    """Wait until the notebook has a connected, idle kernel (record_kernel_status before the page
    loads). If Lab asks which kernel to start instead, take its default and go on waiting."""
    if page.wait_for_function(_KERNEL_READY, timeout=timeout_ms).json_value() == "dialog":
        page.locator(".jp-Dialog button.jp-mod-accept").click()
        page.evaluate("() => { window.__kernelStatuses.length = 0 }")
        wait_for_kernel(page, timeout_ms)


def run_all_cells(page: Any, timeout_ms: int = 120_000) -> None:
    """Run All Cells from the Run menu once the notebook can run them: a kernel is connected and
    a cell is active (Lab's run-all does nothing without one)."""
    wait_for_kernel(page, timeout_ms)
    page.locator(".jp-Notebook .jp-Cell.jp-mod-active").first.wait_for(state="attached", timeout=timeout_ms)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def open_and_run_all(page: Any, url: str, notebook: str, timeout_ms: int = 120_000) -> None:
    """Open a notebook in Lab (in a fresh workspace of its own, so notebooks opened earlier on the
    same server are not restored beside it), wait for its kernel, and Run All Cells."""
    workspace = "w-" + "".join(c if c.isalnum() else "-" for c in notebook)
    record_kernel_status(page)
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset", timeout=timeout_ms)
    run_all_cells(page, timeout_ms)


def restart_kernel(page: Any, timeout_ms: int = 60_000) -> None:
    """Restart the notebook's kernel from the Kernel menu and wait until the new kernel is idle
    (the page was opened after record_kernel_status)."""
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.get_by_role("menuitem", name="Restart Kernel…").click()
    page.evaluate("() => { window.__kernelStatuses.length = 0 }")  # from here on: restarting, ..., idle
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    page.wait_for_function(
        "() => { const s = window.__kernelStatuses; return s.includes('restarting') && s.at(-1) === 'idle'; }", timeout=timeout_ms
    )


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` (say, a file the kernel writes) until it holds, or fail naming ``what``."""
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
