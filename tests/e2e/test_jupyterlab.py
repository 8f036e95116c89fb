"""JupyterLab with a real kernel: a click in the widget changes w.layer / w.head in the kernel, and
setting them in Python moves the outline. Saves a screenshot to test-results/."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.lab import jupyter_lab, open_and_run_all, wait_for, write_notebook
from tests.support.widget_page import cell_center, outline_at, shift_drag_rows

pytestmark = pytest.mark.e2e
ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"

SETUP = """import json, pathlib
from attn_widget import demo
w = demo()
log = pathlib.Path("selection.json")
w.observe(lambda change: log.write_text(json.dumps([w.layer, w.head, w.query, w.key])),
          names=["layer", "head", "query", "key"])
w.observe(lambda change: pathlib.Path("queries.json").write_text(json.dumps(w.queries)), names=["queries"])
w"""
SET_FROM_PYTHON = "w.layer, w.head = 4, 7"
SET_QUERIES = "w.queries = [1, 4]"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("lab")
    write_notebook(root / "e2e.ipynb", [SETUP, SET_FROM_PYTHON, SET_QUERIES])
    with jupyter_lab(root) as url:
        yield {"url": url, "root": root}


def _selection(root: pathlib.Path) -> list[int] | None:
    try:
        return json.loads((root / "selection.json").read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def lab_notebook(browser: Any, url: str, notebook: str, height: int) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page with ``notebook`` run to the end and its widget drawn; the page's errors."""
    context = browser.new_context(viewport={"width": 1400, "height": height})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_and_run_all(page, url, notebook)
        page.locator("[data-testid=attn-widget][data-ready=true]").wait_for(timeout=120_000)
        yield page, errors
    finally:
        context.close()


def test_click_reaches_the_kernel_and_python_moves_the_outline(lab: dict[str, Any], browser: Any) -> None:
    RESULTS.mkdir(exist_ok=True)
    with lab_notebook(browser, lab["url"], "e2e.ipynb", 1000) as (page, errors):
        # The second cell set layer 4, head 7 from Python: the heatmap shows that head.
        page.locator("[data-head-shown='4,7']").wait_for(state="attached", timeout=60_000)
        wait_for(lambda: _selection(lab["root"]) == [4, 7, -1, -1], 30, "the kernel's own change to be logged")

        page.locator("[data-testid=attn-grid]").scroll_into_view_if_needed()
        page.mouse.click(*cell_center(page, "attn-grid", 2, 5))
        wait_for(lambda: (_selection(lab["root"]) or [])[:2] == [2, 5], 30, "w.layer, w.head == 2, 5 in the kernel")
        page.locator("[data-head-shown='2,5']").wait_for(state="attached", timeout=30_000)

        page.mouse.click(*cell_center(page, "attn-heatmap", 3, 1))
        wait_for(lambda: _selection(lab["root"]) == [2, 5, 3, 1], 30, "w.query, w.key == 3, 1 in the kernel")
        page.mouse.move(*cell_center(page, "attn-heatmap", 3, 1))
        page.locator("[data-testid=attn-tooltip]").wait_for(state="visible")
        page.screenshot(path=str(RESULTS / "jupyterlab-demo.png"))

        # Python sets the head again: the outline and the heatmap follow.
        page.locator(".jp-Cell").nth(1).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        page.locator("[data-head-shown='4,7']").wait_for(state="attached", timeout=30_000)
        wait_for(lambda: (_selection(lab["root"]) or [])[:2] == [4, 7], 30, "the kernel's second change")
        assert outline_at(page, 4, 7) and not outline_at(page, 2, 5)
        assert errors == [], errors


def test_query_spans_sync_both_ways_in_a_real_kernel(lab: dict[str, Any], browser: Any) -> None:
    """Python's w.queries reaches the heatmap; a shift-drag in the page reaches w.queries."""
    with lab_notebook(browser, lab["url"], "e2e.ipynb", 1000) as (page, errors):
        heatmap = page.locator("[data-testid=attn-heatmap]")
        page.wait_for_function("h => h.dataset.queries === '1,4'", arg=heatmap.element_handle(), timeout=30_000)
        heatmap.scroll_into_view_if_needed()
        shift_drag_rows(page, 2, 6, steps=6)
        wait_for(lambda: _read(lab["root"] / "queries.json") == [2, 3, 4, 5, 6], 30, "w.queries == [2..6] in the kernel")
        page.wait_for_function(
            "() => document.querySelector('.attn-caption').textContent.startsWith('mean attention from queries 2–6')",
            timeout=30_000,
        )
        assert errors == [], errors


def _read(path: pathlib.Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


GROUNDING = """from attn_widget import AttentionWidget
from attn_widget.grounding import load_grounding_model, spans
model, tokenizer = load_grounding_model()
text = "<CHI> painted a picture of a horse <CHI> my favorite animal is the"
g = AttentionWidget.from_model(model, tokenizer, text, saliency=True, target="horse",
                               spans=spans(text.split()), ig_steps=1024)
g"""


@pytest.fixture(scope="module")
def grounding_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("lab-grounding")
    write_notebook(root / "grounding.ipynb", [GROUNDING])
    with jupyter_lab(root) as url:
        yield {"url": url, "root": root}


def test_saliency_recomputation_shows_progress_and_the_widget_stays_responsive(
    grounding_lab: dict[str, Any], browser: Any
) -> None:
    """A slow recomputation in a real kernel (integrated gradients, 1024 steps): the toolbar says
    so at once, hovering still answers meanwhile, and the new numbers arrive."""
    with lab_notebook(browser, grounding_lab["url"], "grounding.ipynb", 1100) as (page, errors):
        page.locator("[data-testid=attn-strip-method]").select_option("integrated_gradients")
        page.locator("[data-testid=attn-widget][data-busy=true]").wait_for(state="attached", timeout=30_000)
        # busy and the status line are two messages from the kernel: the second may still be on its way
        expect(page.locator("[data-testid=attn-status]")).to_contain_text("computing integrated gradients")
        page.mouse.move(*cell_center(page, "attn-heatmap", 12, 6))  # the page answers while the kernel works
        tip = page.locator("[data-testid=attn-tooltip]")
        tip.wait_for(state="visible", timeout=2_000)
        assert 'key 6 "horse"' in tip.text_content()
        page.locator("[data-testid=attn-widget][data-busy=false]").wait_for(state="attached", timeout=120_000)
        # the new vector came before busy ended; the caption is written when the strip next draws
        caption = page.locator(".attn-caption")
        expect(caption).to_contain_text("completeness gap")
        assert (caption.text_content() or "").startswith("integrated gradients (1024 steps"), caption.text_content()
        assert errors == [], errors
