"""Attention rollout (Abnar & Zuidema 2020) of a captured kind, layer by layer, and its per-patch
map on the picture.

``R_l = A^_l ... A^_0`` with ``A^_i = rownorm(0.5 mean_h A_i + 0.5 I)``: how much each position
flows into each other through layers 0..l, if every layer mixed its input linearly by its
head-averaged attention plus the residual stream, half and half. It assumes that mixing; the
values and the MLPs a real layer applies are left out. Each row sums to 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .token_saliency import TokenAttribution

if TYPE_CHECKING:
    from ..capturing.result import Capture, Kind

#: Rollout holds N x N float32 matrices and multiplies them (N^3 per layer): refused above this.
ROLLOUT_MAX_TOKENS = 4096


class LayerRollout:
    """Rollout of one square kind through any layer, kept incrementally: the last product computed
    is reused when a later layer is asked for (a heatmap walks the layers one by one)."""

    def __init__(self, kind: Kind) -> None:
        n_layers, _, n_q, n_k = kind.shape
        if n_q != n_k or not kind.square:
            raise ValueError(
                f"attention rollout follows self-attention (queries and keys the same positions); "
                f"kind {kind.id!r} is {n_q} x {n_k}"
            )
        if n_k > ROLLOUT_MAX_TOKENS:
            raise MemoryError(
                f"attention rollout at N = {n_k} multiplies N x N matrices; it is offered up to N = {ROLLOUT_MAX_TOKENS}"
            )
        self.kind = kind
        self.n_layers = n_layers
        self._layer = -1
        self._product = np.eye(n_k)

    def step(self, layer: int) -> np.ndarray:
        """``A^_layer``, float64 (N, N)."""
        heads = self.kind.heads(layer, slice(None))
        n = heads.shape[-1]
        hat = 0.5 * heads.mean(axis=0, dtype=np.float64) + 0.5 * np.eye(n)
        return hat / hat.sum(axis=-1, keepdims=True)

    def through(self, layer: int) -> np.ndarray:
        """``R_layer``, float32 (N, N)."""
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"layer must be in [0, {self.n_layers - 1}], got {layer}")
        if layer < self._layer:
            self._layer, self._product = -1, np.eye(self._product.shape[0])
        while self._layer < layer:
            self._layer += 1
            self._product = self.step(self._layer) @ self._product
        return self._product.astype(np.float32)


def patch_rollout(capture: Capture, kind: str | None = None, *, layer: int = -1, query: int | None = None) -> TokenAttribution:
    """Rollout on the picture: one value per row of ``capture.patches(kind)`` (P,), from rollout
    rows through ``layer`` (-1: the last). ``query`` chooses the row for every patch. By default,
    for a ``vision`` kind each picture (each run of consecutive patch tokens: a picture, or a tile)
    takes the row of its CLS token, the first position before its patches that is no patch (ViT,
    DeiT, DINOv2, CLIP's tower), or when there is none (SigLIP) the mean of its patch rows; a
    language model's ``self`` kind takes the last token's row. ``.info["rows"]`` says which."""
    k = capture.kind(kind)
    patches = capture.patches(k.id)
    if len(patches) == 0:
        raise ValueError(f"kind {k.id!r} has no image tokens to draw rollout on")
    rollout = LayerRollout(k)
    matrix = rollout.through(rollout.n_layers - 1 if layer == -1 else layer)
    tokens = patches[:, 0].astype(np.int64)
    if query is not None:
        return TokenAttribution(matrix[query, tokens], method="attention rollout", rows=f"query {query}", tokens=tokens)
    if k.id != "vision":
        last = len(k.keys.tokens) - 1
        return TokenAttribution(matrix[last, tokens], method="attention rollout", rows=f"last token {last}", tokens=tokens)
    values = np.zeros(len(tokens), np.float32)
    said: set[str] = set()
    order = np.argsort(tokens, kind="stable")
    start, previous_end = 0, 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and tokens[order[stop]] == tokens[order[stop - 1]] + 1:
            stop += 1
        run = order[start:stop]
        first = int(tokens[run[0]])
        if first > previous_end:  # a position before the patches that is no patch: the CLS token
            values[run] = matrix[previous_end, tokens[run]]
            said.add("the CLS token's row (the first non-patch position before each picture's patches)")
        else:
            values[run] = matrix[tokens[run]].mean(axis=0)[tokens[run]]
            said.add("the mean of the patch rows (no CLS token)")
        previous_end, start = int(tokens[run[-1]]) + 1, stop
    return TokenAttribution(values, method="attention rollout", rows="; ".join(sorted(said)), tokens=tokens)


def rollout_matrix(rollouts: dict[str, LayerRollout], capture: Capture, kind: str, layer: int) -> np.ndarray:
    """``R_layer`` of ``kind``, from the cache ``rollouts`` (one ``LayerRollout`` per kind)."""
    if kind not in rollouts:
        rollouts[kind] = LayerRollout(capture.kind(kind))
    return rollouts[kind].through(layer)
