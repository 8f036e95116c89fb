"""Thousands of new tokens, live, in a real JupyterLab: do the long-input budgets hold while the
model writes and after it (issue 20, item 4)?

The kernel generates ``--new`` tokens (default 4,096) with the long-input benchmark's shape
(bench/models.py "llama-long": Llama, 4 layers, 8 query heads on 2 key heads, width 256, RoPE;
random weights, a byte-level vocabulary so every token has a label). While it writes, the pointer
sweeps the heatmap (hover times), a grid cell is clicked every few seconds (head switches while
decoding), and every animation frame records how many rows the heatmap has drawn with every tile
it needs. Once it is done: warm head switches, hovers, wheel zooms down to single cells, drag pans,
the page's JS heap, the largest message and the kernel's memory. Budgets: those of the long inputs
(docs/performance.md#long-inputs-8192-and-32768-tokens) and live generation's 250 ms a row.

    .venv/bin/python bench/live_generation_long.py --new 4096 --out bench/results/live-generation-long.json
    .venv/bin/python bench/live_generation_long.py --quick --out /tmp/live-long.json   # CI: proves it runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lab_drive import PROBE, hover_times, pan_times, switch_times, zoom_times  # noqa: E402
from bench.live_generation_lab import FRAMES  # noqa: E402
from bench.machine import cpu_name  # noqa: E402
from bench.widget_bench import HOVER_PROBE  # noqa: E402
from tests.support.chromium import launch  # noqa: E402
from tests.support.lab import jupyter_lab, open_and_run_all, write_notebook  # noqa: E402

PROMPT = "the cat sat on the mat and the dog sat on the log"
BUDGETS = {
    "row_drawn_ms": 250,
    "hover_ms": 16,
    "switch_overview_ms": 1000,
    "zoom_ms": 200,
    "pan_ms": 200,
    "python_memory_bytes": 1 << 30,
    "js_heap_bytes": 150 << 20,
    "largest_message_bytes": 2 << 20,
}

CELL = """import json, os, sys, threading, time, pathlib
sys.path.insert(0, {root!r})
import transformers
transformers.logging.set_verbosity_error()
from bench.kernel_probe import PeakRSS, record_sends, state_bytes
from bench.live_generation_long import PROMPT, long_model
from attn_widget import AttentionWidget

model, tokenizer = long_model({new}, {quick})
_peak = PeakRSS()
w = AttentionWidget.generate(model, tokenizer, PROMPT, max_new_tokens={new}, min_new_tokens={new})
_sent = record_sends(w)
def _ended(change):
    if change["new"].get("done"):
        pathlib.Path("long_steps.json").write_text(json.dumps(w._decoding.completed_at))
w.observe(_ended, names=["_generation"])
def _report(go, path):
    while not os.path.exists(go):
        time.sleep(0.2)
    json.dump({{"python_memory_bytes": _peak.stop() - _peak.start, "qk_bytes": w._decoding.snapshot().nbytes,
               "largest_reply_bytes": max(_sent, default=0), "replies": len(_sent), "state_bytes": state_bytes(w),
               "tokens_per_second": w._decoding.tokens_per_second(), "steps": w.step}}, open(path, "w"))
threading.Thread(target=_report, args=("long_report.go", "long_report.json"), daemon=True).start()
w"""


def long_model(new: int, quick: bool = False) -> tuple[Any, Any]:
    """The "llama-long" shape (bench/models.py) over the byte-level tokenizer, room for the prompt
    and ``new`` tokens; ``quick``: 2 layers, width 64."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from bench.models import SHAPES
    from tests.support.models import byte_level_tokenizer

    tokenizer = byte_level_tokenizer()
    shape = {k: v for k, v in SHAPES["llama-long"].items() if k not in ("family", "vocab_size")}
    if quick:
        shape.update(num_hidden_layers=2, hidden_size=64, intermediate_size=128)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=new + 128, **shape)
    return LlamaForCausalLM(config).eval(), tokenizer


def _stats(xs: list[float]) -> dict[str, Any]:
    s = sorted(xs)
    return {
        "median": statistics.median(s) if s else None,
        "p95": s[math.ceil(0.95 * (len(s) - 1))] if s else None,
        "max": s[-1] if s else None,
        "samples": len(s),
    }


def _plot_point(heat: Any, fx: float, fy: float) -> tuple[float, float]:
    box = heat.bounding_box()
    x0, y0, w, h = (float(v) for v in (heat.get_attribute("data-plot") or "0,0,1,1").split(","))
    return box["x"] + x0 + fx * w, box["y"] + y0 + fy * h


def while_writing(page: Any, heat: Any, steps_file: pathlib.Path, rng: random.Random, switch_every_s: float) -> dict[str, Any]:
    """Sweep the heatmap and switch heads until the kernel says generation is done."""
    hovers: list[float] = []
    overview: list[float] = []
    first: list[float] = []
    next_switch = time.time() + switch_every_s
    deadline = time.time() + 1800
    i = 0
    while not steps_file.exists() and time.time() < deadline:
        if time.time() >= next_switch:
            o, f = switch_times(page, rng, 1)
            overview += o
            first += f
            next_switch = time.time() + switch_every_s
            continue
        px, py = _plot_point(heat, 0.25 + 0.5 * ((i % 20) + 0.5) / 20, 0.5 + 0.45 * ((i % 20) + 0.5) / 20)
        hovers += hover_times(page, px, py, 8)
        i += 1
    return {"hover_ms": _stats(hovers), "switch_overview_ms": _stats(overview), "switch_first_picture_ms": _stats(first)}


def after_writing(page: Any, heat: Any, rng: random.Random, switches: int, hovers: int) -> dict[str, Any]:
    page.locator("[data-testid=attn-widget][data-grid-exact=true]").wait_for(state="attached", timeout=600_000)
    overview, first = switch_times(page, rng, switches)
    px, py = _plot_point(heat, 0.7, 0.8)
    page.mouse.move(px, py)
    hover_overview = hover_times(page, px, py, hovers)
    zoom = zoom_times(page, heat, 12)
    hover_cell = hover_times(page, px, py, hovers)
    pan = pan_times(page, px, py)
    return {
        "switch_overview_ms": _stats(overview),
        "switch_first_picture_ms": _stats(first),
        "hover_overview_ms": _stats(hover_overview),
        "hover_cell_ms": _stats(hover_cell),
        "zoom_ms": _stats(zoom),
        "pan_ms": _stats(pan),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", type=int, default=4096)
    parser.add_argument("--switches", type=int, default=8)
    parser.add_argument("--hovers", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="a tiny model, 96 tokens, 2 switches (CI: proves it runs)")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    new = 96 if args.quick else args.new
    switches, hovers = (2, 10) if args.quick else (args.switches, args.hovers)
    root = pathlib.Path(tempfile.mkdtemp(prefix="live-long-"))
    write_notebook(root / "long.ipynb", [CELL.format(root=str(ROOT), new=new, quick=args.quick)])
    from playwright.sync_api import sync_playwright

    rng = random.Random(7)
    with jupyter_lab(root) as url, sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1500, "height": 1300})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_and_run_all(page, url, "long.ipynb")
        page.locator("[data-testid=attn-widget][data-ready=true]").wait_for(timeout=300_000)
        for probe in (FRAMES, PROBE, HOVER_PROBE):
            page.evaluate(probe)
        heat = page.locator("[data-testid=attn-heatmap]").first
        heat.scroll_into_view_if_needed()
        steps_file = root / "long_steps.json"
        during = while_writing(page, heat, steps_file, rng, 1.0 if args.quick else 4.0)
        page.wait_for_timeout(1000)  # the last rows' tiles
        frames = page.evaluate("() => window.__rows")
        since = page.evaluate("() => window.__since") / 1000
        after = after_writing(page, heat, rng, switches, hovers)
        heap = context.new_cdp_session(page).send("Runtime.getHeapUsage")["usedSize"]
        (root / "long_report.go").write_text("")
        deadline = time.time() + 120
        while not (root / "long_report.json").exists() and time.time() < deadline:
            time.sleep(0.3)
        kernel = json.loads((root / "long_report.json").read_text())
        context.close()
        browser.close()
    steps = json.loads(steps_file.read_text())
    lags = []
    for n, at in steps:
        drawn = next((t for t, rows in frames if rows >= n), None)
        if at >= since and drawn is not None:  # steps made before the page watched are left out
            lags.append(1000 * (drawn / 1000 - at))
    result = {
        "benchmark": "live_generation_long",
        "model": "tiny Llama (quick)"
        if args.quick
        else "llama-long shape (4 x 8 heads on 2 key heads, width 256), random weights",
        "new_tokens": new,
        "while_writing": {"row_drawn_after_step_ms": _stats(lags), **during},
        "every_row_ms_in_step_order": [round(x, 1) for x in lags],  # the pattern: how often the page caught up
        "after_writing": after,
        "kernel": kernel,
        "js_heap_bytes": heap,
        "largest_message_bytes": max(kernel["largest_reply_bytes"], kernel["state_bytes"]),
        "budgets": BUDGETS,
        "page_errors": errors,
        "machine": {"cpu": cpu_name("unknown"), "cores": os.cpu_count()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
