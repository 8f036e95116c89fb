"""What watching a model write costs: ``AttentionWidget.generate(...)`` + ``wait()`` against plain
``model.generate`` with the same arguments, in one process, alternating, on the same machine.

The model is a GPT-2-small-shaped model (12 layers x 12 heads, 768 wide) with random weights (no
weights are downloadable here; the cost of a step does not depend on their values), greedy, with
``min_new_tokens`` so that both runs write exactly ``--new`` tokens. Also recorded: how long after
each step its row reached the widget's traits (``LiveFeed``'s work: snapshot, grid rows, traits),
which bounds what a page can draw. Budget (issue 20): widget <= 1.15 x plain.

    .venv/bin/python bench/live_generation_bench.py --new 256 --rounds 3 --out bench/results/live-generation.json
    .venv/bin/python bench/live_generation_bench.py --quick --out /tmp/live.json   # CI: proves it runs
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_name  # noqa: E402


def model_and_tokenizer(quick: bool) -> tuple[Any, Any]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from tests.support.models import byte_level_tokenizer

    tokenizer = byte_level_tokenizer()
    torch.manual_seed(0)
    shape = dict(n_layer=2, n_head=4, n_embd=64) if quick else dict(n_layer=12, n_head=12, n_embd=768)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=1024, **shape)
    return GPT2LMHeadModel(config).eval(), tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", type=int, default=256, help="tokens to generate")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a tiny model, 16 tokens, one round")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers

    from attn_widget import AttentionWidget

    transformers.logging.set_verbosity_error()
    new, rounds = (16, 1) if args.quick else (args.new, args.rounds)
    model, tokenizer = model_and_tokenizer(args.quick)
    prompt = "the cat sat on the mat and the dog sat on the log"
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    kwargs = {"max_new_tokens": new, "min_new_tokens": new, "do_sample": False, "pad_token_id": 0}

    def plain() -> float:
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
        return time.perf_counter() - start

    lags: list[float] = []

    def live() -> float:
        start = time.perf_counter()
        w = AttentionWidget.generate(model, tokenizer, prompt, **kwargs)
        shown: dict[int, float] = {}
        w.observe(lambda change: shown.setdefault(change["new"], time.time()), names=["n_tokens"])
        w.wait()
        elapsed = time.perf_counter() - start
        assert w.step == new, w.step
        for n, at in w._decoding.completed_at:  # type: ignore[union-attr]
            reached = min((t for m, t in shown.items() if m >= n), default=None)
            if reached is not None and n > len(ids[0]):
                lags.append(reached - at)
        return elapsed

    plain()  # warm up both paths once
    live()
    lags.clear()
    times: dict[str, list[float]] = {"plain": [], "widget": []}
    for _ in range(rounds):
        times["plain"].append(plain())
        times["widget"].append(live())
    medians = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "live_generation",
        "model": "GPT-2-small shape, random weights" if not args.quick else "tiny GPT-2 (quick)",
        "new_tokens": new,
        "rounds": rounds,
        "seconds": times,
        "median_seconds": medians,
        "ratio_widget_to_plain": medians["widget"] / medians["plain"],
        "budget_ratio": 1.15,
        "row_to_traits_ms": {
            "median": 1000 * statistics.median(lags) if lags else None,
            "p95": 1000 * sorted(lags)[int(0.95 * (len(lags) - 1))] if lags else None,
            "max": 1000 * max(lags) if lags else None,
        },
        "machine": {
            "cpu": cpu_name(platform.processor() or "unknown"),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("median_seconds", "ratio_widget_to_plain", "row_to_traits_ms")}, indent=2))


if __name__ == "__main__":
    main()
