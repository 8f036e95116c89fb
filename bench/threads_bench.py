"""Integrated gradients (1,024 steps) on the packaged grounding model, on an idle machine and with
one process keeping a core busy, with our thread policy (attn_widget/_threads.py: one torch thread
for a small model) and with torch's default: the reason for the policy, measured.

    .venv/bin/python bench/threads_bench.py --out bench/results/threads
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from attn_widget.attribution.saliency_cache import SaliencyCache  # noqa: E402
from attn_widget.grounding import load_grounding_model  # noqa: E402
from bench.widget_bench import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1024)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench/results/threads"))
    args = parser.parse_args()
    model, tokenizer = load_grounding_model()
    rows = []
    for busy in (False, True):
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            for policy in ("ours (1 thread for a small model)", "torch's default"):
                cache = SaliencyCache(model, tokenizer, "the horse ran to the", ig_steps=args.steps)
                if policy != "ours (1 thread for a small model)":
                    cache._threads = None
                cache.compute(None, None)
                start = time.perf_counter()
                cache.strip("integrated_gradients", 0, 0)
                rows.append({"busy": busy, "policy": policy, "seconds": round(time.perf_counter() - start, 2)})
                print(rows[-1], flush=True)
        finally:
            if burner is not None:
                burner.kill()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine("none (no browser)"), "steps": args.steps, "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    lines = ["| machine | policy | integrated gradients, 1,024 steps |", "|---|---|---|"]
    lines += [f"| {'one core busy' if r['busy'] else 'idle'} | {r['policy']} | {r['seconds']} s |" for r in rows]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
