"""Chromium (Debian's, never a downloaded one) driving the built bundle with a fake model.

Pages are served from disk through ``page.route`` (no server process). A real Python
AttentionWidget stands behind the fake model (tests/support/fake_kernel.py), so clicks reach
Python traits and the numbers Python computed are what the tooltips must show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

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


@pytest.fixture
def offline_page(browser):
    """Open a file:// URL in a context with the network off; fails the test on any page error,
    dialog, or request that is not the file itself (or the page's own blob: bundle)."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    context.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())  # and nothing answers if it tried
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: r.url.startswith(("file:", "blob:", "data:")) or problems.append(f"request: {r.url}"))

    def open_file(path):
        page.goto(path.as_uri())
        page.locator("[data-testid=attn-widget][data-ready=true]").first.wait_for(state="attached")  # a notebook page has several
        return page

    yield open_file
    context.close()
    assert problems == [], problems
