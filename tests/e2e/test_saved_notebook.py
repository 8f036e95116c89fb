"""A notebook saved with JupyterLab's widget state outlives its kernel: save, shut the kernel
down, reopen, hover. The eager widget keeps every number; the lazy one shows what it holds and
says what needs a kernel. Also records what `jupyter nbconvert --to html` gives."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.support.lab import jupyter_lab, open_and_run_all, record_kernel_status, wait_for_kernel, write_notebook
from tests.support.widget_page import cell_center, tooltip_text

pytestmark = pytest.mark.e2e
ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"
STATE_MIME = "application/vnd.jupyter.widget-state+json"

CELLS = [
    "import numpy as np\nfrom attn_widget import AttentionWidget\n"
    "a = np.load('att.npy')\ntokens = [f'tok{i}' for i in range(a.shape[-1])]\n"
    "w = AttentionWidget(a, tokens, layer=1, head=2)\nw",
    "lazy = AttentionWidget(a, tokens, eager_bytes=0)  # heads on request: they need the kernel\nlazy",
]


def attention(n: int = 12) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3, n, n)).astype(np.float32) * 2
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def saved_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("saved")
    # "Save widget state automatically": the widget manager writes the state on every save.
    settings = root / ".settings" / "@jupyter-widgets" / "jupyterlab-manager"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"saveState": true}')
    np.save(root / "att.npy", attention())
    write_notebook(root / "saved.ipynb", CELLS)
    with jupyter_lab(root) as url:
        yield {"url": url, "root": root}


def shut_down_kernels(page: Any) -> list[int]:
    """End every session (and so its kernel) through the server's REST API, from the page (it
    holds the XSRF cookie). Ending the session, not only the kernel, is what closing a notebook
    and shutting its kernel down does: a reopened notebook then starts clean."""
    return page.evaluate(
        """async () => { const x = decodeURIComponent(document.cookie.match(/_xsrf=([^;]+)/)?.[1] ?? "");
          const out = [];
          for (const s of await (await fetch("/api/sessions")).json())
            out.push((await fetch(`/api/sessions/${s.id}`, {method: "DELETE", headers: {"X-XSRFToken": x}})).status);
          return out; }"""
    )


def weight_of(text: str) -> str:
    import re

    m = re.search(r"weight (\S+)", text)
    assert m, text
    return m.group(1)


def test_saved_notebook_draws_without_its_kernel(saved_lab: dict[str, Any], browser: Any) -> None:
    root, url = saved_lab["root"], saved_lab["url"]
    a = attention()
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    open_and_run_all(page, url, "saved.ipynb")
    page.locator("[data-testid=attn-widget][data-ready=true]").nth(1).wait_for(timeout=120_000)
    page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.time() + 30
    while STATE_MIME not in json.loads((root / "saved.ipynb").read_text()).get("metadata", {}).get("widgets", {}):
        assert time.time() < deadline, "the widget state was not saved in the notebook"
        time.sleep(0.3)
    assert shut_down_kernels(page) == [204]
    context.close()

    # Reopened: the widgets come from the notebook's saved state. Then no kernel at all.
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    record_kernel_status(page)
    page.goto(f"{url}/lab/workspaces/reopened/tree/saved.ipynb?reset")
    views = page.locator("[data-testid=attn-widget]")
    views.nth(1).wait_for(state="attached", timeout=120_000)  # the lazy one never gets a head to paint
    views.nth(0).and_(page.locator("[data-ready=true]")).wait_for(timeout=60_000)
    wait_for_kernel(page)  # Lab starts one on reopening: it knows nothing of these widgets
    assert shut_down_kernels(page) == [204]

    eager = views.nth(0)
    eager.scroll_into_view_if_needed()
    assert eager.get_attribute("data-head-shown") == "1,2"
    for q, k in [(3, 4), (11, 0), (7, 7)]:
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k, nth=0))
        assert weight_of(tooltip_text(page)) == format(float(a[1, 2, q, k]), ".3g")
    page.mouse.click(*cell_center(page, "attn-grid", 0, 1, nth=0))  # another head: every number was saved
    page.locator("[data-testid=attn-widget][data-head-shown='0,1']").first.wait_for(state="attached")
    page.mouse.move(*cell_center(page, "attn-heatmap", 5, 2, nth=0))
    assert weight_of(tooltip_text(page)) == format(float(a[0, 1, 5, 2]), ".3g")
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "saved-notebook-reopened.png"))

    # The lazy widget holds its grid but asks the kernel for heads: it says that needs a kernel.
    lazy = views.nth(1)
    lazy.scroll_into_view_if_needed()
    page.mouse.click(*cell_center(page, "attn-grid", 1, 1, nth=1))
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=attn-heatmap]')[1].dataset.status.includes('needs a running kernel')",
        timeout=15_000,
    )
    page.mouse.move(*cell_center(page, "attn-grid", 1, 0, nth=1))
    tip = page.locator("[data-testid=attn-tooltip]").nth(1)  # each widget has its own tooltip
    tip.wait_for(state="visible")
    assert "layer 1 · head 0" in (tip.text_content() or "")
    context.close()
    assert errors == [], errors


def test_nbconvert_html_keeps_the_state_but_needs_a_cdn_to_draw(
    saved_lab: dict[str, Any], browser: Any, tmp_path: pathlib.Path
) -> None:
    """What the README says of `jupyter nbconvert --to html`: the widget state is embedded, drawn
    by @jupyter-widgets/html-manager from a CDN. Offline the widget is not drawn."""
    notebook = saved_lab["root"] / "saved.ipynb"
    if STATE_MIME not in json.loads(notebook.read_text()).get("metadata", {}).get("widgets", {}):
        pytest.skip("needs the notebook saved by test_saved_notebook_draws_without_its_kernel")
    out = tmp_path / "saved.html"
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(notebook), "--output", str(out)],
        check=True,
        capture_output=True,
    )
    html = out.read_text(encoding="utf-8")
    assert STATE_MIME in html and "html-manager" in html and "https://" in html
    context = browser.new_context(offline=True)
    page = context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    # The page adds the widget manager's script when its DOM is loaded, and the load event waits
    # for that script: once it has fired, the manager has failed to arrive and nothing can draw.
    page.goto(out.as_uri())
    assert any("@jupyter-widgets/html-manager" in url for url in failed), failed
    assert page.locator("[data-testid=attn-widget]").count() == 0
    context.close()
