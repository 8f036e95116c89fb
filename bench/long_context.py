"""Long inputs end to end: a Llama-shaped random model (bench/models.py "llama-long": 4 layers, 8
query heads on 2 key heads, width 256, RoPE) captured at N tokens in a live JupyterLab kernel, the
widget driven in headless Chromium. One row per N with the long-context budgets:

- capture vs a plain SDPA forward of the same model (kernel side);
- widget on screen with estimated grid scores, counted from the end of the capture: Python's
  build time, and the wall-clock time until the grid is drawn in the page;
- heatmap overview after a head switch (click a grid cell -> every tile of the level drawn),
  split into heads the grid worker had not yet refined (cold: one full pass) and ones it had;
- new tiles after a zoom (wheel) or a pan (drag) -> every tile of the new view drawn;
- hover (pointer move -> tooltip text changed, two frames) at the overview and at cell level;
- Python memory beyond the stored queries and keys (peak RSS sampled every 50 ms minus the RSS
  after the capture), the page's JS heap, and the largest message either way.

    .venv/bin/python bench/long_context.py --sizes 8192 32768 --out bench/results/long-context
    .venv/bin/python bench/long_context.py --sizes 1024 --quick   # CI: proves it runs

``--shapes gemma2-long t5-long`` runs the same on the families whose scores are not a plain
softmax of q k^T (bench/models.py: soft-capping and sliding windows; T5's relative position
buckets, whose encoder kind is the one shown), one row per shape and N:

    .venv/bin/python bench/long_context.py --shapes gemma2-long t5-long --sizes 8192 --out bench/results/long-context-families

Budgets are read from the output, not asserted. Screenshots of the view zoomed out and in go
next to the results (``--screenshots``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import sys
import tempfile
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lab_drive import PROBE, hover_times, pan_times, switch_times, zoom_times  # noqa: E402
from tests.support.chromium import launch  # noqa: E402
from tests.support.lab import jupyter_lab, open_and_run_all, write_notebook  # noqa: E402
from tests.support.widget_page import cell_center  # noqa: E402

KERNEL_SETUP = """
import json, os, sys, threading, time
sys.path.insert(0, {root!r})
import torch
from bench.kernel_probe import PeakRSS, record_sends, rss, state_bytes
from bench.models import IdTokenizer, build, decoder_inputs, random_ids
from attn_widget import AttentionWidget  # noqa: E402
from attn_widget.capturing.run import capture_ids

N = {n}
_m = build({shape!r}, N)
_ids = random_ids(N, 32000)
_dec = decoder_inputs(_m, _ids)  # an encoder-decoder's decoder input, as capture makes it
_plain = dict(_ids, **({{}} if _dec is None else {{"decoder_input_ids": _dec[0]}}))
with torch.no_grad():
    _m(**_plain)  # warm-up (allocator, kernels), then time one plain forward (SDPA, or the family's eager)
    _t = time.perf_counter(); _m(**_plain); _sdpa = time.perf_counter() - _t
del _plain
_t = time.perf_counter()
c = capture_ids(_m, IdTokenizer(32000), _ids, decoder=_dec)
_capture = time.perf_counter() - _t
_rss_base = rss()
_capture_end = time.time()
_t = time.perf_counter()
w = AttentionWidget(c)
_build = time.perf_counter() - _t
_peak = PeakRSS()
_sent = record_sends(w)
def _report(path):
    opening = state_bytes(w)
    peak = _peak.stop()
    json.dump({{"sdpa_s": _sdpa, "capture_s": _capture, "build_s": _build, "capture_end": _capture_end,
               "qk_bytes": c.nbytes, "rss_after_capture": _rss_base, "rss_peak": peak,
               "python_beyond_qk_bytes": peak - _rss_base, "opening_message_bytes": opening,
               "largest_reply_bytes": max(_sent, default=0), "replies": len(_sent),
               "grid_progress": list(w.grid_progress)}}, open(path, "w"))
def _watch_cells(ask, answer):
    # the bench hovers cells in the page; the weights Python computes for them, rows recomputed
    from attn_widget.wire.dec3 import format_value
    from bench.exact_rows import exact_rows
    while not os.path.exists(ask):
        time.sleep(0.2)
    cells = json.load(open(ask))
    json.dump([format_value(float(exact_rows(c, l, h, q, q + 1)[0, k])) for l, h, q, k in cells], open(answer + '.part', 'w'))
    os.rename(answer + '.part', answer)
threading.Thread(target=_watch_cells, args=({ask!r}, {answer!r}), daemon=True).start()
def _watch(go, path):
    while not os.path.exists(go):
        time.sleep(0.2)
    _report(path)
threading.Thread(target=_watch, args=({go!r}, {report!r}), daemon=True).start()
w
"""


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def measure(
    browser: Any,
    url: str,
    workdir: pathlib.Path,
    n: int,
    switches: int,
    zooms: int,
    hovers: int,
    shots: pathlib.Path | None,
    shape: str = "llama-long",
) -> dict[str, Any]:
    tag = f"{n}" if shape == "llama-long" else f"{shape}-{n}"
    name = f"long_{tag}.ipynb"
    go, report = workdir / f"report_{tag}.go", workdir / f"report_{tag}.json"
    ask, answer = workdir / f"cells_{tag}.json", workdir / f"cells_{tag}.answer.json"
    write_notebook(
        workdir / name,
        [KERNEL_SETUP.format(root=str(ROOT), n=n, shape=shape, go=str(go), report=str(report), ask=str(ask), answer=str(answer))],
    )
    context = browser.new_context(viewport={"width": 1500, "height": 1300})
    page = context.new_page()
    row: dict[str, Any] = {"n_tokens": n, "shape": shape}
    try:
        open_and_run_all(page, url, name, timeout_ms=900_000)
        page.locator("[data-testid=attn-grid][data-plot]").wait_for(timeout=900_000)
        grid_seen = time.time()
        page.evaluate(PROBE)
        page.locator("[data-testid=attn-widget][data-ready=true]").wait_for(timeout=300_000)
        overview_seen = time.time()
        row["grid_on_screen_wall_s"] = grid_seen  # converted below against the kernel's clock
        row["first_overview_wall_s"] = overview_seen
        if shots:
            page.locator("[data-testid=attn-widget]").screenshot(path=str(shots / f"long-{tag}-first.png"))
        heat = page.locator("[data-testid=attn-heatmap]")

        # head switches: click grid cells. Cold: the grid worker has not refined the head yet (one
        # full pass on the click); warm: once every score is exact, each head's base level is kept.
        import random

        rng = random.Random(7)
        row["switch_cold_ms"], row["switch_first_picture_ms"] = switch_times(page, rng, switches)
        t_refine = time.time()
        page.locator("[data-testid=attn-widget][data-grid-exact=true]").wait_for(state="attached", timeout=900_000)
        row["grid_exact_after_switches_s"] = time.time() - t_refine
        row["switch_warm_ms"], row["switch_warm_first_picture_ms"] = switch_times(page, rng, switches)

        # zoom in towards the bottom-right quarter step by step, then pan, timing each new view
        box = heat.bounding_box()
        plot = [float(v) for v in (heat.get_attribute("data-plot") or "0,0,1,1").split(",")]
        px, py = box["x"] + plot[0] + plot[2] * 0.7, box["y"] + plot[1] + plot[3] * 0.8
        page.mouse.move(px, py)

        from bench.widget_bench import HOVER_PROBE

        page.evaluate(HOVER_PROBE)
        hover_over = hover_times(page, px, py, hovers)
        zoom_ms = zoom_times(page, heat, zooms)
        hover_cell = hover_times(page, px, py, hovers)
        pan_ms = pan_times(page, px, py)
        row.update(zoom_ms=zoom_ms, pan_ms=pan_ms, hover_overview_ms=hover_over, hover_cell_ms=hover_cell)
        heap = context.new_cdp_session(page).send("Runtime.getHeapUsage")
        row["js_heap_bytes"] = heap["usedSize"]
        # the kernel's side of the story
        go.write_text("")  # the kernel's watcher writes the report
        deadline = time.time() + 120
        while not report.exists() and time.time() < deadline:
            time.sleep(0.5)
        kernel = json.loads(report.read_text())
        row.update(kernel)
        row["capture_vs_sdpa"] = kernel["capture_s"] / kernel["sdpa_s"]
        row["grid_on_screen_after_capture_s"] = row.pop("grid_on_screen_wall_s") - kernel["capture_end"]
        row["first_overview_after_capture_s"] = row.pop("first_overview_wall_s") - kernel["capture_end"]
        if shots:
            hovered = pictures(page, heat, tag, shots)
            # the tooltips at cell level against the same rows recomputed in the kernel
            ask.write_text(json.dumps([[1, 7, q, k] for q, k, _ in hovered]))
            deadline = time.time() + 120
            while not answer.exists() and time.time() < deadline:
                time.sleep(0.5)
            python = json.loads(answer.read_text())
            row["cells_checked"] = [[q, k, shown, want] for (q, k, shown), want in zip(hovered, python)]
            row["cells_equal"] = sum(shown == want for (_, _, shown), want in zip(hovered, python))
    except Exception as err:  # a row that failed says how, with a picture of the page
        row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
        shot = workdir / f"error-{tag}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            row["error_screenshot"] = str(shot)
        except Exception:
            pass
    finally:
        from bench.compare import _shutdown_kernels

        _shutdown_kernels(context, url)
        context.close()
    for key in (
        "switch_cold_ms",
        "switch_warm_ms",
        "switch_first_picture_ms",
        "switch_warm_first_picture_ms",
        "zoom_ms",
        "pan_ms",
        "hover_overview_ms",
        "hover_cell_ms",
    ):
        if isinstance(row.get(key), list):
            row[f"{key}_median"] = _median(row[key])
    return row


def pictures(page: Any, heat: Any, n: int | str, shots: pathlib.Path) -> list[tuple[int, int, str]]:
    """The sharpest head (layer 1, head 7 of the sharpened model) whole, with the tooltip of a bright
    block far below the diagonal, then zoomed down to single cells around that block's largest
    weight."""
    heat.dblclick()
    page.mouse.click(*cell_center(page, "attn-grid", 1, 7))
    page.locator("[data-testid=attn-widget][data-head-shown='1,7']").wait_for(state="attached", timeout=120_000)
    page.locator("[data-testid=attn-heatmap][data-complete=true]").wait_for(state="attached", timeout=120_000)
    import re

    box = heat.bounding_box()
    tip = page.locator("[data-testid=attn-tooltip]").first
    # a bright pixel well below the diagonal (a block holding a large weight far from its query),
    # read from the canvas itself: random hovers mostly land on dark blocks
    fx, fy = heat.evaluate(
        """c => { const [x, y, w, h] = c.dataset.plot.split(',').map(Number);
                  const px = c.getContext('2d').getImageData(x, y, w, h).data;
                  let best = [-1, 0.5, 0.5];
                  for (let j = Math.floor(h * 0.35); j < Math.floor(h * 0.9); j++)
                    for (let i = Math.floor(w * 0.1); i < Math.floor(j * w / h - w * 0.15); i++) {
                      const o = (j * w + i) * 4, s = px[o] + px[o + 1] - px[o + 2];  // yellow: R+G high, B low
                      if (s > best[0]) best = [s, (i + 0.5) / w, (j + 0.5) / h];
                    }
                  return [best[1], best[2]]; }"""
    )
    plot = [float(v) for v in (heat.get_attribute("data-plot") or "0,0,1,1").split(",")]
    x, y = box["x"] + plot[0] + plot[2] * fx, box["y"] + plot[1] + plot[3] * fy
    page.mouse.move(x, y)
    tip.wait_for(state="visible")
    m = re.search(r"largest weight (\S+)\s*at query (\d+) .*?, key (\d+) ", tip.text_content() or "", re.S)
    assert m, tip.text_content()
    q, k = int(m.group(2)), int(m.group(3))
    page.locator("[data-testid=attn-widget]").screenshot(path=str(shots / f"long-{n}-overview.png"))
    for _ in range(60):  # zoom towards that weight's cell, wherever the zoom has moved it
        if int(heat.get_attribute("data-block") or 1) == 1 and int(heat.get_attribute("data-rows") or 99) <= 24:
            break
        page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
        page.mouse.wheel(0, -500)
        page.wait_for_timeout(60)
    page.locator("[data-testid=attn-heatmap][data-complete=true]").wait_for(state="attached", timeout=60_000)
    # the zoom keeps the peak under the pointer, near an edge if it started there: drag it to the middle
    box = heat.bounding_box()
    plot = [float(v) for v in (heat.get_attribute("data-plot") or "0,0,1,1").split(",")]
    page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
    page.mouse.down()
    page.mouse.move(box["x"] + plot[0] + plot[2] / 2, box["y"] + plot[1] + plot[3] / 2, steps=5)
    page.mouse.up()
    page.wait_for_timeout(300)
    page.locator("[data-testid=attn-heatmap][data-complete=true]").wait_for(state="attached", timeout=60_000)
    hovered = []  # (query, key, the weight its tooltip shows) for the 5 x 5 cells around the peak
    for dq in range(-2, 3):
        for dk in range(-2, 3):
            page.mouse.move(*cell_center(page, "attn-heatmap", q + dq, k + dk))
            page.wait_for_function(
                "s => (document.querySelector('[data-testid=attn-tooltip]')?.textContent ?? '').includes(s)",
                arg=f"query {q + dq} ",
            )
            text = tip.text_content() or ""
            m = re.search(r"key (\d+) .*weight (\S+)", text, re.S)
            assert m and int(m.group(1)) == k + dk, text
            hovered.append((q + dq, k + dk, m.group(2)))
    page.mouse.move(*cell_center(page, "attn-heatmap", q, k))
    tip.wait_for(state="visible")
    page.wait_for_timeout(200)
    page.locator("[data-testid=attn-widget]").screenshot(path=str(shots / f"long-{n}-cells.png"))
    return hovered


def fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if unit == "ms":
        return f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "MB":
        return f"{v / 1e6:.1f} MB"
    if unit == "x":
        return f"{v:.2f}x"
    return str(v)


def table(rows: list[dict[str, Any]]) -> str:
    def column(r: dict[str, Any]) -> str:
        return f"N = {r['n_tokens']}" if r.get("shape", "llama-long") == "llama-long" else f"{r['shape']}, N = {r['n_tokens']}"

    lines = [
        "| figure | budget | " + " | ".join(column(r) for r in rows) + " |",
        "|---|---|" + "---|" * len(rows),
    ]
    spec = [
        ("capture vs plain SDPA forward", "<= 1.5x", "capture_vs_sdpa", "x"),
        ("capture (s) / SDPA forward (s)", "", None, None),
        ("widget built with estimated scores (Python)", "", "build_s", "s"),
        ("grid on screen after capture", "<= 2 s", "grid_on_screen_after_capture_s", "s"),
        ("first heatmap overview after capture", "", "first_overview_after_capture_s", "s"),
        ("first picture after a head switch (coarse stand-in, median)", "", "switch_first_picture_ms_median", "ms"),
        ("overview after a head switch, head not yet refined (median)", "<= 1 s", "switch_cold_ms_median", "ms"),
        ("overview after a head switch, refined head (median)", "<= 1 s", "switch_warm_ms_median", "ms"),
        ("grid exact (refinement done), waited after the cold switches", "", "grid_exact_after_switches_s", "s"),
        ("new tiles after zoom (median)", "<= 200 ms", "zoom_ms_median", "ms"),
        ("new tiles after pan (median)", "<= 200 ms", "pan_ms_median", "ms"),
        ("hover, overview (median)", "<= 16 ms", "hover_overview_ms_median", "ms"),
        ("hover, single cells (median)", "<= 16 ms", "hover_cell_ms_median", "ms"),
        ("Python memory beyond stored q/k", "<= 1 GB", "python_beyond_qk_bytes", "MB"),
        ("stored queries and keys", "", "qk_bytes", "MB"),
        ("JS heap", "<= 150 MB", "js_heap_bytes", "MB"),
        ("largest message: the widget's first", "<= 2 MB", "opening_message_bytes", "MB"),
        ("largest message: a tile reply", "<= 2 MB", "largest_reply_bytes", "MB"),
        ("cell tooltips equal to the kernel's rows recomputed (5 x 5 cells at a peak)", "all", "cells", None),
    ]
    for label, budget, key, unit in spec:
        if key == "cells":
            cells = [f"{r['cells_equal']} of {len(r['cells_checked'])}" if "cells_checked" in r else "–" for r in rows]
        elif key is None:
            cells = [f"{r.get('capture_s', 0):.1f} / {r.get('sdpa_s', 0):.1f}" if "capture_s" in r else "–" for r in rows]
        else:
            cells = [fmt(r.get(key), unit or "") for r in rows]
        lines.append(f"| {label} | {budget} | " + " | ".join(cells) + " |")
    errors = [f"{column(r)}: {r['error']}" for r in rows if "error" in r]
    return "\n".join(lines + ([""] + errors if errors else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8192, 32768])
    parser.add_argument("--shapes", nargs="+", default=["llama-long"], help="bench/models.py shapes (4 layers x 8 heads)")
    parser.add_argument("--switches", type=int, default=10)
    parser.add_argument("--zooms", type=int, default=12)
    parser.add_argument("--hovers", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="3 switches, 10 hovers (CI: proves it runs)")
    parser.add_argument("--screenshots", type=pathlib.Path, help="write overview and cell-level screenshots here")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "results" / "long-context")
    args = parser.parse_args()
    if args.quick:
        args.switches, args.hovers = 3, 10
    from playwright.sync_api import sync_playwright

    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    rows = []
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="attn-long-"))
    with sync_playwright() as p, jupyter_lab(workdir) as url:
        browser = launch(p)
        version = browser.version
        for shape in args.shapes:
            for n in args.sizes:
                row = measure(browser, url, workdir, n, args.switches, args.zooms, args.hovers, args.screenshots, shape)
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)
        browser.close()
    info = {
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, {platform.platform()}",
        "chromium": version,
        "command": " ".join(["bench/long_context.py", *sys.argv[1:]]),
    }
    md = f"# Long inputs (bench/long_context.py)\n\n{info['machine']}; Chromium {version}; live JupyterLab kernel.\n\n`{info['command']}`\n\n{table(rows)}\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({**info, "results": rows}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(md)
    print(md)
    if any("error" in r or r.get("cells_equal", 0) != len(r.get("cells_checked", [])) for r in rows):
        sys.exit(1)  # a run that failed fails (CI runs this small to prove it works)


if __name__ == "__main__":
    main()
