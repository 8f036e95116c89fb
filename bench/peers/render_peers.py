"""Run inside bench/.venv-peers: write each peer's own HTML for the benchmark input.

    bench/.venv-peers/bin/python bench/peers/render_peers.py N OUTDIR

Writes bertviz_head_view.html, bertviz_model_view.html and circuitsvis_attention_heads.html
(CircuitsVis: the 12 heads of layer 0, its recommended view; its offline, inlined bundle) and
prints a JSON line with each page's size and the Python time it took to make.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.synthetic import causal_attention, tokens  # noqa: E402


def page(body: str) -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"


def main() -> None:
    n, out = int(sys.argv[1]), pathlib.Path(sys.argv[2])
    which = sys.argv[3].split(",") if len(sys.argv) > 3 else ["bertviz_head_view", "bertviz_model_view", "circuitsvis_attention_heads"]
    out.mkdir(parents=True, exist_ok=True)
    import torch

    attention = causal_attention(n)
    labels = tokens(n)
    as_tuple = tuple(torch.from_numpy(attention[layer][None]) for layer in range(attention.shape[0]))
    report = {}
    for name in which:
        start = time.perf_counter()
        if name == "bertviz_head_view":
            from bertviz import head_view

            html = head_view(as_tuple, labels, html_action="return").data
        elif name == "bertviz_model_view":
            from bertviz import model_view

            html = model_view(as_tuple, labels, html_action="return").data
        elif name == "circuitsvis_attention_heads":
            from circuitsvis.attention import attention_heads

            html = attention_heads(attention=torch.from_numpy(attention[0]), tokens=labels).local_src
        else:
            raise SystemExit(f"unknown view {name}")
        text = page(html)
        (out / f"{name}.html").write_text(text, encoding="utf-8")
        report[name] = {"python_s": time.perf_counter() - start, "bytes": len(text.encode("utf-8"))}
        del html, text
    print(json.dumps(report))


if __name__ == "__main__":
    main()
