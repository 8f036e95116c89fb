"""Arrays users hand us, checked and brought to float32 ``(L, H, Nq, Nk)``. Pure numpy: the
errors name the argument, what was expected and what came."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import is_int


def to_numpy(array: Any, name: str) -> np.ndarray:
    """A float32 numpy copy of a numpy array, torch tensor or nested sequence, named in errors."""
    if hasattr(array, "detach") and hasattr(array, "cpu"):  # torch.Tensor, without importing torch
        array = array.detach().cpu().float().numpy()
    try:
        out = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array or tensor, got {type(array).__name__}: {err}") from None
    return out


def normalize_attention(attention: Any, example: int | None = None, *, square: bool = True) -> np.ndarray:
    """Bring attention to a float32 ``(L, H, N, N)`` array, validating as it goes.

    Accepts what Hugging Face returns (a tuple or list with one ``(B, H, N, N)`` tensor per layer),
    or one ``(L, H, N, N)`` / ``(L, B, H, N, N)`` tensor or array. ``example`` picks one sequence
    from a batch; a batch of more than one without it is an error rather than a silent choice.
    ``square=False`` accepts (L, H, Nq, Nk) with Nq != Nk (cross-attention).
    """
    if isinstance(attention, (tuple, list)):
        if len(attention) == 0:
            raise ValueError(
                "attention is an empty sequence: expected one (batch, heads, N, N) tensor per layer. "
                "Under transformers v5, outputs[-1] of an encoder such as BERT is its (empty) "
                "cross_attentions: take outputs.attentions. Under the default SDPA attention, "
                "output_attentions=True may return nothing; use AttentionWidget.from_model(...) or "
                "load the model with attn_implementation='eager'."
            )
        layers = [to_numpy(a, f"attention[{i}]") for i, a in enumerate(attention)]
        for i, a in enumerate(layers):
            if a.ndim != 4:
                raise ValueError(f"attention[{i}] must have shape (batch, heads, N, N), got shape {a.shape}")
            if a.shape != layers[0].shape:
                raise ValueError(
                    f"attention[{i}] has shape {a.shape} but attention[0] has {layers[0].shape}: "
                    "every layer must have the same (batch, heads, N, N)"
                )
        stacked = np.stack(layers, axis=1)  # (B, L, H, N, N)
        array = _pick_example(stacked, example, "attention (tuple of per-layer tensors)")
    else:
        array = to_numpy(attention, "attention")
        if array.ndim == 5:
            array = _pick_example(np.moveaxis(array, 1, 0), example, "attention (L, B, H, N, N)")
        elif array.ndim == 4:
            if example not in (None, 0):
                raise ValueError(
                    f"example={example} was given but attention of shape {array.shape} has no "
                    "batch axis (expected (L, B, H, N, N) or a tuple of (B, H, N, N))"
                )
        else:
            raise ValueError(
                "attention must have shape (layers, heads, N, N), a tuple of (batch, heads, N, N) "
                f"per layer, or (layers, batch, heads, N, N); got shape {array.shape}"
            )
    layers_, heads, n_q, n_k = array.shape
    if square and n_q != n_k:
        raise ValueError(f"attention must be square in its last two axes (query x key), got {n_q} x {n_k}")
    if 0 in array.shape:
        raise ValueError(f"attention must not be empty, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        layer, head, q, k = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"attention contains {int(bad.sum())} NaN or Inf values, the first at "
            f"layer {layer}, head {head}, query {q}, key {k} (value {array[layer, head, q, k]})"
        )
    return np.ascontiguousarray(array)


def _pick_example(batched: np.ndarray, example: int | None, what: str) -> np.ndarray:
    """``batched[example]`` for a ``(B, ...)`` array, with errors that say how to choose."""
    batch = batched.shape[0]
    if example is None:
        if batch != 1:
            raise ValueError(
                f"{what} holds a batch of {batch} sequences; pass example=i (0 <= i < {batch}) to choose which one to show"
            )
        return batched[0]
    if not is_int(example):
        raise TypeError(f"example must be an int, got {type(example).__name__}")
    if not 0 <= example < batch:
        raise ValueError(f"example must be in [0, {batch - 1}], got {example}")
    return batched[int(example)]
