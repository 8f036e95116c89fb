"""JupyterLab with a real kernel, driven by the keyboard alone once the focus is in the widget: Tab
walks grid -> heatmap -> strip, the arrows and Enter change w.head, w.query and w.key in the
kernel, and typing in the search box sets w.search without setting off the notebook's own
shortcuts; axe-core finds no serious or critical violation in the widget. Saves screenshots to
test-results/."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_jupyterlab import lab_notebook
from tests.support.axe import serious_violations
from tests.support.lab import jupyter_lab, wait_for, write_notebook

pytestmark = pytest.mark.e2e
ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"

SETUP = """import json, pathlib
from attn_widget import demo
w = demo()
log = pathlib.Path("keys.json")
w.observe(lambda change: log.write_text(json.dumps([w.layer, w.head, w.query, w.key, w.search])),
          names=["layer", "head", "query", "key", "search"])
w"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("lab-keys")
    write_notebook(root / "keys.ipynb", [SETUP])
    with jupyter_lab(root) as url:
        yield {"url": url, "root": root}


def _state(root: pathlib.Path) -> list[Any] | None:
    try:
        return json.loads((root / "keys.json").read_text())
    except (OSError, ValueError):
        return None


def _active(page: Any) -> str:
    return page.evaluate("() => document.activeElement?.dataset?.testid ?? document.activeElement?.tagName ?? ''")


def _press(page: Any, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def test_the_keyboard_alone_walks_grid_heatmap_strip_and_reaches_the_kernel(lab: dict[str, Any], browser: Any) -> None:
    RESULTS.mkdir(exist_ok=True)
    root = lab["root"]
    with lab_notebook(browser, lab["url"], "keys.ipynb", 1100) as (page, errors):
        page.locator("[data-head-shown='0,0']").wait_for(state="attached", timeout=60_000)
        cells = page.locator(".jp-Cell").count()
        # Into the widget: focus its search box (the toolbar's last control), as a Tab from the
        # notebook would after many stops through Lab's own chrome; from here on keys only.
        page.locator("[data-testid=attn-search]").focus()
        page.keyboard.type("the")
        wait_for(lambda: (_state(root) or [None] * 5)[4] == "the", 30, "w.search == 'the' in the kernel")
        assert page.locator("[data-testid=attn-search-count]").text_content() != "no match"

        _press(page, "Tab")
        assert _active(page) == "attn-grid"
        _press(page, "ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight", "ArrowRight", "Enter")
        wait_for(lambda: (_state(root) or [])[:2] == [2, 3], 30, "w.layer, w.head == 2, 3 in the kernel")
        page.locator("[data-head-shown='2,3']").wait_for(state="attached", timeout=30_000)
        assert page.locator("[data-testid=attn-live]").text_content().startswith("layer 2, head 3")

        _press(page, "Tab")
        assert _active(page) == "attn-heatmap"
        _press(page, "ArrowDown", "ArrowDown", "ArrowDown", "ArrowRight", "Enter")
        wait_for(lambda: (_state(root) or [])[:4] == [2, 3, 3, 1], 30, "w.query, w.key == 3, 1 in the kernel")
        assert page.locator("[data-testid=attn-live]").text_content().startswith("query 3 ")

        _press(page, "Tab")
        assert _active(page) == "attn-strip"
        _press(page, "ArrowRight", "ArrowRight", "Enter")
        wait_for(lambda: (_state(root) or [])[:4] == [2, 3, 3, 3], 30, "w.key == 3 in the kernel")
        tip = page.locator("[data-testid=attn-tooltip]")
        tip.wait_for(state="visible")
        assert "key 3 " in (tip.text_content() or "")
        page.screenshot(path=str(RESULTS / "jupyterlab-keyboard.png"))
        page.locator("[data-testid=attn-widget]").screenshot(path=str(RESULTS / "jupyterlab-keyboard-widget.png"))
        bad = serious_violations(page)  # in Lab's light theme, its colours and fonts
        assert bad == [], bad
        _press(page, "Escape")
        wait_for(lambda: (_state(root) or [])[:4] == [2, 3, 3, -1], 30, "Escape: w.key == -1 in the kernel")

        # none of these keys reached the notebook: no cell was added
        assert page.locator(".jp-Cell").count() == cells

        # Lab's dark theme: still no serious or critical violation, and the focus ring shows
        page.get_by_role("menuitem", name="Settings", exact=True).click()
        # Lumino gives a submenu's item no role: found by its label, opened by hovering
        page.locator(".lm-Menu-item", has_text=re.compile(r"^Theme$")).hover()
        page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
        page.locator("[data-testid=attn-search]").focus()
        _press(page, "Tab", "Tab", "ArrowDown")
        assert _active(page) == "attn-heatmap"
        ring = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineColor]; }"
        )
        assert ring[0] == "solid", ring
        bad = serious_violations(page)
        assert bad == [], bad
        page.locator("[data-testid=attn-widget]").screenshot(path=str(RESULTS / "jupyterlab-keyboard-dark.png"))
        assert errors == [], errors
