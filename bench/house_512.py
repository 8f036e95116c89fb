"""The 512-token budgets, before against after in one run: building a widget from an array (quiet,
and with busy processes on the cores) and head switches in a live JupyterLab.

    .venv/bin/python bench/house_512.py --out /tmp/h512                          # the checkout that
                                                           # `import attn_widget` finds (PYTHONPATH)
    .venv/bin/python bench/house_512.py --out /tmp/h512 --compare /path/before /path/after --rounds 3

Each checkout needs its bundle built (`npm run build`: attn_widget/static/widget.js). With
--compare the checkouts take turns, round by round, on one JupyterLab server and one browser, so
they see the same machine; other work on this shared 2-core machine still moves the numbers, so
before each measurement the script waits (up to --quiet-wait s) for the CPUs to be idle and
records how idle they were.

- build: ``AttentionWidget(causal_attention(512), tokens(512))`` (bench/synthetic.py: 12 x 12
  heads), in a fresh interpreter per checkout with PYTHONPATH=checkout, after one warm-up build;
  median of --builds; quiet, then with --busy processes running ``while True: pass``.
- switch: the widget in JupyterLab (its kernel imports the checkout's attn_widget), clicks on random
  grid cells (the same cells for every checkout), each timed in the page from pointerdown until
  ``data-head-shown`` names the new head plus two frames (the exact head on screen) and until its
  first picture (a coarse stand-in where there is one), as bench/compare.py does. The CPU time
  each process (Chromium's renderer, the Jupyter server, the kernel) spent over the clicks is
  recorded per switch.

Writes OUT/house_512.json and OUT/house_512.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
N = 512

BUILD_CODE = """
import json, statistics, sys, time
import attn_widget
from attn_widget import AttentionWidget
from bench.synthetic import causal_attention, tokens
a, t = causal_attention({n}), tokens({n})
AttentionWidget(a, t).close()  # warm-up: imports, thread pools, first allocations
times = []
for _ in range({builds}):
    start = time.perf_counter()
    w = AttentionWidget(a, t)
    times.append(time.perf_counter() - start)
    w.close()
print(json.dumps({{"times_s": times, "module": attn_widget.__file__}}))
"""


def cpu_idle(seconds: float = 2.0) -> float:
    """Fraction of CPU time idle over the next ``seconds`` (all cores)."""

    def sample() -> list[int]:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:]]

    a = sample()
    time.sleep(seconds)
    d = [y - x for x, y in zip(a, sample(), strict=False)]
    return (d[3] + d[4]) / max(1, sum(d))


def wait_quiet(limit_s: float) -> float:
    """Wait until the CPUs are at least 85 % idle (other work on the machine done), at most
    ``limit_s``; the idle fraction last seen."""
    deadline = time.time() + limit_s
    while True:
        idle = cpu_idle()
        if idle >= 0.85 or time.time() > deadline:
            return idle


def busy_processes(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def measure_build(checkout: pathlib.Path, builds: int, busy: int) -> dict[str, Any]:
    """Build times in a fresh interpreter importing ``checkout``'s attn_widget."""
    env = dict(os.environ, PYTHONPATH=str(checkout), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", ""))
    if not env["OMP_NUM_THREADS"]:
        env.pop("OMP_NUM_THREADS")
    loops = busy_processes(busy)
    try:
        time.sleep(0.3 if busy else 0)
        out = subprocess.run(
            [sys.executable, "-c", BUILD_CODE.format(n=N, builds=builds)],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        for p in loops:
            p.kill()
            p.wait()
    if out.returncode != 0:
        raise RuntimeError(f"build in {checkout} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def process_cpu_ms() -> dict[str, int]:
    """CPU milliseconds used so far, summed by role: Chromium's renderers, the Jupyter server,
    kernels, the rest of Chromium."""
    roles = {"renderer": 0, "jupyter_server": 0, "kernel": 0, "chromium_other": 0}
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
            cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ms = int((int(fields[11]) + int(fields[12])) * tick_ms)
        if "chromium" in cmd and "--type=renderer" in cmd:
            roles["renderer"] += ms
        elif "chromium" in cmd:
            roles["chromium_other"] += ms
        elif "ipykernel_launcher" in cmd:
            roles["kernel"] += ms
        elif "jupyter" in cmd and " lab" in cmd or "jupyter-lab" in cmd:
            roles["jupyter_server"] += ms
    return roles


def measure_switches(
    browser: Any, url: str, workdir: pathlib.Path, checkout: pathlib.Path, name: str, switches: int
) -> dict[str, Any]:
    from bench.compare import SWITCH_PROBE  # timed as compare.py times it
    from tests.support.lab import open_and_run_all, write_notebook
    from tests.support.widget_page import cell_center

    notebook = f"switch_{name}.ipynb"
    write_notebook(
        workdir / notebook,
        [
            f"import sys; sys.path.insert(0, {str(checkout)!r})\n"
            "import attn_widget\nfrom attn_widget import AttentionWidget\n"
            "from bench.synthetic import causal_attention, tokens\n"
            f"assert attn_widget.__file__.startswith({str(checkout)!r}), attn_widget.__file__\n"
            f"w = AttentionWidget(causal_attention({N}), tokens({N}))\nw"
        ],
    )
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    try:
        open_and_run_all(page, url, notebook, timeout_ms=300_000)
        root = page.locator("[data-testid=attn-widget]")
        page.locator("[data-testid=attn-widget][data-ready=true]").wait_for(timeout=300_000)
        page.wait_for_timeout(1000)  # the first paint's replies and the kernel's idle messages
        page.evaluate(SWITCH_PROBE)
        rng = np.random.default_rng(3)
        done = 0
        cpu0, wall0 = process_cpu_ms(), time.time()
        for _ in range(switches):
            layer, head = int(rng.integers(0, 12)), int(rng.integers(0, 12))
            if root.get_attribute("data-head-shown") == f"{layer},{head}":
                continue
            page.evaluate("k => window.__expect(k)", f"{layer},{head}")
            page.mouse.click(*cell_center(page, "attn-grid", layer, head))
            page.wait_for_function(
                "k => document.querySelector('[data-testid=attn-widget]').dataset.headShown === k",
                arg=f"{layer},{head}",
                timeout=60_000,
            )
            done += 1
            page.wait_for_function(f"() => window.__switch.exact.length >= {done}", timeout=10_000)
            page.wait_for_timeout(150)  # a pause between clicks, as a user makes
        cpu1, wall1 = process_cpu_ms(), time.time()
        times = page.evaluate("() => window.__switch")
    finally:
        xsrf = next((c["value"] for c in context.cookies() if c["name"] == "_xsrf"), "")
        for kernel in context.request.get(f"{url}/api/kernels").json():
            context.request.delete(f"{url}/api/kernels/{kernel['id']}", headers={"X-XSRFToken": xsrf})
        context.close()
    return {
        "exact_ms": times["exact"],
        "picture_ms": times["picture"],
        "cpu_ms_per_switch": {k: round((cpu1[k] - cpu0[k]) / max(1, done), 1) for k in cpu0},
        "wall_s": round(wall1 - wall0, 2),
    }


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"median": float(statistics.median(values)), "p95": float(np.percentile(values, 95)), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder for house_512.json and house_512.md")
    parser.add_argument(
        "--compare", type=pathlib.Path, nargs="+", help="checkouts to measure in turns (default: the one on PYTHONPATH)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="turns per checkout")
    parser.add_argument("--builds", type=int, default=7, help="builds per measurement (median)")
    parser.add_argument("--busy", type=int, nargs="+", default=[1], help="busy processes for the loaded build measurements")
    parser.add_argument("--switches", type=int, default=20, help="clicks per checkout and round")
    parser.add_argument(
        "--quiet-wait", type=float, default=120, help="seconds to wait at most for idle CPUs before each measurement"
    )
    parser.add_argument("--no-switch", action="store_true", help="build times only (no JupyterLab)")
    args = parser.parse_args()

    if args.compare:
        checkouts = [c.resolve() for c in args.compare]
    else:
        import attn_widget

        checkouts = [pathlib.Path(attn_widget.__file__).resolve().parents[1]]
    names = [f"{i}-{c.name}" for i, c in enumerate(checkouts)]
    for c in checkouts:
        if not (c / "attn_widget" / "static" / "widget.js").exists():
            raise SystemExit(f"{c}: no attn_widget/static/widget.js; run `npm run build` there first")
    sys.path.insert(0, str(ROOT))  # bench and tests.support: the switch probe, JupyterLab, Chromium

    results: dict[str, dict[str, Any]] = {
        n: {"checkout": str(c), "build": [], "switch": []} for n, c in zip(names, checkouts, strict=True)
    }
    for rnd in range(args.rounds):
        for name, checkout in zip(names, checkouts, strict=True):
            idle = wait_quiet(args.quiet_wait)
            quiet = measure_build(checkout, args.builds, 0)
            row: dict[str, Any] = {
                "round": rnd,
                "idle_before": round(idle, 2),
                "quiet_s": quiet["times_s"],
                "module": quiet["module"],
            }
            for busy in args.busy:
                row[f"busy{busy}_s"] = measure_build(checkout, args.builds, busy)["times_s"]
            results[name]["build"].append(row)
            print(name, "build", {k: round(statistics.median(v), 3) for k, v in row.items() if k.endswith("_s")}, flush=True)

    browser_version = ""
    if not args.no_switch:
        from playwright.sync_api import sync_playwright

        from tests.support.chromium import launch
        from tests.support.lab import jupyter_lab

        work = pathlib.Path(tempfile.mkdtemp(prefix="attn-house512-"))
        with sync_playwright() as p:
            browser = launch(p)
            browser_version = browser.version
            with jupyter_lab(work) as url:
                for rnd in range(args.rounds):
                    for name, checkout in zip(names, checkouts, strict=True):
                        idle = wait_quiet(args.quiet_wait)
                        got = measure_switches(browser, url, work, checkout, f"{name}-{rnd}", args.switches)
                        got.update(round=rnd, idle_before=round(idle, 2))
                        results[name]["switch"].append(got)
                        print(
                            name,
                            "switch exact median",
                            round(statistics.median(got["exact_ms"]), 1),
                            "ms",
                            got["cpu_ms_per_switch"],
                            flush=True,
                        )
            browser.close()

    summary = {}
    for name, r in results.items():
        s: dict[str, Any] = {"build_quiet_s": stats([x for b in r["build"] for x in b["quiet_s"]])}
        for busy in args.busy:
            s[f"build_busy{busy}_s"] = stats([x for b in r["build"] for x in b[f"busy{busy}_s"]])
        if r["switch"]:
            s["switch_exact_ms"] = stats([x for sw in r["switch"] for x in sw["exact_ms"]])
            s["switch_picture_ms"] = stats([x for sw in r["switch"] for x in sw["picture_ms"]])
            s["switch_exact_median_per_round_ms"] = [round(statistics.median(sw["exact_ms"]), 1) for sw in r["switch"]]
            s["cpu_ms_per_switch"] = {
                k: round(statistics.median([sw["cpu_ms_per_switch"][k] for sw in r["switch"]]), 1)
                for k in r["switch"][0]["cpu_ms_per_switch"]
            }
        summary[name] = s
    record = {
        "command": " ".join(sys.argv),
        "machine": {"cores": os.cpu_count(), "chromium": browser_version, "python": sys.version.split()[0]},
        "n_tokens": N,
        "budgets": {"build_quiet_s": 0.2, "build_busy_vs_quiet": 2.0, "switch_exact_median_ms": 100},
        "summary": summary,
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "house_512.json").write_text(json.dumps(record, indent=1))
    (args.out / "house_512.md").write_text(report(record, args.busy))
    print((args.out / "house_512.md").read_text())


def report(record: dict[str, Any], busy: list[int]) -> str:
    def ms(s: dict[str, float], scale: float = 1.0) -> str:
        return f"{s['median'] * scale:.0f} ms / {s['p95'] * scale:.0f} ms" if s else "–"

    head = "| checkout | build quiet (median / p95) | " + " | ".join(f"build, {b} busy" for b in busy)
    head += " | switch exact (median / p95) | first picture (median) | switch medians by round | renderer / server / kernel CPU per switch |"
    lines = [
        f"# House budgets at N = {record['n_tokens']}",
        "",
        "Budgets: build <= 0.2 s quiet and at most twice that with a busy process; head switch <= 100 ms median.",
        "",
        head,
        "|" + "---|" * (6 + len(busy)),
    ]
    for name, s in record["summary"].items():
        cells = [name, ms(s["build_quiet_s"], 1000)] + [ms(s[f"build_busy{b}_s"], 1000) for b in busy]
        if "switch_exact_ms" in s:
            cpu = s["cpu_ms_per_switch"]
            cells += [
                ms(s["switch_exact_ms"]),
                f"{s['switch_picture_ms']['median']:.0f} ms",
                ", ".join(f"{v:.0f}" for v in s["switch_exact_median_per_round_ms"]),
                f"{cpu['renderer']:.0f} / {cpu['jupyter_server']:.0f} / {cpu['kernel']:.0f} ms",
            ]
        else:
            cells += ["–"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Command: `{record['command']}`; {record['machine']['cores']} cores, Chromium {record['machine']['chromium']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
