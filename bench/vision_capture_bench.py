"""Capture cost on pictures: ``attn_widget.capture(model, processor, images=...)`` against the same
model's plain forward (SDPA, what a user runs anyway) and against eager ``output_attentions=True``.
The budget (issue 19) is capture <= 1.5x the plain forward.

    .venv/bin/python bench/vision_capture_bench.py --out bench/results/vision-capture   # ViT-B/16 and a LLaVA shape
    .venv/bin/python bench/vision_capture_bench.py --patches 64 --shapes vit-base --quick --out /tmp/v   # what CI runs

Shapes (random weights: cost depends on shape only): ``vit-base`` is ViT-B/16 (12 layers x 12 heads,
width 768) at a square input of 16 sqrt(P) pixels, P patches plus CLS; ``llava-336`` is LLaVA-1.5's
vision tower (CLIP ViT-L/14 at 336 px: 24 layers x 16 heads, 576 patches) in front of a small Llama
(8 layers x 16 heads, width 1024), with a short prompt. The picture is scikit-learn's sample photo.
Each (shape, size) runs in its own process, its modes taking turns; times are medians after a warm-up
run of each. Capture's time includes the processor's call (a few ms); the plain forward's inputs are made once.
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
BUDGET = 1.5  # capture / plain forward
EAGER_MAX_BYTES = 4 * 2**30  # eager runs whose returned weights need more are not started


def build(shape: str, patches: int) -> tuple[Any, Any, str | None]:
    """(model, processor, prompt) for a shape at ``patches`` patches (vit-base only)."""
    if shape == "vit-base":
        from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

        side = 16 * round(patches**0.5)
        config = ViTConfig(
            image_size=side, patch_size=16, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
        )
        return ViTModel._from_config(config).eval(), ViTImageProcessorPil(size={"height": side, "width": side}), None
    if shape == "llava-336":
        from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaImageProcessorPil, LlavaProcessor

        from tests.support.vision_models import tokenizer_with

        tokenizer = tokenizer_with(["<image>"])
        images = LlavaImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
        processor = LlavaProcessor(
            image_processor=images,
            tokenizer=tokenizer,
            patch_size=14,
            vision_feature_select_strategy="default",
            num_additional_image_tokens=1,
        )
        vision = dict(
            model_type="clip_vision_model",
            image_size=336,
            patch_size=14,
            hidden_size=1024,
            num_hidden_layers=24,
            num_attention_heads=16,
            intermediate_size=4096,
        )
        text = dict(
            model_type="llama",
            hidden_size=1024,
            num_hidden_layers=8,
            num_attention_heads=16,
            num_key_value_heads=16,
            intermediate_size=2816,
            vocab_size=len(tokenizer),
        )
        config = LlavaConfig(
            vision_config=vision,
            text_config=text,
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
            image_seq_length=576,
        )
        model = LlavaForConditionalGeneration._from_config(config).eval()
        return model, processor, "<image> A child painted a picture of a horse. What is in the picture?"
    raise ValueError(f"--shapes: expected vit-base or llava-336, got {shape!r}")


def child(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every mode of one shape at one size, in this process, taking turns (sdpa, capture, eager,
    sdpa, ...) so that a change in the machine's load falls on all of them alike."""
    import torch

    from attn_widget import capture
    from tests.support.vision_models import sample_image

    model, processor, prompt = build(spec["shape"], spec["patches"])
    image = sample_image()
    inputs = processor(images=image, text=prompt, return_tensors="pt") if prompt else processor(images=image, return_tensors="pt")
    tokens: dict[str, int] = {}

    def run(mode: str) -> float:
        model.set_attn_implementation("eager" if mode == "eager" else "sdpa")
        t = time.perf_counter()
        with torch.no_grad():
            if mode == "capture":  # the processor's call included: the plain forward's inputs are made once, outside
                result = capture(model, processor, prompt, images=image)
                tokens.update({kind: result.shape(kind)[-1] for kind in result.kinds})
            else:
                model(**inputs, output_attentions=mode == "eager")
        return time.perf_counter() - t

    for mode in spec["modes"]:
        run(mode)  # warm-up
    times: dict[str, list[float]] = {mode: [] for mode in spec["modes"]}
    for _ in range(spec["repeats"]):
        for mode in spec["modes"]:
            times[mode].append(run(mode))
    return [
        {
            "mode": mode,
            "seconds_median": statistics.median(t),
            "seconds_all": t,
            "tokens": tokens,
            "threads": torch.get_num_threads(),
        }
        for mode, t in times.items()
    ]


def measure(spec: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "PYTHONPATH": str(ROOT)}
    base = {"shape": spec["shape"], "patches": spec["patches"]}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return [{**base, "mode": m, "error": f"no result within {timeout:.0f} s"} for m in spec["modes"]]
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    if done.returncode != 0 or not lines:
        error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:300]
        return [{**base, "mode": m, "error": error} for m in spec["modes"]]
    return [{**base, **row} for row in json.loads(lines[-1])]


def report(rows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    out = [
        f"{info['device_name']}, torch {info['torch']}, transformers {info['transformers']}; command: `{info['command']}`",
        "",
        f"| shape | patches | tokens per kind (capture) | plain forward (SDPA) s | capture s | capture / forward (budget {BUDGET}x) | eager output_attentions s |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["shape"], r["patches"]) for r in rows})
    for shape, patches in keys:
        by = {r["mode"]: r for r in rows if (r["shape"], r["patches"]) == (shape, patches)}
        s, c, e = by.get("sdpa", {}), by.get("capture", {}), by.get("eager", {})

        def t(r: dict[str, Any]) -> str:
            return f"{r['seconds_median']:.3f}" if "seconds_median" in r else r.get("error", "")

        ratio = f"{c['seconds_median'] / s['seconds_median']:.2f}x" if "seconds_median" in c and "seconds_median" in s else ""
        tokens = ", ".join(f"{k} {v}" for k, v in (c.get("tokens") or {}).items())
        out.append(f"| {shape} | {patches} | {tokens} | {t(s)} | {t(c)} | {ratio} | {t(e)} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--shapes", nargs="+", default=["vit-base", "llava-336"])
    parser.add_argument("--patches", type=int, nargs="+", default=[196, 1024, 4096], help="vit-base sizes (square numbers)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--quick", action="store_true", help="1 repeat (CI: proves it runs)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "results" / "vision-capture")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return
    if args.quick:
        args.repeats = 1
    import torch
    import transformers

    from bench.machine import cpu_name

    info = {
        "device_name": f"{cpu_name('CPU')}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "command": " ".join(["bench/vision_capture_bench.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    rows = []
    for shape in args.shapes:
        for patches in args.patches if shape == "vit-base" else [576]:
            modes = args.modes.split(",")
            if shape == "vit-base" and 144 * (patches + 1) ** 2 * 4 > EAGER_MAX_BYTES and "eager" in modes:
                modes.remove("eager")  # what output_attentions returns alone would crowd the machine
                rows.append(
                    {
                        "shape": shape,
                        "patches": patches,
                        "mode": "eager",
                        "error": f"not run: its weights alone need {144 * (patches + 1) ** 2 * 4 / 2**30:.1f} GiB",
                    }
                )
            spec = {"shape": shape, "patches": patches, "modes": modes, "repeats": args.repeats}
            for row in measure(spec, args.timeout):
                print(json.dumps({k: row.get(k) for k in ("shape", "patches", "mode", "seconds_median", "error")}), flush=True)
                rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vision-capture.json").write_text(json.dumps({"info": info, "rows": rows}, indent=1))
    (args.out / "vision-capture.md").write_text(report(rows, info))
    print(report(rows, info))
    failed = [row for row in rows if "error" in row and not row["error"].startswith("not run:")]
    if failed:  # CI runs this small to prove it works: a mode that could not run is a failure
        sys.exit(f"{len(failed)} measurement(s) failed, first: {failed[0]['error']}")


if __name__ == "__main__":
    main()
