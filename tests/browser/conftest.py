"""Chromium (Debian's, never a downloaded one) driving the built bundle with a fake model.

Pages are served from disk through ``page.route`` (no server process). A real Python
AttentionWidget stands behind the fake model (tests/support/fake_kernel.py), so clicks reach
Python traits and the numbers Python computed are what the tooltips must show.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, Callable, Iterator

import pytest

from tests.support.fake_kernel import Bridge, initial_state, use_recording_comms

ROOT = pathlib.Path(__file__).resolve().parents[2]
HARNESS = pathlib.Path(__file__).with_name("harness.html")
STATIC = ROOT / "attn_widget" / "static"
CHROMIUM = os.environ.get("ATTN_WIDGET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--force-device-scale-factor=1",
    "--font-render-hinting=none",
]
ORIGIN = "http://widget.test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not pathlib.Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (scripts/test does)")
    if not (STATIC / "widget.js").exists():
        pytest.fail("attn_widget/static/widget.js is missing: run `npm run build` first")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


def _serve(route: Any) -> None:
    path = route.request.url[len(ORIGIN):].split("?")[0]
    if path == "/harness.html":
        route.fulfill(path=str(HARNESS), content_type="text/html")
    elif path.startswith("/static/") and (STATIC / path[len("/static/"):]).is_file():
        kind = "text/javascript" if path.endswith(".js") else "text/css"
        route.fulfill(path=str(STATIC / path[len("/static/"):]), content_type=kind)
    else:
        route.fulfill(status=404, body="not found")


@pytest.fixture
def page(browser: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_recording_comms(monkeypatch)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda err: errors.append(str(err)))
    pg.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    pg.route(f"{ORIGIN}/**", _serve)
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
