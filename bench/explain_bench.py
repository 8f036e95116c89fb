"""What one cell's explanation costs once the residual parts are recorded: ``w.explain(...)`` and
``w.writes(...)`` at N = 1,024 tokens on a GPT-2-small-shaped model (12 layers x 12 heads, 768
wide, 50,257-token vocabulary) with random weights (none are downloadable here; the arithmetic does
not depend on their values). Also recorded: the recording pass itself (a second forward pass, or
the capture's own with ``explain=True``) and the parts' size. Budget (issue 22): <= 200 ms a cell,
timed at the last layer, whose query and key are built from every earlier component.

    .venv/bin/python bench/explain_bench.py --out bench/results/explain.json
    .venv/bin/python bench/explain_bench.py --quick --out /tmp/explain.json   # CI: proves it runs
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


def model(quick: bool) -> Any:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    shape = (
        dict(n_layer=2, n_head=4, n_embd=64, vocab_size=1000, bos_token_id=0, eos_token_id=0)
        if quick
        else dict(n_layer=12, n_head=12, n_embd=768)
    )
    return GPT2LMHeadModel(GPT2Config(n_positions=1024, **shape)).eval()


class NumberedTokenizer:
    """Enough of a tokenizer for token labels (the ids are random; no vocabulary is needed)."""

    all_special_ids: list[int] = []

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [f"t{i}" for i in ids]

    def convert_tokens_to_string(self, pieces: list[str]) -> str:
        return " ".join(pieces)

    def decode(self, ids: list[int]) -> str:
        return self.convert_tokens_to_string(self.convert_ids_to_tokens(ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--cells", type=int, default=20, help="cells timed (random, at the last layer)")
    parser.add_argument("--quick", action="store_true", help="a tiny model, 64 tokens, 3 cells")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from attn_widget import AttentionWidget
    from attn_widget.capturing.residuals import recorded_residuals
    from attn_widget.capturing.run import capture_ids

    n, cells = (64, 3) if args.quick else (args.tokens, args.cells)
    m = model(args.quick)
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, int(m.config.vocab_size), (1, n), generator=generator)
    encoded = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    start = time.perf_counter()
    captured = capture_ids(m, NumberedTokenizer(), encoded)
    capture_s = time.perf_counter() - start
    start = time.perf_counter()
    rec = recorded_residuals(captured)  # the second pass, recording the parts
    record_s = time.perf_counter() - start
    w = AttentionWidget(captured)
    last = int(m.config.n_layer) - 1
    picks = torch.randint(0, n, (cells, 2), generator=generator).tolist()
    w.explain(last, 0, n - 1, 0)  # warm up (first use of each code path)
    explain_ms, writes_ms = [], []
    for i, (a, b) in enumerate(picks):
        query, key = max(a, b), min(a, b)
        start = time.perf_counter()
        w.explain(last, i % int(m.config.n_head), query, key)
        explain_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        w.writes(last, i % int(m.config.n_head), query, k=10)
        writes_ms.append(1000 * (time.perf_counter() - start))
    result = {
        "benchmark": "explain",
        "model": "GPT-2-small shape, random weights" if not args.quick else "tiny GPT-2 (quick)",
        "tokens": n,
        "layer_timed": last,
        "cells": cells,
        "capture_seconds": capture_s,
        "recording_pass_seconds": record_s,
        "recorded_mb": rec.nbytes / 2**20,
        "explain_ms": {"median": statistics.median(explain_ms), "max": max(explain_ms)},
        "writes_ms": {"median": statistics.median(writes_ms), "max": max(writes_ms)},
        "budget_ms": 200,
        "machine": {
            "cpu": cpu_name(platform.processor() or "unknown"),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("recording_pass_seconds", "recorded_mb", "explain_ms", "writes_ms")}, indent=2))


if __name__ == "__main__":
    main()
