"""Capture cost: attn_widget.capture (queries and keys kept, heads recomputed on demand) against a
plain SDPA forward and against eager ``output_attentions=True``, for N tokens, time and peak memory.

    .venv/bin/python bench/capture_bench.py                       # CPU, GPT-2-small shape, N = 128 .. 8192
    .venv/bin/python bench/capture_bench.py --sizes 128 256 --quick --out /tmp/c   # what CI runs
    .venv/bin/python bench/capture_bench.py --device cuda --shape llama-7b-gqa --dtype bfloat16 \\
        --sizes 1024 2048 4096 8192 --out bench/results/capture-cuda   # on a GPU machine

Each (mode, N) runs in its own Python process, so peak memory is that run's alone: on the CPU the
peak resident set (VmHWM, reset after the model is built) minus the resident set before the run;
on CUDA ``max_memory_allocated`` minus the memory allocated before. "extra" is what the run added
on top of the model. Eager runs whose returned weights alone would not fit are not started; the
table says how much they would need. The model is randomly initialised (bench/models.py): costs
depend on its shape only. Times are medians of the repeats after one warm-up run (one run, no
warm-up, at N >= 4096 on the CPU, where a forward takes tens of seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = ("sdpa", "capture", "eager")


def _status_kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one mode at one N in this process and report time and peak extra memory."""
    import gc

    import torch

    from attn_widget.capturing.run import capture_ids
    from bench.models import SHAPES, IdTokenizer, build, random_ids

    device, n, mode = spec["device"], spec["n"], spec["mode"]
    model = build(spec["shape"], max(n, 1024), device, spec["dtype"], spec.get("layers"))
    inputs = random_ids(n, SHAPES[spec["shape"]]["vocab_size"], device)
    if mode == "eager":
        model.set_attn_implementation("eager")

    def run() -> Any:
        with torch.no_grad():
            if mode == "capture":
                return capture_ids(model, IdTokenizer(), inputs)
            out = model(**inputs, use_cache=False, output_attentions=mode == "eager")
            if mode == "eager":
                assert out.attentions and out.attentions[0] is not None
            return out

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    times = []
    cpu_slow = device == "cpu" and n >= 4096
    repeats = 1 if cpu_slow else spec["repeats"]
    if not cpu_slow:
        result = run()  # warm-up (kernels, allocator)
        del result
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (peak RSS) to the current RSS
        before = _status_kib("VmRSS") * 1024
    peak = 0
    held = 0
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        result = run()
        sync()
        times.append(time.perf_counter() - t)
        if device == "cuda":
            peak = max(peak, torch.cuda.max_memory_allocated() - before)
            held = torch.cuda.memory_allocated() - before
        else:
            peak = max(peak, _status_kib("VmHWM") * 1024 - before)
            held = _status_kib("VmRSS") * 1024 - before
        head_ms = None
        if mode == "capture":
            held = result.nbytes  # exact: the recorded queries, keys and masks
            t = time.perf_counter()
            result.attention(result.n_layers // 2, 1)
            head_ms = (time.perf_counter() - t) * 1000
        del result
        gc.collect()
    return {
        "seconds_median": statistics.median(times),
        "seconds_all": times,
        "peak_extra_bytes": int(peak),
        "held_after_bytes": int(held),
        "one_head_ms": head_ms,
        "threads": torch.get_num_threads(),
    }


def eager_weight_bytes(spec: dict[str, Any]) -> int:
    from bench.models import SHAPES

    s = SHAPES[spec["shape"]]
    layers = spec.get("layers") or s.get("n_layer") or s.get("num_hidden_layers")
    heads = s.get("n_head") or s.get("num_attention_heads")
    itemsize = 4 if spec["dtype"] == "float32" else 2
    return int(layers) * int(heads) * spec["n"] ** 2 * itemsize


def available_bytes(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(0).total_memory)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def measure(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    row: dict[str, Any] = {"mode": spec["mode"], "n_tokens": spec["n"]}
    if spec["mode"] == "eager":
        need = eager_weight_bytes(spec)
        row["eager_weights_bytes"] = need
        if need > 0.8 * available_bytes(spec["device"]):
            row["skipped"] = f"the returned weights alone need {need / 2**30:.1f} GiB (out of memory)"
            return row
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"},
        )
    except subprocess.TimeoutExpired:
        row["error"] = f"no result within {timeout:.0f} s"
        return row
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        row["error"] = "out of memory" if done.returncode in (-9, 137) or "out of memory" in done.stderr.lower() else tail[:200]
        return row
    row.update(json.loads(lines[-1]))
    return row


def gib(b: int | None) -> str:
    return "" if b is None else f"{b / 2**30:.3f}"


def report(rows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    by = {(r["n_tokens"], r["mode"]): r for r in rows}
    sizes = sorted({r["n_tokens"] for r in rows})
    out = [
        f"Shape {info['shape']} ({info['dtype']}) on {info['device_name']}; command: `{info['command']}`",
        "",
        "| N | SDPA forward s | capture s | capture / SDPA | eager s | SDPA extra GiB | capture extra GiB (held after) | eager extra GiB | one head recomputed ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        s, c, e = by.get((n, "sdpa"), {}), by.get((n, "capture"), {}), by.get((n, "eager"), {})
        ratio = f"{c['seconds_median'] / s['seconds_median']:.2f}x" if "seconds_median" in c and "seconds_median" in s else ""
        eager_t = f"{e['seconds_median']:.2f}" if "seconds_median" in e else e.get("skipped", e.get("error", ""))
        eager_m = gib(e.get("peak_extra_bytes")) if "peak_extra_bytes" in e else ""
        cap_m = (
            f"{gib(c.get('peak_extra_bytes'))} ({gib(c.get('held_after_bytes'))})"
            if "peak_extra_bytes" in c
            else c.get("error", "")
        )
        head = f"{c['one_head_ms']:.0f}" if c.get("one_head_ms") is not None else ""
        out.append(
            f"| {n} | {s.get('seconds_median', float('nan')):.2f} | {c.get('seconds_median', float('nan')):.2f} | {ratio} | {eager_t} "
            f"| {gib(s.get('peak_extra_bytes'))} | {cap_m} | {eager_m} | {head} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096, 8192])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--shape", default="gpt2-small")
    parser.add_argument("--layers", type=int, help="use this many layers of the shape (memory per layer is unchanged)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--quick", action="store_true", help="1 repeat (CI: proves it runs)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "results" / "capture")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return
    if args.quick:
        args.repeats = 1
    import platform

    import torch

    device_name = (
        torch.cuda.get_device_name(0)
        if args.device == "cuda"
        else f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"
    )
    if args.device == "cpu":
        from bench.machine import cpu_name

        name = cpu_name("")
        device_name = f"{name}, {os.cpu_count()} cores" if name else device_name
    info = {
        "shape": args.shape,
        "layers": args.layers,
        "dtype": args.dtype,
        "device": args.device,
        "device_name": device_name,
        "torch": torch.__version__,
        "command": " ".join(["bench/capture_bench.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    import transformers

    info["transformers"] = transformers.__version__
    rows = []
    for n in args.sizes:
        for mode in args.modes.split(","):
            spec = {
                "shape": args.shape,
                "layers": args.layers,
                "device": args.device,
                "dtype": args.dtype,
                "n": n,
                "mode": mode,
                "repeats": args.repeats,
            }
            row = measure(spec, args.timeout)
            rows.append(row)
            shown = {k: v for k, v in row.items() if k != "seconds_all"}
            print(json.dumps(shown), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"machine": info, "results": rows}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(report(rows, info))
    print(report(rows, info))
    print(f"wrote {args.out.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
