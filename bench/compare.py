"""attn_widget side by side with bertviz (head_view, model_view) and CircuitsVis (attention_heads),
in one run, in headless Debian Chromium, on the same GPT-2-small-shaped input (bench/synthetic.py).

    bash bench/setup_peers                      # once: the peers from PyPI, their JS from npm
    .venv/bin/python bench/compare.py           # N = 32 ... 4096 -> bench/results/compare.{json,md,png}
    .venv/bin/python bench/compare.py --sizes 32 128 --tools ours --quick --out /tmp/c   # CI's small run

Every tool is measured the same way:
- first render: navigation start until the view is drawn (its own DOM/canvas appears, then two
  frames), the page holding the tool's whole payload as the tool itself writes it (ours: the page
  w.to_html writes, every head inline, its stand-in kernel answering the views' tile requests);
- hover: one pointer move until two frames later, from Python (CDP), over several moves;
- switch: choosing another head: ours by a click on the grid with a live JupyterLab kernel (click
  until the new heatmap is drawn, measured in the page); bertviz model_view: a click on a
  thumbnail; bertviz head_view: another layer in its dropdown; CircuitsVis: a click on a thumbnail;
- bytes the browser receives before first render, JS heap and DOM size after it, Python time.
A tool that has not drawn within --limit seconds "did not render"; larger N are then not tried
for that tool (its payload only grows), and are reported so.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attn_widget import AttentionWidget  # noqa: E402
from bench.synthetic import causal_attention, tokens  # noqa: E402
from bench.widget_bench import HOVER_PROBE, machine  # noqa: E402
from tests.support.chromium import STATIC, launch  # noqa: E402  (STATIC: our bundle)
from tests.support.fake_kernel import use_recording_comms  # noqa: E402

PEERS = ["bertviz_head_view", "bertviz_model_view", "circuitsvis_attention_heads"]
TOOLS = ["ours", *PEERS]
MAX_PEER_PAGE_BYTES = 500e6
PEERS_JS = ROOT / "bench" / "peers" / "node_modules"
CDN = {  # what bertviz asks cdnjs for -> the same libraries from npm (jQuery 2.2.4 for 2.0.0)
    "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js": PEERS_JS / "requirejs" / "require.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/5.7.0/d3.min.js": PEERS_JS / "d3" / "dist" / "d3.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/jquery/2.0.0/jquery.min.js": PEERS_JS / "jquery" / "dist" / "jquery.min.js",
}
DRAWN = {  # the view is on screen once this holds (then two more frames)
    "ours": "() => !!document.querySelector('[data-testid=attn-widget][data-ready=true]')",
    "bertviz_head_view": "() => document.querySelectorAll('#vis line').length > 0",
    "bertviz_model_view": "() => document.querySelectorAll('line').length > 0",
    "circuitsvis_attention_heads": "() => document.querySelectorAll('canvas').length > 0 && [...document.querySelectorAll('canvas')].every(c => c.width > 0)",
}
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


# ------------------------------------------------------------------------------------- pages
@contextmanager
def serve_files(pages: pathlib.Path) -> Iterator[str]:
    """A static HTTP server on loopback for the pages and our bundle. Pages of hundreds of MB must
    reach Chromium over a socket, as from any web server: through Playwright's routing they would
    cross the driver's pipe as base64 and be charged to the tool."""
    import functools
    import http.server
    import threading

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            name = path.split("?")[0].rsplit("/", 1)[-1]
            base = STATIC if path.startswith("/static/") else pages
            return str(base / name)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(pages)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def route_offline(context: Any, origin: str, blocked: list[str]) -> None:
    """Loopback goes through; bertviz's cdnjs requests get the same files from npm; anything else
    is refused (and recorded), as on a machine without a network."""

    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith(origin):
            route.continue_()
        elif url in CDN:
            route.fulfill(path=str(CDN[url]), content_type="text/javascript")
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", handle)


# ------------------------------------------------------------------------------- measurement
def interact_ms(page: Any, action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    page.evaluate(TWO_FRAMES)
    return (time.perf_counter() - start) * 1000


def hover_targets(page: Any, tool: str, count: int) -> list[tuple[float, float]]:
    """Points whose hover makes the tool do its work: heatmap cells / tokens / head thumbnails."""
    rng = np.random.default_rng(7)
    if tool == "ours":
        canvas = page.locator("[data-testid=attn-heatmap]")
        box = canvas.bounding_box()
        x, y, w, h = (float(v) for v in canvas.get_attribute("data-plot").split(","))
        return [(box["x"] + x + rng.random() * w, box["y"] + y + rng.random() * h) for _ in range(count)]
    selector = {
        "bertviz_head_view": "#vis text",  # a left-column token: its lines are shown, the others hidden
        "bertviz_model_view": "svg text",  # a layer/head label or token: hover has little to do here
        "circuitsvis_attention_heads": "canvas",  # a head thumbnail: the zoomed head is redrawn
    }[tool]
    boxes = page.evaluate(
        "sel => [...document.querySelectorAll(sel)].map(e => e.getBoundingClientRect().toJSON()).filter(b => b.width > 0 && b.height > 0)",
        selector,
    )
    if tool == "bertviz_head_view" and boxes:  # the left column's tokens are the ones that react
        left = min(b["x"] for b in boxes)
        boxes = [b for b in boxes if b["x"] < left + 5]
    if tool == "circuitsvis_attention_heads":
        boxes = sorted(boxes, key=lambda b: b["width"] * b["height"])[: max(1, len(boxes) - 1)]  # thumbnails, not the big one
    picks = [boxes[int(i)] for i in rng.integers(0, len(boxes), count)] if boxes else []
    return [(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2) for b in picks]


def switch_action(page: Any, tool: str, i: int) -> Callable[[], None] | None:
    if tool == "bertviz_model_view":
        rects = page.evaluate(
            "() => [...document.querySelectorAll('rect')].filter(r => r.style.opacity === '0' && r.getBoundingClientRect().height > 10).map(r => r.getBoundingClientRect().toJSON())"
        )
        if not rects:
            return None
        b = rects[(7 * i + 13) % len(rects)]
        return lambda: page.mouse.click(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    if tool == "bertviz_head_view":
        return lambda: page.select_option("select#layer", str((i + 1) % 12))
    if tool == "circuitsvis_attention_heads":
        (point,) = hover_targets(page, tool, 1 + i)[-1:]
        return lambda: page.mouse.click(*point)
    return None


def measure_page(
    browser: Any,
    origin: str,
    tool: str,
    n: int,
    limit_s: float,
    hovers: int,
    switches: int,
    report: Callable[[dict[str, Any]], None] = lambda row: None,
) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, device_scale_factor=1)
    page = context.new_page()
    blocked: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    route_offline(context, origin, blocked)
    row: dict[str, Any] = {"tool": tool, "n_tokens": n}
    try:
        start = time.perf_counter()
        page.goto(f"{origin}/{tool}.html", wait_until="commit", timeout=limit_s * 1000)
        left = max(1.0, limit_s - (time.perf_counter() - start))  # the limit counts from navigation
        page.wait_for_function(DRAWN[tool], timeout=left * 1000, polling="raf")
        row["first_render_ms"] = page.evaluate(TWO_FRAMES)
    except Exception as err:  # the tool did not draw in time (or the page died trying)
        row.update(status="did not render", detail=f"{type(err).__name__}: {str(err).splitlines()[0][:160]}")
        context.close()
        return row
    if row["first_render_ms"] > limit_s * 1000:  # drew, but only once a blocked main thread let go
        row.update(status="did not render", detail=f"drew after {row['first_render_ms'] / 1000:.0f} s, past the limit")
        context.close()
        return row
    row["status"] = "ok"
    row["js_heap_bytes"] = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : null")
    row["dom_nodes"] = page.evaluate("() => document.getElementsByTagName('*').length")
    report(row)
    if tool == "ours":
        page.evaluate(HOVER_PROBE)
    budget = time.perf_counter() + limit_s
    hover = []
    for x, y in hover_targets(page, tool, hovers):
        hover.append(interact_ms(page, lambda: page.mouse.move(x, y)))
        if time.perf_counter() > budget:
            break
    row["hover_ms"] = hover
    if tool == "ours":
        row["hover_in_page_ms"] = page.evaluate("() => window.__hover.event")
    switch = []
    for i in range(switches if tool != "ours" else 0):  # ours: with a live kernel, below
        action = switch_action(page, tool, i)
        if action is None or time.perf_counter() > budget:
            break
        switch.append(interact_ms(page, action))
    if switch:
        row["switch_ms"] = switch
        row["switch_how"] = {
            "bertviz_model_view": "click a thumbnail",
            "bertviz_head_view": "choose another layer",
            "circuitsvis_attention_heads": "click a head thumbnail",
        }[tool]
    if errors:
        row["page_errors"] = errors[:3]
    if blocked:
        row["blocked_requests"] = sorted(set(blocked))[:5]
    context.close()
    return row


def measure_in_child(origin: str, tool: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """measure_page in its own process with its own Chromium, killed at a hard wall-clock limit:
    a page whose main thread is stuck in a giant script does not answer Playwright's own timeouts."""
    command = [sys.executable, __file__, "--child", json.dumps([origin, tool, n, args.limit, args.hovers, args.switches])]
    wall = 3 * args.limit + 60  # render + hovers + switches, each bounded by the limit, + start-up
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=wall)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if not rows:
        return {
            "tool": tool,
            "n_tokens": n,
            "status": "did not render",
            "detail": f"no view within {args.limit:.0f} s (process stopped)",
        }
    row = rows[-1]  # the child reports after first render and again when done
    if proc.returncode != 0 and "hover_ms" not in row:
        row["detail"] = "stopped at the wall-clock limit while interacting"
    return row


def child_main(spec: str) -> None:
    origin, tool, n, limit, hovers, switches = json.loads(spec)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p, extra_args=["--enable-precise-memory-info", "--js-flags=--max-old-space-size=8192"])
        row = measure_page(browser, origin, tool, n, limit, hovers, switches, report=lambda r: print(json.dumps(r), flush=True))
        print(json.dumps(row), flush=True)
        browser.close()


# ------------------------------------------------------------- ours: head switch, live kernel
SWITCH_PROBE = """() => {
  // Per click: time to the first picture of the new head (a pooled preview on long inputs, or the
  // exact matrix), and to the exact matrix (tooltips exact), each up to two frames later (painted).
  window.__switch = { picture: [], exact: [] };
  const root = document.querySelector('[data-testid=attn-widget]');
  const grid = root.querySelector('[data-testid=attn-grid]');
  let start = 0, want = '', pictured = false;
  grid.addEventListener('pointerdown', () => { start = performance.now(); pictured = false; }, { capture: true });
  window.__expect = (key) => { want = key; };
  const painted = (list, t0) => requestAnimationFrame(() => requestAnimationFrame(() => list.push(performance.now() - t0)));
  new MutationObserver(() => {
    if (!start) return;
    const t0 = start;
    if (!pictured && (root.dataset.headShown === want || root.dataset.headPreview === want)) {
      pictured = true;
      painted(window.__switch.picture, t0);
    }
    if (root.dataset.headShown === want) {
      start = 0;
      painted(window.__switch.exact, t0);
    }
  }).observe(root, { attributes: true, attributeFilter: ['data-head-shown', 'data-head-preview'] });
}"""


def measure_switch_in_lab(
    browser: Any, sizes: list[int], switches: int, workdir: pathlib.Path, source: str = "array"
) -> dict[int, dict[str, Any]]:
    """Click random grid cells of a widget in JupyterLab; time click -> new heatmap drawn."""
    from tests.support.lab import jupyter_lab, open_and_run_all, write_notebook
    from tests.support.widget_page import cell_center

    out: dict[int, dict[str, Any]] = {}
    with jupyter_lab(workdir) as url:
        for n in sizes:
            name = f"switch_{n}.ipynb"
            if source == "capture":
                from bench.synthetic import capture_widget_code

                build = capture_widget_code(n)
            else:
                build = (
                    "from bench.synthetic import causal_attention, tokens\nfrom attn_widget import AttentionWidget\n"
                    f"w = AttentionWidget(causal_attention({n}), tokens({n}))\n"
                )
            write_notebook(workdir / name, [f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + build + "w"])
            context = browser.new_context(viewport={"width": 1500, "height": 1100})
            page = context.new_page()
            try:
                open_and_run_all(page, url, name, timeout_ms=300_000)
                page.locator("[data-testid=attn-widget][data-ready=true]").wait_for(timeout=300_000)
                page.evaluate(SWITCH_PROBE)
                rng = np.random.default_rng(3)
                times: dict[str, list[float]] = {"picture": [], "exact": []}
                for _ in range(switches):
                    layer, head = int(rng.integers(0, 12)), int(rng.integers(0, 12))
                    if page.locator("[data-testid=attn-widget]").get_attribute("data-head-shown") == f"{layer},{head}":
                        continue
                    page.evaluate("k => window.__expect(k)", f"{layer},{head}")
                    page.mouse.click(*cell_center(page, "attn-grid", layer, head))
                    page.wait_for_function(
                        "k => document.querySelector('[data-testid=attn-widget]').dataset.headShown === k",
                        arg=f"{layer},{head}",
                        timeout=60_000,
                    )
                    page.wait_for_function(f"() => window.__switch.exact.length >= {len(times['exact']) + 1}", timeout=10_000)
                    times = page.evaluate("() => window.__switch")
                    page.wait_for_timeout(150)  # a pause between clicks, as a user makes
                out[n] = {
                    "switch_ms": times["picture"],
                    "switch_exact_ms": times["exact"],
                    "switch_how": "click a grid cell, live JupyterLab kernel; time to the new head's first picture (a pooled preview above 256 tokens) / to its exact values",
                }
            except Exception as err:
                out[n] = {"switch_error": f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"}
            finally:
                _shutdown_kernels(context, url)  # each kernel holds its attention array
                context.close()
    return out


def _shutdown_kernels(context: Any, url: str) -> None:
    xsrf = next((c["value"] for c in context.cookies() if c["name"] == "_xsrf"), "")
    for kernel in context.request.get(f"{url}/api/kernels").json():
        context.request.delete(f"{url}/api/kernels/{kernel['id']}", headers={"X-XSRFToken": xsrf})


# --------------------------------------------------------------------------------- reporting
def summarize(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("hover_ms", "hover_in_page_ms", "switch_ms", "switch_exact_ms"):
        values = row.get(key)
        if values:
            row[f"{key}_median"] = statistics.median(values)
            row[f"{key}_p95"] = float(np.percentile(values, 95))
    return row


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v / 1000:.1f} s" if v >= 1000 else f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def table(rows: list[dict[str, Any]], limit_s: float) -> str:
    lines = [
        "| N | tool | first render | hover (median / p95) | head switch (median) | bytes | JS heap | DOM nodes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["status"] != "ok":
            why = "did not render" if r["status"] == "did not render" else r["status"]
            lines.append(
                f"| {r['n_tokens']} | {r['tool']} | {why} (limit {limit_s:.0f} s) | – | – | {r.get('bytes', 0) / 1e6:.1f} MB | – | – |"
                if r.get("bytes")
                else f"| {r['n_tokens']} | {r['tool']} | {why} (limit {limit_s:.0f} s) | – | – | – | – | – |"
            )
            continue
        hover = f"{fmt_ms(r.get('hover_ms_median'))} / {fmt_ms(r.get('hover_ms_p95'))}"
        lines.append(
            f"| {r['n_tokens']} | {r['tool']} | {fmt_ms(r['first_render_ms'])} | {hover} | {fmt_ms(r.get('switch_ms_median'))} | "
            f"{r['bytes'] / 1e6:.2f} MB | {(r.get('js_heap_bytes') or 0) / 1e6:.0f} MB | {r.get('dom_nodes', '–')} |"
        )
    return "\n".join(lines)


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    by = {(r["tool"], r["n_tokens"]): r for r in rows}
    for (tool, n), r in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        ours = by.get(("ours", n))
        if tool == "ours" or not ours or ours["status"] != "ok":
            continue
        if r["status"] != "ok":
            out.append(f"N={n}: {tool} did not render; ours drew in {fmt_ms(ours['first_render_ms'])}")
            continue
        first = r["first_render_ms"] / ours["first_render_ms"]
        hover = (r.get("hover_ms_median") or float("nan")) / (ours.get("hover_ms_median") or float("nan"))
        out.append(f"N={n}: {tool} / ours: first render {first:.1f}x, hover {hover:.1f}x")
    return out


def plot(rows: list[dict[str, Any]], limit_s: float, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {
        "ours": ("#1b9e77", "o"),
        "bertviz_head_view": ("#d95f02", "s"),
        "bertviz_model_view": ("#7570b3", "^"),
        "circuitsvis_attention_heads": ("#e7298a", "D"),
    }
    for ax, key, title in [(axes[0], "first_render_ms", "first render (ms)"), (axes[1], "hover_ms_median", "hover, median (ms)")]:
        for tool, (color, marker) in styles.items():
            ok = [(r["n_tokens"], r[key]) for r in rows if r["tool"] == tool and r["status"] == "ok" and r.get(key)]
            failed = [r["n_tokens"] for r in rows if r["tool"] == tool and r["status"] != "ok"]
            if ok:
                ax.plot(*zip(*ok), color=color, marker=marker, label=tool)
            if failed and key == "first_render_ms":
                ax.scatter(failed, [limit_s * 1000] * len(failed), color=color, marker="x", s=60)
        if key == "first_render_ms":
            ax.axhline(limit_s * 1000, color="grey", lw=0.8, ls="--")
            ax.text(32, limit_s * 1000 * 1.1, f"limit {limit_s:.0f} s: x = did not render", fontsize=8, color="grey")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens N (12 layers x 12 heads)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# -------------------------------------------------------------------------------------- main
def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        return child_main(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 128, 256, 512, 1024, 2048, 4096])
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {TOOLS}")
    parser.add_argument("--limit", type=float, default=90.0, help="seconds a tool may take to draw")
    parser.add_argument("--hovers", type=int, default=30)
    parser.add_argument("--switches", type=int, default=15)
    parser.add_argument("--no-lab", action="store_true", help="skip the live-kernel head-switch runs")
    parser.add_argument("--quick", action="store_true", help="few hovers and switches (CI: proves it runs)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "results" / "compare")
    parser.add_argument("--report", type=pathlib.Path, help="only re-write the tables and plot from this results JSON")
    parser.add_argument("--lab-only", type=pathlib.Path, help="only (re)measure our head switches into this results JSON")
    parser.add_argument(
        "--capture-switch",
        type=pathlib.Path,
        help="only measure our head switches on a captured GPT-2-small-shaped model (heads recomputed on request), into this JSON",
    )
    args = parser.parse_args()
    if args.report:
        record = json.loads(args.report.read_text())
        return write_reports(record["results"], record["machine"], record["limit_s"], args.out, record["command"])
    if args.lab_only:
        return lab_only(args)
    if args.capture_switch:
        if args.quick:
            args.switches = 4
        return capture_switch(args)
    tools = args.tools.split(",")
    if args.quick:
        args.hovers, args.switches = 8, 4
    peers_python = ROOT / "bench" / ".venv-peers" / "bin" / "python"
    if any(t in PEERS for t in tools) and not peers_python.exists():
        raise SystemExit("the peers are not installed: run bash bench/setup_peers first")

    from playwright.sync_api import sync_playwright

    use_recording_comms()
    rows: list[dict[str, Any]] = []
    gave_up: set[str] = set()
    skipped: dict[str, str] = {}  # tool -> why it was not tried at larger N
    last_bytes: dict[str, tuple[int, int]] = {}  # tool -> (N, page bytes) of its largest drawn page
    work = pathlib.Path(tempfile.mkdtemp(prefix="attn-bench-"))
    with sync_playwright() as p:
        browser = launch(p, extra_args=["--enable-precise-memory-info", "--js-flags=--max-old-space-size=8192"])
        info = machine(browser.version)
        for n in args.sizes:
            pages = work / f"n{n}"
            pages.mkdir()
            made: dict[str, dict[str, Any]] = {}
            if "ours" in tools:
                start = time.perf_counter()
                # Our page is the product's own offline artefact, w.to_html: every head inline and
                # a stand-in kernel in the page, like the peers' pages (no kernel, no network).
                widget = AttentionWidget(causal_attention(n), tokens(n))
                page_path = widget.to_html(pages / "ours.html", max_bytes=10**12)
                made["ours"] = {"python_s": time.perf_counter() - start, "bytes": page_path.stat().st_size}
                del widget
            for tool in [t for t in tools if t in PEERS and t not in gave_up and t in last_bytes]:
                # Payloads grow as N^2: past ~0.5 GB of HTML, generating and loading one risks the
                # machine's memory for a page no one could use; report it instead of trying.
                estimate = last_bytes[tool][1] * (n / last_bytes[tool][0]) ** 2
                if estimate > MAX_PEER_PAGE_BYTES:
                    gave_up.add(tool)
                    skipped[tool] = f"not tried: its page would be about {estimate / 1e9:.1f} GB"
            todo = [t for t in tools if t in PEERS and t not in gave_up]
            if todo:
                done = subprocess.run(
                    [str(peers_python), str(ROOT / "bench" / "peers" / "render_peers.py"), str(n), str(pages), ",".join(todo)],
                    capture_output=True,
                    text=True,
                    timeout=3600,
                )
                if done.returncode != 0:
                    raise RuntimeError(f"render_peers failed at N={n}: {done.stderr[-2000:]}")
                made.update(json.loads(done.stdout.strip().splitlines()[-1]))
            for tool in tools:
                if tool in gave_up:
                    rows.append(
                        {"tool": tool, "n_tokens": n, "status": skipped.get(tool, "not tried: a smaller N did not render")}
                    )
                    continue
                with serve_files(pages) as origin:
                    row = measure_in_child(origin, tool, n, args)
                row.update(made.get(tool, {}))
                rows.append(summarize(row))
                if row["status"] != "ok":
                    gave_up.add(tool)
                elif "bytes" in row:
                    last_bytes[tool] = (n, row["bytes"])
                print(
                    f"N={n:5d} {tool:28s} {row['status']:15s} first render {fmt_ms(row.get('first_render_ms')):>8s}  "
                    f"hover {fmt_ms(row.get('hover_ms_median')):>8s}  bytes {row.get('bytes', 0) / 1e6:8.2f} MB",
                    flush=True,
                )
            for f in pages.iterdir():
                f.unlink()  # pages can be a GB each
        if "ours" in tools and not args.no_lab:
            lab_sizes = [r["n_tokens"] for r in rows if r["tool"] == "ours" and r["status"] == "ok"]
            switch = measure_switch_in_lab(browser, lab_sizes, args.switches, work / "lab")
            for r in rows:
                if r["tool"] == "ours" and r["n_tokens"] in switch:
                    r.update(switch[r["n_tokens"]])
                    summarize(r)
                    print(
                        f"N={r['n_tokens']:5d} ours head switch (live kernel): picture median {fmt_ms(r.get('switch_ms_median'))}"
                        f" p95 {fmt_ms(r.get('switch_ms_p95'))}; exact values median {fmt_ms(r.get('switch_exact_ms_median'))} {r.get('switch_error', '')}",
                        flush=True,
                    )
        browser.close()

    write_reports(rows, info, args.limit, args.out)
    broken = [r["n_tokens"] for r in rows if r["tool"] == "ours" and "switch_error" in r]
    if broken:  # a peer may fail to render (that is a result); our own switch failing is a bug
        sys.exit(f"our head switch could not be measured at N = {broken}")


def capture_switch(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        switch = measure_switch_in_lab(
            browser, args.sizes, args.switches, pathlib.Path(tempfile.mkdtemp(prefix="attn-lab-")), source="capture"
        )
        browser.close()
    rows = []
    for n, r in switch.items():
        row = {"tool": "ours", "n_tokens": n, "source": "capture", **r}
        summarize(row)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)
    args.capture_switch.parent.mkdir(parents=True, exist_ok=True)
    args.capture_switch.write_text(
        json.dumps({"command": " ".join(["bench/compare.py", *sys.argv[1:]]), "results": rows}, indent=2) + "\n"
    )
    print(f"wrote {args.capture_switch}")
    failed = [row for row in rows if "switch_error" in row]
    if failed:  # CI runs this small to prove it works: a measurement that could not run is a failure
        sys.exit(f"capture switch failed at N = {[row['n_tokens'] for row in failed]}: {failed[0]['switch_error']}")


def lab_only(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    record = json.loads(args.lab_only.read_text())
    rows = record["results"]
    with sync_playwright() as p:
        browser = launch(p)
        switch = measure_switch_in_lab(browser, args.sizes, args.switches, pathlib.Path(tempfile.mkdtemp(prefix="attn-lab-")))
        browser.close()
    for r in rows:
        if r["tool"] == "ours" and r["n_tokens"] in switch:
            for key in [k for k in r if k.startswith("switch")]:
                del r[key]
            r.update(switch[r["n_tokens"]])
            summarize(r)
    command = record["command"] + " ; head switches: " + " ".join(sys.argv)
    write_reports(rows, record["machine"], record["limit_s"], args.out, command)


def enforce_limit(rows: list[dict[str, Any]], limit_s: float) -> list[dict[str, Any]]:
    """A view drawn after the limit did not render within it (its page may have blocked the timer)."""
    for r in rows:
        if r.get("status") == "ok" and r.get("first_render_ms", 0) > limit_s * 1000:
            r.update(status="did not render", detail=f"drew after {r['first_render_ms'] / 1000:.0f} s, past the limit")
    return rows


def write_reports(
    rows: list[dict[str, Any]], info: dict[str, Any], limit_s: float, out: pathlib.Path, command: str | None = None
) -> None:
    rows = enforce_limit(rows, limit_s)
    md = table(rows, limit_s)
    print("\n" + md + "\n")
    for line in ratios(rows):
        print(line)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": info,
        "command": command or " ".join(sys.argv),
        "limit_s": limit_s,
        "results": rows,
        "ratios": ratios(rows),
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text(md + "\n\n" + "\n".join(f"- {r}" for r in ratios(rows)) + "\n")
    plot(rows, limit_s, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.json')}, .md, .png")


if __name__ == "__main__":
    main()
