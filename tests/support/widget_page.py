"""Reading and driving a displayed widget in Chromium through its testability contract
(data-testid, data-plot, data-rows, data-cols): where a cell is, what the tooltip says, whether the
grid outlines a head. Shared by the browser, end-to-end and host tests."""

from __future__ import annotations

import pathlib
from typing import Any


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


def shift_drag_rows(page: Any, first: int, last: int, steps: int = 5) -> None:
    """Hold Shift and drag down the heatmap's column 0 from query row ``first`` to ``last``."""
    x, y0 = cell_center(page, "attn-heatmap", first, 0)
    _, y1 = cell_center(page, "attn-heatmap", last, 0)
    page.keyboard.down("Shift")
    page.mouse.move(x, y0)
    page.mouse.down()
    page.mouse.move(x, y1, steps=steps)
    page.mouse.up()
    page.keyboard.up("Shift")


def wheel(page: Any, delta_y: float, times: int = 1) -> None:
    """Turn the wheel ``times`` by ``delta_y`` where the pointer is, and wait until the page has
    handled every turn: Playwright's wheel returns before that, and Chromium may merge turns into
    one event, so the deltas that arrived are added up rather than the events counted."""
    page.evaluate(
        """() => {
          window.__wheeled = 0;
          if (!window.__wheelCounted) {  // on the window, capturing: it runs before the views' own
            window.__wheelCounted = true;
            addEventListener('wheel', (e) => { window.__wheeled += e.deltaY; }, {capture: true, passive: true});
          }
        }"""
    )
    for _ in range(times):
        page.mouse.wheel(0, delta_y)
    page.wait_for_function("(total) => window.__wheeled === total", arg=delta_y * times)


def tooltip_text(page: Any) -> str:
    tip = page.locator("[data-testid=attn-tooltip]").first
    tip.wait_for(state="visible")
    return tip.text_content() or ""


def kernel_synced(page: Any) -> None:
    """Wait until Python has handled every message the page sent (a click returns before that),
    and the page has applied Python's answers (the harness's fake model counts the calls)."""
    page.wait_for_function("() => (window.__inflight ?? 0) === 0")


def next_frame(page: Any) -> None:
    """Wait for the page's next animation frame. The views draw in requestAnimationFrame, and
    callbacks run in the order they were asked for: whatever a change that already happened
    scheduled (a redraw, the tile requests it sends, the data-* attributes it sets) is done."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")


def head_shown(page: Any, layer: int, head: int, nth: int = 0) -> None:
    """Wait until view ``nth`` shows every tile of head (layer, head) in the state the page has
    now. data-head-shown is set when the heatmap draws: after a change that keeps the head (the
    quantity, the kind), the attribute still names it until the next draw, so wait for that first."""
    next_frame(page)
    page.locator("[data-testid=attn-widget]").nth(nth).and_(page.locator(f"[data-head-shown='{layer},{head}']")).wait_for(
        state="attached"
    )


def tiles_answered(page: Any, request: str) -> None:
    """Wait until the page has asked for a tile matching ``request`` (a JavaScript predicate on
    the request message), Python has answered everything asked so far, and the views have drawn
    the answers. For views with no data-complete of their own (the track)."""
    page.wait_for_function(f"() => window.__views.some((v) => v.model.sent.some({request}))")
    kernel_synced(page)
    next_frame(page)


def outline_at(page: Any, layer: int, head: int, nth: int = 0) -> bool:
    """True when the grid draws the selection outline (#ff2a6d) around cell (layer, head)."""
    x, y = cell_center(page, "attn-grid", layer, head, nth)
    # through a locator, not document.querySelector: hosts such as marimo draw widgets in a shadow root
    return (
        page.locator("[data-testid=attn-grid]")
        .nth(nth)
        .evaluate(
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
    )


def save(page: Any, w: Any, path: pathlib.Path, **kwargs: Any) -> pathlib.Path:
    """w.save, then let the page receive the request (the fake model pulls what Python sent) and
    wait until the view has sent its last chunk (or its error) and Python has taken it."""
    job = w.save(path, **kwargs)
    page.evaluate("() => window.__views[0].model.pull()")
    page.wait_for_function(
        """(id) => window.__views[0].model.sent.some((m) => m.type === 'export-chunk' && m.id === id
             && ('error' in m || m.index === m.count - 1))""",
        arg=job.request["id"],
    )
    kernel_synced(page)  # Playwright delivers the page's calls to Python while it waits here
    return job.result(timeout=0)


def patch_center(page: Any, box: Any, nth: int = 0, at: tuple[float, float] = (0.5, 0.5)) -> tuple[float, float]:
    """Page coordinates of a point of a patch box (x0, y0, x1, y1 in the ORIGINAL picture's
    pixels, end exclusive) on the image panel, from its data-plot and data-image-size: ``at`` is
    where inside the box, (0.5, 0.5) its centre."""
    canvas = page.locator("[data-testid=attn-image]").nth(nth)
    canvas.scroll_into_view_if_needed()  # a narrow widget puts the panel under the heatmap
    attrs = canvas.evaluate("c => ({plot: c.dataset.plot, size: c.dataset.imageSize, box: c.getBoundingClientRect().toJSON()})")
    x, y, w, h = (float(v) for v in attrs["plot"].split(","))
    width, height = (float(v) for v in attrs["size"].split(","))
    x0, y0, x1, y1 = (float(v) for v in box[2:6]) if len(box) == 6 else (float(v) for v in box)
    return (
        attrs["box"]["x"] + x + (x0 + at[0] * (x1 - x0)) * w / width,
        attrs["box"]["y"] + y + (y0 + at[1] * (y1 - y0)) * h / height,
    )


def canvas_rgb(page: Any, testid: str, x: float, y: float, nth: int = 0) -> tuple[int, int, int]:
    """The colour a view's canvas has at page point (x, y) (its own pixels, not what lies over it)."""
    rgb = (
        page.locator(f"[data-testid={testid}]")
        .nth(nth)
        .evaluate(
            """(c, [x, y]) => {
          const b = c.getBoundingClientRect();
          const dpr = c.width / b.width;
          const d = c.getContext('2d').getImageData(Math.floor((x - b.x) * dpr), Math.floor((y - b.y) * dpr), 1, 1).data;
          return [d[0], d[1], d[2]];
        }""",
            [x, y],
        )
    )
    return (int(rgb[0]), int(rgb[1]), int(rgb[2]))


def image_drawn(page: Any, nth: int = 0, **attrs: Any) -> None:
    """Wait until the image panel has drawn its picture with numbers on it and its data-* say
    ``attrs`` (row=5, shows="preview", view=1, ...): a draw happens in the next frame."""
    next_frame(page)
    selector = "".join(f"[data-{k.replace('_', '-')}='{v}']" for k, v in {"complete": "true", **attrs}.items())
    page.locator("[data-testid=attn-image]").nth(nth).and_(page.locator(selector)).wait_for(state="attached")
