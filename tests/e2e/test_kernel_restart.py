"""A kernel that restarts under a displayed widget (JupyterLab, real kernel): the view asks for a
head, nothing answers, and within seconds the heatmap says that the head needs a running kernel;
hovers keep answering with what the page holds, and the page raises no error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.lab import jupyter_lab, open_and_run_all, restart_kernel, write_notebook
from tests.support.widget_page import cell_center

pytestmark = pytest.mark.e2e

LAZY = """import numpy as np
from attn_widget import AttentionWidget
rng = np.random.default_rng(1)
x = rng.standard_normal((2, 2, 256, 256)).astype(np.float32)
a = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
w = AttentionWidget(a, [f"t{i}" for i in range(256)], eager_bytes=0)
w"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lab-restart")
    write_notebook(root / "restart.ipynb", [LAZY])
    with jupyter_lab(root) as url:
        yield url


def test_a_restarted_kernel_is_named_within_seconds_and_hovers_keep_working(lab: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_and_run_all(page, lab, "restart.ipynb")
        root = page.locator("[data-testid=attn-widget][data-head-shown='0,0']")
        root.wait_for(state="attached", timeout=120_000)

        restart_kernel(page)  # the old kernel's comm is closed: the page can no longer send on it

        page.locator("[data-testid=attn-grid]").scroll_into_view_if_needed()
        page.mouse.click(*cell_center(page, "attn-grid", 1, 1))  # a head the page does not hold
        page.wait_for_function(
            "() => (document.querySelector('[data-testid=attn-heatmap]').dataset.status || '').includes('needs a running kernel')",
            timeout=15_000,
        )
        status = page.locator("[data-testid=attn-heatmap]").get_attribute("data-status") or ""
        # JupyterLab refuses to send on the old kernel's comm: the view says so at once
        assert "the kernel cannot be reached" in status and "rerun the cell" in status, status
        page.mouse.move(*cell_center(page, "attn-grid", 0, 1))
        tip = page.locator("[data-testid=attn-tooltip]").first
        tip.wait_for(state="visible", timeout=5_000)
        assert "layer 0 · head 1" in (tip.text_content() or "")
        assert errors == [], errors
    finally:
        context.close()
