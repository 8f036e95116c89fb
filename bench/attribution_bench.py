"""Cost of the attribution methods on a GPT-2-small-shaped language model (randomly initialised,
bench/models.py), one text of N tokens, against a plain forward pass, on this machine's CPU.

    .venv/bin/python bench/attribution_bench.py                    # N = 128, 1024 -> bench/results/attribution.{json,md}
    .venv/bin/python bench/attribution_bench.py --sizes 32 --quick --out /tmp/a   # what CI runs

saliency = attention x gradient for every head and head importance together: one forward and one
backward pass (attn_widget.attribution.gates). Integrated gradients: 32 steps in batches of 8 (4 forward and
backward passes of 8 sequences) plus 2 forwards for the completeness gap. Rollout: a capture
(one SDPA forward) plus the product of head-averaged layers. Each figure is the median of the
repeats after one warm-up run; peak memory is the extra resident memory of that call.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    import gc

    fn()  # warm-up
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set
    before = _kib("VmRSS")
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
        del result
    return {"seconds_median": statistics.median(times), "seconds_all": times, "peak_extra_bytes": (_kib("VmHWM") - before) * 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 repeat (CI: proves it runs)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "results" / "attribution")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1

    import torch

    from attn_widget import attribution as attr
    from bench.models import IdTokenizer, build, random_text

    tokenizer = IdTokenizer()
    model = build("gpt2-small", max(args.sizes + [1024]), lm_head=True)
    rows = []
    for n in args.sizes:
        text = random_text(n)
        inputs = tokenizer(text, return_tensors="pt")

        def forward() -> Any:  # what predicting the next token needs: logits at the last position
            with torch.no_grad():
                return model(**inputs, use_cache=False, logits_to_keep=1).logits

        methods: dict[str, Callable[[], Any]] = {
            "plain forward (SDPA, no grad, last logits)": forward,
            "saliency: attention x gradient + head importance": lambda: attr.saliency(model, tokenizer, text),
            "gradient x input": lambda: attr.gradient_x_input(model, tokenizer, text),
            "integrated gradients (32 steps, batch 8)": lambda: attr.integrated_gradients(
                model, tokenizer, text, steps=32, batch_size=8
            ),
            "attention rollout": lambda: attr.attention_rollout(model, tokenizer, text),
        }
        for name, fn in methods.items():
            row = {"n_tokens": n, "method": name, **timed(fn, args.repeats)}
            rows.append(row)
            print(
                f"N={n:5d}  {name:50s} {row['seconds_median']:7.2f} s  peak +{row['peak_extra_bytes'] / 2**30:.2f} GiB",
                flush=True,
            )
    from bench.machine import cpu_name

    cpu = cpu_name("?")
    info = {
        "machine": f"{cpu}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "shape": "gpt2-small with LM head (50257 vocab), float32",
        "command": " ".join(["bench/attribution_bench.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    lines = [
        f"{info['shape']} on {info['machine']}, torch {info['torch']}; command: `{info['command']}`",
        "",
        "| N | method | time (median) | x plain forward | peak extra memory |",
        "|---|---|---|---|---|",
    ]
    for n in args.sizes:
        base = next(r for r in rows if r["n_tokens"] == n)["seconds_median"]
        for r in (r for r in rows if r["n_tokens"] == n):
            lines.append(
                f"| {n} | {r['method']} | {r['seconds_median']:.2f} s | {r['seconds_median'] / base:.1f}x | {r['peak_extra_bytes'] / 2**30:.2f} GiB |"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"machine": info, "results": rows}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
