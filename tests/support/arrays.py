"""Attention arrays with known properties, shared by the Python and browser tests."""

import numpy as np


def softmax_attention(layers=2, heads=3, n=5, seed=0, causal=False):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(layers, heads, n, n)).astype(np.float32) * 2
    if causal:
        logits = np.where(np.tril(np.ones((n, n), bool)), logits, -np.inf)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


TOKENS = ["The", "cat", "sat", "down", "."]
