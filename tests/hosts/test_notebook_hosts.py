"""The widget in Jupyter Notebook 7, Voila and marimo (mo.ui.anywidget), each in real Chromium
with a real kernel: hover numbers equal Python's, a click reaches Python, a change Python makes
reaches the view, a long input fetches its heads in tiles, and the page shows no errors of ours.

The widgets and the arrays behind them are built by tests/support/hosts.py, whose code the test
process runs too. The network is blocked: a request that leaves the machine is answered empty and
recorded, and only the hosts' own (listed below) are allowed.
"""

from __future__ import annotations

import json
import pathlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from tests.support import hosts
from tests.support.lab import record_kernel_status, run_all_cells
from tests.support.widget_page import cell_center, outline_at

pytestmark = pytest.mark.e2e
RESULTS = pathlib.Path(__file__).resolve().parents[2] / "test-results"

# What each host logs by itself, with or without this widget; anything else fails the test.
HOST_NOISE: dict[str, list[str]] = {
    # Notebook 7.6 raises this while loading its settings, before any cell has run.
    "notebook7": [r"Cannot read properties of undefined \(reading 'schema'\)"],
    # Voila 0.5 loads every installed lab extension into its older JupyterLab core; Notebook 7's
    # own extension fails there. Its page asks a CDN for Font Awesome, which the blocked network
    # answers empty.
    "voila": [r"getter for the shared module is not a function", r"^https://cdn\.jsdelivr\.net/npm/@fortawesome/"],
    "marimo": [],
}


@pytest.fixture(scope="module", params=hosts.HOSTS)
def host(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp(request.param)
    with hosts.host_server(request.param, root) as url:
        yield {"name": request.param, "url": url, "root": root}


def open_in_host(page: Any, host: dict[str, Any]) -> None:
    """What a user does in each host to get the widgets on screen."""
    if host["name"] == "notebook7":
        record_kernel_status(page)
        page.goto(f"{host['url']}/notebooks/{hosts.NOTEBOOK}")
        run_all_cells(page)  # once the kernel is there: before that, Run All runs nothing
    else:
        page.goto(host["url"] + "/", timeout=120_000)  # Voila and marimo run the code themselves


@pytest.fixture
def host_page(host: dict[str, Any], browser: Any) -> Iterator[tuple[Any, list[str]]]:
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, device_scale_factor=1)
    problems: list[str] = []

    def offline(route: Any) -> None:
        problems.append(f"request: {route.request.url}")
        route.fulfill(status=200, body="")

    # Only requests that leave the host are stopped: a routed request waits for this thread, and
    # the host's own must flow while the test waits.
    context.route(re.compile(rf"^(?!{re.escape(host['url'])}/)(https?|wss?)://"), offline)
    page = context.new_page()
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    try:
        open_in_host(page, host)
        widgets = page.locator("[data-testid=attn-widget][data-ready=true]")
        try:
            widgets.nth(1).wait_for(state="attached", timeout=120_000)
        except Exception:
            RESULTS.mkdir(exist_ok=True)
            page.screenshot(path=str(RESULTS / f"host-{host['name']}-not-ready.png"), full_page=True)
            raise AssertionError(f"{host['name']}: the widgets were not drawn; the page said {problems}") from None
        yield page, problems
    finally:
        context.close()


def wait_for(page: Any, predicate: Callable[[], Any], what: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(200)  # not time.sleep: the page's events keep flowing meanwhile


def selection(root: pathlib.Path) -> list[int] | None:
    try:
        return json.loads((root / "selection.json").read_text())
    except (OSError, ValueError):
        return None


def tooltip(page: Any, index: int) -> str:
    tip = page.locator("[data-testid=attn-widget]").nth(index).locator("[data-testid=attn-tooltip]")
    tip.wait_for(state="visible", timeout=10_000)
    return tip.text_content() or ""


def hover(page: Any, testid: str, row: int, col: int, index: int) -> str:
    page.locator(f"[data-testid={testid}]").nth(index).scroll_into_view_if_needed()
    page.mouse.move(*cell_center(page, testid, row, col, nth=index))
    return tooltip(page, index)


def check_pooled_tooltip(text: str, a: np.ndarray, q: int, k: int) -> None:
    """A pixel of the long heatmap pools a block: its largest weight is the block's, as Python has it."""
    m = re.search(r"queries (\d+)–(\d+) · keys (\d+)–(\d+)", text)
    assert m, text
    q0, q1, k0, k1 = (int(g) for g in m.groups())
    assert q0 <= q <= q1 and k0 <= k <= k1, text
    m = re.search(r"largest weight (\S+)\s*at query (\d+) .*?, key (\d+) ", text)
    assert m, text
    block = a[q0 : q1 + 1, k0 : k1 + 1]
    assert m.group(1) == format(float(block.max()), ".3g") == format(float(a[int(m.group(2)), int(m.group(3))]), ".3g"), text


def test_the_widget_in_each_host(host: dict[str, Any], host_page: tuple[Any, list[str]]) -> None:
    page, problems = host_page
    short, long = hosts.expected_attention()
    root = host["root"]
    shown = lambda i, lh: page.locator("[data-testid=attn-widget]").nth(i).and_(page.locator(f"[data-head-shown='{lh}']"))  # noqa: E731

    # Hover: the tooltip's weight is Python's.
    shown(0, "1,2").wait_for(state="attached", timeout=30_000)
    for q, k in [(0, 0), (3, 10), (11, 5)]:
        text = hover(page, "attn-heatmap", q, k, 0)
        assert f"weight {format(float(short[1, 2, q, k]), '.3g')}" in text, (q, k, text)

    # A click reaches Python: the observer logs the new head; the view shows it.
    page.mouse.click(*cell_center(page, "attn-grid", 2, 1, nth=0))
    wait_for(page, lambda: (selection(root) or [])[:2] == [2, 1], f"w.layer, w.head == 2, 1 in the kernel ({root})")
    shown(0, "2,1").wait_for(state="attached", timeout=30_000)
    assert f"weight {format(float(short[2, 1, 7, 4]), '.3g')}" in hover(page, "attn-heatmap", 7, 4, 0)

    # A change made in Python reaches the view: clicking key 11 makes the kernel move to (4, 3).
    page.mouse.click(*cell_center(page, "attn-heatmap", 5, hosts.MOVE_ON_KEY, nth=0))
    wait_for(page, lambda: selection(root) == [*hosts.MOVED_TO, 5, hosts.MOVE_ON_KEY], "the kernel's own move to layer 4, head 3")
    shown(0, "4,3").wait_for(state="attached", timeout=30_000)
    assert outline_at(page, *hosts.MOVED_TO) and not outline_at(page, 2, 1)
    assert f"weight {format(float(short[4, 3, 5, 11]), '.3g')}" in hover(page, "attn-heatmap", 5, 11, 0)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / f"host-{host['name']}.png"))

    # A long input fetches its heads: 16 MB stay in the kernel, the view asks for tiles.
    heatmap = page.locator("[data-testid=attn-heatmap]").nth(1)
    shown(1, "1,0").wait_for(state="attached", timeout=60_000)
    check_pooled_tooltip(hover(page, "attn-heatmap", 700, 300, 1), long[1, 0], 700, 300)
    page.mouse.click(*cell_center(page, "attn-grid", 0, 1, nth=1))
    shown(1, "0,1").wait_for(state="attached", timeout=60_000)
    heatmap.and_(page.locator("[data-complete=true]")).wait_for(state="attached", timeout=60_000)
    check_pooled_tooltip(hover(page, "attn-heatmap", 1000, 12, 1), long[0, 1], 1000, 12)

    # No errors of ours, and nothing but the host's own noise.
    unexpected = [p for p in problems if not any(re.search(n, p.split(": ", 1)[1]) for n in HOST_NOISE[host["name"]])]
    assert unexpected == [], unexpected
