"""What happens at N = 131,072 tokens (issue 9 asked to try it), kernel side only: the
long-context benchmark's Llama-shaped model ("llama-long", bench/models.py) captured in this
process, then the widget built and asked for the tiles a view would ask for.

Reports the memory estimate the capture checks before it runs, the capture time, the widget's
build time with estimated grid scores, the size of the widget's first message, the time of the
overview after a head switch (cold: one pass over the head for its row log-sum-exps; warm: the
same head again), a cell-level tile checked against the same rows recomputed directly, and the
peak memory beyond the stored queries and keys. No browser: at this size a plain SDPA forward
alone takes minutes on two cores, and the page's side does not depend on N (it asks for what it
shows).

    .venv/bin/python bench/very_long.py --n 131072 --out bench/results/very-long
    .venv/bin/python bench/very_long.py --n 4096 --out /tmp/very-long   # proves it runs
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import threading
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.exact_rows import exact_rows  # noqa: E402

OVERVIEW_BLOCKS = 512  # a heatmap about 512 pixels across: the overview's block side is N / 512
TILE_BLOCKS = 256  # blocks per tile side, as the views ask


def _rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


class PeakMemory:
    """Peak resident memory, sampled every 50 ms on a thread."""

    def __init__(self) -> None:
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _rss())


def overview(w: Any, layer: int, head: int, n: int) -> float:
    """Seconds for every tile of the overview of one head, as a view would ask for them."""
    block = max(1, 1 << max(0, (n // OVERVIEW_BLOCKS - 1).bit_length()))
    span = block * TILE_BLOCKS
    t0 = time.perf_counter()
    for q0 in range(0, n, span):
        for k0 in range(0, q0 + span, span):  # causal: tiles above the diagonal are never asked for
            w.tile(layer, head, (q0, min(n, q0 + span), k0, min(n, k0 + span)), block)
    return time.perf_counter() - t0


def cells_exact(w: Any, capture: Any, layer: int, head: int, q0: int, k0: int, size: int = 32) -> float:
    """Largest difference between a cell-level tile and the same rows' softmax recomputed directly."""
    tile = w.tile(layer, head, (q0, q0 + size, k0, k0 + size), 1)
    rows = exact_rows(capture, layer, head, q0, q0 + size)[:, k0 : k0 + size]
    return float(abs(tile.values - rows).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=131_072)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "results" / "very-long")
    args = parser.parse_args()
    import torch
    from ipywidgets.widgets.widget import _remove_buffers

    from attn_widget import AttentionWidget
    from attn_widget.capturing.memory import available_bytes, capture_need
    from attn_widget.capturing.run import capture_ids
    from bench.models import IdTokenizer, build, random_ids

    n = args.n
    row: dict[str, Any] = {"n_tokens": n}
    model = build("llama-long", n)
    need = capture_need(model.config, n, 4)
    assert need is not None
    row.update(
        estimate_kept_bytes=need.kept,
        estimate_transient_bytes=need.transient,
        available_bytes=available_bytes(torch.device("cpu")),
    )
    ids = random_ids(n, 32000)
    t0 = time.perf_counter()
    c = capture_ids(model, IdTokenizer(32000), ids)
    row["capture_s"] = time.perf_counter() - t0
    row["qk_bytes"] = c.nbytes
    base = _rss()
    memory = PeakMemory()
    t0 = time.perf_counter()
    w = AttentionWidget(c)
    row["build_s"] = time.perf_counter() - t0
    state, _, buffers = _remove_buffers(w.get_state())
    row["opening_message_bytes"] = len(json.dumps(state)) + sum(len(bytes(b)) for b in buffers)
    row["grid_progress_at_build"] = list(w.grid_progress)
    layer, head = 1, 7
    row["overview_cold_s"] = overview(w, layer, head, n)
    row["overview_warm_s"] = overview(w, layer, head, n)
    q0 = n - 100
    t0 = time.perf_counter()
    row["cells_max_abs_error"] = cells_exact(w, c, layer, head, q0, q0 - 40)
    row["cells_s"] = time.perf_counter() - t0
    progress = w.grid_progress
    row["grid_progress_after"] = list(progress)
    row["python_beyond_qk_bytes"] = memory.stop() - base
    w.close()
    row["machine"] = f"{platform.machine()}, {torch.get_num_threads()} threads, {platform.platform()}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(row, indent=1))
    mb = lambda b: f"{b / 1e6:.0f} MB"  # noqa: E731
    lines = [
        f"# N = {n} tokens (bench/very_long.py)",
        "",
        f"{row['machine']}",
        "",
        f"`bench/very_long.py --n {n} --out {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}`",
        "",
        "| figure | value |",
        "|---|---|",
        f"| capture: estimated before it runs (kept + during the pass) / available | {mb(need.kept)} + {mb(need.transient)} / {mb(row['available_bytes'] or 0)} |",
        f"| capture | {row['capture_s']:.1f} s |",
        f"| stored queries and keys | {mb(row['qk_bytes'])} |",
        f"| widget built with estimated scores | {row['build_s']:.2f} s |",
        f"| the widget's first message (token lists) | {row['opening_message_bytes'] / 1e6:.1f} MB |",
        f"| overview of a head not yet refined (one pass for its log-sum-exps) | {row['overview_cold_s']:.1f} s |",
        f"| overview of the same head again | {row['overview_warm_s']:.2f} s |",
        f"| 32 x 32 cells, largest difference from a direct softmax of those rows | {row['cells_max_abs_error']:.1e} ({row['cells_s']:.2f} s) |",
        f"| grid heads exact at the end of the run (the worker ran meanwhile) | {row['grid_progress_after'][0]} of {row['grid_progress_after'][1]} |",
        f"| Python memory beyond stored q/k (peak) | {mb(row['python_beyond_qk_bytes'])} |",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
