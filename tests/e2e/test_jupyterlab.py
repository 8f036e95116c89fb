"""JupyterLab with a real kernel: a click in the widget changes w.layer / w.head in the kernel, and
setting them in Python moves the outline. Saves a screenshot to test-results/."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any, Iterator

import nbformat
import pytest

from tests.browser.conftest import cell_center, outline_at

pytestmark = pytest.mark.e2e
ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"

SETUP = """import json, pathlib
from attn_widget import demo
w = demo()
log = pathlib.Path("selection.json")
w.observe(lambda change: log.write_text(json.dumps([w.layer, w.head, w.query, w.key])),
          names=["layer", "head", "query", "key"])
w"""
SET_FROM_PYTHON = "w.layer, w.head = 4, 7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(SET_FROM_PYTHON)]
    nbformat.write(nb, root / "e2e.ipynb")
    # No "get Jupyter news?" toast over the widget (and no network look-ups for news or updates).
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", JUPYTER_CONFIG_DIR=str(root / ".cfg"), JUPYTER_RUNTIME_DIR=str(root / ".rt"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"), JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"))
    env.pop("ANYWIDGET_HMR", None)
    log = open(root / "lab.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.root_dir={root}", "--IdentityProvider.token=", "--ServerApp.password=",
         "--allow-root", "--LabApp.extension_manager=readonly"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited: {(root / 'lab.log').read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if time.time() > deadline:
                proc.kill()
                raise RuntimeError("jupyter lab did not start in 90 s")
            time.sleep(0.5)
    yield {"url": url, "root": root}
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _selection(root: pathlib.Path) -> list[int] | None:
    try:
        return json.loads((root / "selection.json").read_text())
    except (OSError, ValueError):
        return None


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_click_reaches_the_kernel_and_python_moves_the_outline(lab: dict[str, Any], browser: Any) -> None:
    RESULTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{lab['url']}/lab/tree/e2e.ipynb", timeout=120_000)
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        try:
            page.locator(".jp-Dialog button.jp-mod-accept").click(timeout=3000)
        except Exception:
            pass  # no kernel dialog this time
        page.get_by_text("Kernel status: Idle").first.wait_for(state="attached", timeout=120_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        widget = page.locator("[data-testid=attn-widget][data-ready=true]")
        widget.wait_for(timeout=120_000)
        # The second cell set layer 4, head 7 from Python: the heatmap shows that head.
        page.locator("[data-head-shown='4,7']").wait_for(state="attached", timeout=60_000)
        _wait_for(lambda: _selection(lab["root"]) == [4, 7, -1, -1], 30, "the kernel's own change to be logged")

        page.locator("[data-testid=attn-grid]").scroll_into_view_if_needed()
        page.mouse.click(*cell_center(page, "attn-grid", 2, 5))
        _wait_for(lambda: (_selection(lab["root"]) or [])[:2] == [2, 5], 30, "w.layer, w.head == 2, 5 in the kernel")
        page.locator("[data-head-shown='2,5']").wait_for(state="attached", timeout=30_000)

        page.mouse.click(*cell_center(page, "attn-heatmap", 3, 1))
        _wait_for(lambda: _selection(lab["root"]) == [2, 5, 3, 1], 30, "w.query, w.key == 3, 1 in the kernel")
        page.mouse.move(*cell_center(page, "attn-heatmap", 3, 1))
        page.locator("[data-testid=attn-tooltip]").wait_for(state="visible")
        page.screenshot(path=str(RESULTS / "jupyterlab-demo.png"))

        # Python sets the head again: the outline and the heatmap follow.
        page.locator(".jp-Cell").nth(1).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        page.locator("[data-head-shown='4,7']").wait_for(state="attached", timeout=30_000)
        _wait_for(lambda: (_selection(lab["root"]) or [])[:2] == [4, 7], 30, "the kernel's second change")
        assert outline_at(page, 4, 7) and not outline_at(page, 2, 5)
        assert errors == [], errors
    finally:
        context.close()

