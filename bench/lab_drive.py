"""Driving a widget in a live JupyterLab the way a reader would, timed in the page: head switches
from the grid, pointer sweeps over the heatmap, wheel zooms and drag pans. Shared by the long-input
benchmarks (long_context.py, live_generation_long.py); each call returns milliseconds."""

from __future__ import annotations

import random
from typing import Any

from tests.support.widget_page import cell_center

PROBE = """() => {
  // Attribute changes, timestamped: when the grid, the heatmap tiles and the tooltip update.
  window.__t = { grid: 0 };
  const root = document.querySelector('[data-testid=attn-widget]');
  const heat = root.querySelector('[data-testid=attn-heatmap]');
  new MutationObserver(() => { if (!window.__t.grid) window.__t.grid = Date.now(); })
    .observe(root.querySelector('[data-testid=attn-grid]'), { attributes: true });
  if (root.querySelector('[data-testid=attn-grid]').dataset.plot) window.__t.grid = window.__t.grid || Date.now();
  window.__first = (key, since) => new Promise((resolve) => {
    // the new head's first picture: its coarse stand-in tile, or the full level
    const seen = () => root.dataset.headPreview === key || root.dataset.headShown === key;
    if (seen()) return resolve(performance.now() - since);
    const mo = new MutationObserver(() => { if (seen()) { mo.disconnect(); resolve(performance.now() - since); } });
    mo.observe(root, { attributes: true });
  });
  window.__complete = (since) => new Promise((resolve) => {
    const check = () => {
      if (heat.dataset.complete === 'true' && root.dataset.headShown) {
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - since)));
        return true;
      }
      return false;
    };
    if (check()) return;
    const mo = new MutationObserver(() => { if (check()) mo.disconnect(); });
    mo.observe(heat, { attributes: true });
    mo.observe(root, { attributes: true });
  });
}"""


def switch_times(page: Any, rng: random.Random, count: int) -> tuple[list[float], list[float]]:
    """Click ``count`` random grid cells: (overview, first picture) ms for each head switched to.
    Overview: every tile of the level drawn (plus two frames); first picture: a coarse stand-in."""
    root = page.locator("[data-testid=attn-widget]")
    grid = page.locator("[data-testid=attn-grid]")
    layers, heads = int(grid.get_attribute("data-rows") or 1), int(grid.get_attribute("data-cols") or 1)
    overview, first_picture = [], []
    for _ in range(count):
        layer, head = rng.randrange(layers), rng.randrange(heads)
        if root.get_attribute("data-head-shown") == f"{layer},{head}":
            continue
        x, y = cell_center(page, "attn-grid", layer, head)
        page.mouse.move(x, y)
        t0 = page.evaluate("() => performance.now()")
        page.evaluate("([k, t0]) => { window.__firstP = window.__first(k, t0); }", [f"{layer},{head}", t0])
        page.mouse.click(x, y)
        first_picture.append(page.evaluate("() => window.__firstP"))
        page.wait_for_function(
            "k => document.querySelector('[data-testid=attn-widget]').dataset.headShown === k",
            arg=f"{layer},{head}",
            timeout=120_000,
        )
        overview.append(page.evaluate("t0 => window.__complete(t0)", t0))
        page.wait_for_timeout(300)
    return overview, first_picture


def hover_times(page: Any, px: float, py: float, count: int) -> list[float]:
    """Pointer moves around (px, py) (event timestamp -> tooltip text changed); needs widget_bench's
    HOVER_PROBE in the page."""
    page.evaluate("() => { window.__hover.event = []; window.__hover.handler = []; }")
    for i in range(count):
        page.mouse.move(px + (i % 40) - 20, py + (i % 7) * 3 - 9)
    page.wait_for_timeout(50)
    return page.evaluate("() => window.__hover.event")


def zoom_times(page: Any, heat: Any, zooms: int) -> list[float]:
    """Wheel zooms at the pointer down to single cells (block 1, at most 60 rows): each new view
    until every tile of it is drawn."""
    zoom_ms = []

    def one() -> None:
        t0 = page.evaluate("() => performance.now()")
        page.mouse.wheel(0, -500)
        zoom_ms.append(page.evaluate("t0 => window.__complete(t0)", t0))

    for _ in range(zooms):
        one()
        if int(heat.get_attribute("data-block") or 1) == 1 and int(heat.get_attribute("data-rows") or 99) <= 40:
            break
    while int(heat.get_attribute("data-block") or 1) > 1 or int(heat.get_attribute("data-rows") or 0) > 60:
        one()
    return zoom_ms


def pan_times(page: Any, px: float, py: float, count: int = 6) -> list[float]:
    """Drag-pans by about a third of the plot, back and forth: each new view until drawn."""
    pan_ms = []
    for i in range(count):
        page.mouse.move(px, py)
        page.mouse.down()
        t0 = page.evaluate("() => performance.now()")
        page.mouse.move(px - 200 if i % 2 == 0 else px, py - 150 if i % 2 == 0 else py, steps=4)
        page.mouse.up()
        pan_ms.append(page.evaluate("t0 => window.__complete(t0)", t0))
    return pan_ms
