"""Chromium (Debian's, never a downloaded one) driving the built bundle with a fake model.

Pages are served from disk through ``page.route`` (no server process). A real Python
AttentionWidget stands behind the fake model (tests/support/fake_kernel.py), so clicks reach
Python traits and the numbers Python computed are what the tooltips must show.
"""

from __future__ import annotations

import pathlib
from typing import Any, Callable, Iterator

import pytest

from tests.support.chromium import ORIGIN, serve
from tests.support.fake_kernel import Bridge, initial_state, use_recording_comms


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def page(browser: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_recording_comms(monkeypatch)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda err: errors.append(str(err)))
    pg.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    pg.route(f"{ORIGIN}/**", serve)
    pg.goto(f"{ORIGIN}/harness.html")
    pg.page_errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert errors == [], f"errors in the page: {errors}"


@pytest.fixture
def mount(page: Any) -> Callable[..., int]:
    """Display a Python widget in the page; returns the view index. Clicks reach the widget.

    One widget per page: the page's fake model talks to the most recently mounted widget."""
    bridges: list[Bridge] = []

    def _mount(widget: Any, *, width: int = 1000, offset: int = 6, dark: bool = False) -> int:
        if not bridges:
            page.expose_function("kernel", lambda kind, payload: bridges[-1](kind, payload))
        if not bridges or bridges[-1].widget is not widget:
            bridges.append(Bridge(widget))
        if dark:
            page.evaluate("document.body.classList.add('dark')")
        options = {"width": width, "offset": offset, "bridge": True}
        index = page.evaluate("([s, o]) => window.mount(s, o)", [initial_state(widget), options])
        root = page.locator("[data-testid=attn-widget]").nth(index)
        root.and_(page.locator("[data-ready=true]")).wait_for(state="attached")
        return index

    return _mount


def cell_center(page: Any, testid: str, row: int, col: int, nth: int = 0) -> tuple[float, float]:
    """Page coordinates of the centre of cell (row, col) from the canvas's data-plot contract."""
    canvas = page.locator(f"[data-testid={testid}]").nth(nth)
    attrs = canvas.evaluate(
        "c => ({plot: c.dataset.plot, rows: +c.dataset.rows, cols: +c.dataset.cols,"
        " row0: +(c.dataset.row0 || 0), col0: +(c.dataset.col0 || 0), box: c.getBoundingClientRect().toJSON()})"
    )
    x, y, w, h = (float(v) for v in attrs["plot"].split(","))
    r, c = row - attrs["row0"], col - attrs["col0"]
    assert 0 <= r < attrs["rows"] and 0 <= c < attrs["cols"], f"cell ({row}, {col}) is not visible"
    return (
        attrs["box"]["x"] + x + (c + 0.5) * w / attrs["cols"],
        attrs["box"]["y"] + y + (r + 0.5) * h / attrs["rows"],
    )


def tooltip_text(page: Any) -> str:
    tip = page.locator("[data-testid=attn-tooltip]").first
    tip.wait_for(state="visible")
    return tip.text_content() or ""


def kernel_synced(page: Any) -> None:
    """Wait until Python has handled every message the page sent (a click returns before that)."""
    page.wait_for_function("() => (window.__inflight ?? 0) === 0")


def outline_at(page: Any, layer: int, head: int, nth: int = 0) -> bool:
    """True when the grid draws the selection outline (#ff2a6d) around cell (layer, head)."""
    x, y = cell_center(page, "attn-grid", layer, head, nth)
    # through a locator, not document.querySelector: hosts such as marimo draw widgets in a shadow root
    return page.locator("[data-testid=attn-grid]").nth(nth).evaluate(
        """(c, [x, y]) => {
          const b = c.getBoundingClientRect();
          const cell = Number(c.dataset.plot.split(',')[2]) / Number(c.dataset.cols);
          const dpr = c.width / b.width;
          // the outline is drawn just outside the cell: sample 2 px left of its left edge
          const d = c.getContext('2d').getImageData(Math.floor((x - b.x - cell / 2 - 2) * dpr), Math.round((y - b.y) * dpr), 1, 1).data;
          return d[0] > 200 && d[1] < 90 && d[2] > 60 && d[2] < 160;
        }""",
        [x, y],
    )
