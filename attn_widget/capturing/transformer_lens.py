"""A TransformerLens ``ActivationCache`` (``model.run_with_cache(...)``) as a Capture.

Patterns are read from ``blocks.{l}.attn.hook_pattern`` when the cache kept them. Otherwise the
heads are rebuilt on demand from the queries and keys (``hook_rot_q``/``hook_rot_k`` for rotary
models, else ``hook_q``/``hook_k``), exactly as the model computes them: ``softmax(q k^T /
attn_scale)`` under the causal mask. Nothing N x N is stored then, which is what makes long
prompts fit. Any mapping with those hook names works (a plain dict too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import normalize_attention
from .recorder import RecordedCall
from .result import ArrayKind, Axis, Capture, RecordedKind
from .tokens import check_tokens


def _hook(layer: int, name: str) -> str:
    return f"blocks.{layer}.attn.{name}"


def _names(cache: Any) -> set[str]:
    keys = cache.keys() if hasattr(cache, "keys") else ()
    return {str(k) for k in keys}


def _layers(names: set[str], hook: str) -> int:
    n = 0
    while _hook(n, hook) in names:
        n += 1
    return n


def capture_from_cache(
    cache: Any,
    tokens: Sequence[str],
    *,
    example: int = 0,
    causal: bool | None = None,
    attn_scale: float | None = None,
) -> Capture:
    """The Capture of one example of ``cache``; ``causal`` and ``attn_scale`` default to the
    cache's model config (``cache.model.cfg``), else causal and sqrt(d_head)."""
    names = _names(cache)
    cfg = getattr(getattr(cache, "model", None), "cfg", None)
    n_pattern = _layers(names, "hook_pattern")
    if n_pattern:
        array = normalize_attention([cache[_hook(i, "hook_pattern")] for i in range(n_pattern)], example=example)
        axis = Axis.of(check_tokens(tokens, array.shape[-1]))
        return Capture([ArrayKind("self", array, axis, axis)])
    q_name, k_name = ("hook_rot_q", "hook_rot_k") if _layers(names, "hook_rot_q") else ("hook_q", "hook_k")
    n_layers = _layers(names, q_name)
    if not n_layers or _layers(names, k_name) != n_layers:
        raise ValueError(
            "cache has neither attention patterns (blocks.{l}.attn.hook_pattern) nor queries and keys "
            f"(blocks.{{l}}.attn.{q_name} and {k_name}): run the model with run_with_cache and keep "
            "'pattern', or the queries and keys (names_filter)"
        )
    rotary = cfg is not None and getattr(cfg, "positional_embedding_type", "") == "rotary"
    if rotary and q_name == "hook_q":
        raise ValueError(
            "this rotary model's cache has no rotated queries and keys (blocks.{l}.attn.hook_rot_q / hook_rot_k; "
            "hook_q and hook_k are taken before the rotation): keep hook_pattern, or hook_rot_q and hook_rot_k"
        )
    if cfg is not None and (getattr(cfg, "attn_scores_soft_cap", -1.0) or -1.0) > 0:
        raise ValueError("this model soft-caps its attention scores: keep hook_pattern in the cache to show it exactly")
    if causal is None:
        causal = getattr(cfg, "attention_dir", "causal") == "causal" if cfg is not None else True
    calls = []
    for layer in range(n_layers):
        q = _example(cache[_hook(layer, q_name)], example, q_name)  # (pos, H, d)
        k = _example(cache[_hook(layer, k_name)], example, k_name)
        d_head = int(q.shape[-1])
        configured = float(getattr(cfg, "attn_scale", -1.0) or -1.0)  # TransformerLens: -1 = sqrt(d_head)
        scale = attn_scale if attn_scale is not None else (configured if configured > 0 else math.sqrt(d_head))
        if cfg is not None and getattr(cfg, "use_attn_scale", True) is False:
            scale = 1.0
        calls.append(
            RecordedCall(
                module_name=f"blocks.{layer}.attn",
                q=q.transpose(0, 1).contiguous(),  # (H, pos, d)
                k=k.transpose(0, 1).contiguous(),
                mask=None,
                causal=bool(causal),
                scaling=1.0 / float(scale),
            )
        )
    axis = Axis.of(check_tokens(tokens, int(calls[0].q.shape[1])))
    return Capture([RecordedKind("self", calls, axis, axis)])


def _example(tensor: Any, example: int, name: str) -> Any:
    import torch

    t = torch.as_tensor(np.asarray(tensor)) if not isinstance(tensor, torch.Tensor) else tensor.detach()
    if t.ndim == 4:
        if not 0 <= example < t.shape[0]:
            raise ValueError(f"example must be in [0, {t.shape[0] - 1}] for {name} of shape {tuple(t.shape)}, got {example}")
        t = t[example]
    if t.ndim != 3:
        raise ValueError(f"{name} must have shape (batch, pos, heads, d_head), got {tuple(t.shape)}")
    return t
