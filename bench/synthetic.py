"""The benchmark's input, shared by every tool: GPT-2-small-shaped causal softmax attention
(12 layers x 12 heads) of random logits, and token labels. numpy only, so the peers' separate
environment can import it too."""

from __future__ import annotations

import numpy as np

LAYERS, HEADS = 12, 12


def causal_attention(n: int, seed: int = 0, layers: int = LAYERS, heads: int = HEADS) -> np.ndarray:
    """(layers, heads, n, n) float32, rows summing to 1, zeros above the diagonal; built a layer at
    a time so the temporary memory is one layer."""
    rng = np.random.default_rng(seed)
    out = np.empty((layers, heads, n, n), dtype=np.float32)
    future = np.triu(np.ones((n, n), dtype=bool), k=1)
    for layer in range(layers):
        logits = rng.standard_normal((heads, n, n), dtype=np.float32) * 2.5
        logits[:, future] = -np.inf
        logits -= logits.max(-1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(-1, keepdims=True)
        out[layer] = logits
    return out


def capture_widget_code(n: int) -> str:
    """Python that builds ``w``: the widget on a capture of a randomly initialised GPT-2-small-shaped
    model (bench/models.py) over n random tokens: the scalable path (heads recomputed on request)."""
    return (
        "from bench.models import IdTokenizer, build, random_ids\n"
        "from attn_widget import AttentionWidget\nfrom attn_widget.capturing.run import capture_ids\n"
        f"_m = build('gpt2-small', max({n}, 1024))\n"
        f"w = AttentionWidget.from_capture(capture_ids(_m, IdTokenizer(), random_ids({n}, 50257)))\n"
    )


def tokens(n: int) -> list[str]:
    words = "the cat sat on a mat because it was tired and then it slept".split()
    return [words[i % len(words)] for i in range(n)]
