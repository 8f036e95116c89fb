"""Debian's Chromium for tests and benchmarks (never a downloaded browser), and the harness page:
the built bundle plus a fake model, served from disk through Playwright's routing."""

from __future__ import annotations

import os
import pathlib
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "browser" / "harness.html"
FAKE_MODEL = ROOT / "tests" / "browser" / ".build" / "fake_model.js"  # npm run build:test (scripts/setup runs it)
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


def launch(playwright: Any, extra_args: list[str] | None = None) -> Any:
    """Headless Debian Chromium with the flags a closed network needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + (extra_args or []), headless=True)


def serve(route: Any) -> None:
    """Answer the harness page and the built bundle from disk (route this for ORIGIN/**)."""
    path = route.request.url[len(ORIGIN) :].split("?")[0]
    if path == "/harness.html":
        route.fulfill(path=str(HARNESS), content_type="text/html")
    elif path == "/harness/fake_model.js":
        route.fulfill(path=str(FAKE_MODEL), content_type="text/javascript")
    elif path.startswith("/static/") and (STATIC / path[len("/static/") :]).is_file():
        kind = "text/javascript" if path.endswith(".js") else "text/css"
        route.fulfill(path=str(STATIC / path[len("/static/") :]), content_type=kind)
    else:
        route.fulfill(status=404, body="not found")
