"""JupyterLab with a real kernel: a tiny random ViT on scikit-learn's sample photograph. Hovering
a patch of the image panel shows the weight Python computed, and clicking it sets w.query in the
kernel (the kernel writes what it holds to files the test reads)."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.lab import jupyter_lab, open_and_run_all, wait_for, write_notebook
from tests.support.widget_page import patch_center

pytestmark = pytest.mark.e2e
ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"

SETUP = """import json, pathlib
from attn_widget import AttentionWidget, capture
from tests.support.vision_models import sample_image, tiny_vision
model, processor = tiny_vision("vit")
c = capture(model, processor, images=sample_image())
w = AttentionWidget.from_capture(c, layer=1, head=2)
last = w.n_tokens - 1
pathlib.Path("expected.json").write_text(json.dumps(
    {"patches": c.patches("vision").tolist(), "row": c.attention(1, 2, "vision")[last].tolist(), "last": last,
     "labels": w.tokens}))
w.observe(lambda change: pathlib.Path("query.json").write_text(json.dumps(w.query)), names=["query"])
w"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("lab-image")
    write_notebook(root / "image.ipynb", [SETUP])
    with jupyter_lab(root) as url:
        yield {"url": url, "root": root}


def _read(path: pathlib.Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def test_patch_hover_shows_pythons_weight_and_a_click_sets_w_query(lab: dict[str, Any], browser: Any) -> None:
    RESULTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_and_run_all(page, lab["url"], "image.ipynb")
        page.locator("[data-testid=attn-image][data-complete=true]").wait_for(state="attached", timeout=120_000)
        expected = _read(lab["root"] / "expected.json")
        assert expected is not None
        for patch in [expected["patches"][i] for i in (0, 6, 15)]:
            page.mouse.move(*patch_center(page, patch))
            tip = page.locator("[data-testid=attn-tooltip]")
            page.wait_for_function(
                "(t) => document.querySelector('[data-testid=attn-tooltip]').textContent.includes(`token ${t} ·`)",
                arg=patch[0],
            )
            first = (tip.text_content() or "").split("\n")[0]
            row, col = re.search(r"r(\d+) c(\d+)>$", expected["labels"][patch[0]]).groups()
            weight = format(expected["row"][patch[0]], ".3g")
            assert first == f"patch (row {row}, col {col}) · token {patch[0]} · weight {weight}", first
        page.screenshot(path=str(RESULTS / "jupyterlab-image-panel.png"))
        patch = expected["patches"][9]
        page.mouse.click(*patch_center(page, patch))
        wait_for(lambda: _read(lab["root"] / "query.json") == patch[0], 30, f"w.query == {patch[0]} in the kernel")
        page.locator(f"[data-testid=attn-image][data-row='{patch[0]}'][data-complete=true]").wait_for(state="attached")
        assert errors == [], errors
    finally:
        context.close()
