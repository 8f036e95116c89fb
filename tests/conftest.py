import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.chromium import CHROMIUM, FAKE_MODEL, STATIC, launch

# A missing model must fail in seconds, not wait on a hub that is not there.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("ANYWIDGET_HMR", None)


@pytest.fixture
def recording(monkeypatch):
    """Widgets created in the test record their comm traffic instead of needing a kernel."""
    from tests.support.fake_kernel import use_recording_comms

    use_recording_comms(monkeypatch)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run (browser and e2e tests share it: Playwright's sync
    API allows one instance per thread)."""
    from playwright.sync_api import sync_playwright

    if not pathlib.Path(CHROMIUM).exists():
        why = f"Chromium not found at {CHROMIUM}: apt-get install chromium (./scripts/test does)"
        if os.environ.get("ATTN_REQUIRE_BROWSER") == "1":  # ./scripts/test: a missing browser is a failure
            pytest.fail(why)
        pytest.skip(why)
    if not FAKE_MODEL.exists():
        pytest.fail(f"{FAKE_MODEL} is missing: run `npm run build:test` (scripts/setup does)")
    if not (STATIC / "widget.js").exists():
        pytest.fail("attn_widget/static/widget.js is missing: run `npm run build` first")
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
