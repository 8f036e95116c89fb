"""Direct logit attribution at one position: each component of the final residual stream through
the final norm (scale frozen) and the unembedding. The components' contributions plus the
constants (the norms' shifts, output biases, the unembedding's bias) sum to the model's logits at
that position; for a family that soft-caps its logits (Gemma 2) to the logits before the cap.

"Direct" means the path straight to the output: what a head writes that later blocks read and
transform is counted in *their* components, not in the head's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ...capturing.residuals import ResidualRecording
from .stream import stream_before, through_norm


@dataclass(frozen=True)
class Writes:
    """What head ``layer``/``head`` writes at ``query``, read directly by the unembedding.

    ``promoted`` / ``suppressed``: (token, logit contribution) of the head, the k largest and
    smallest. ``components`` (C) and ``by_component`` (C, V): every component's direct logit
    attribution; ``constants`` (V): the rest; their sum is ``logits``. ``by_component`` is computed
    when first read (C x D x V multiply-adds, about 0.5 s on GPT-2 small), the rest at once."""

    layer: int
    head: int
    query: int
    query_token: str
    head_logits: np.ndarray
    promoted: list[tuple[str, float]]
    suppressed: list[tuple[str, float]]
    components: tuple[str, ...]
    constants: np.ndarray
    logits: np.ndarray  # the model's logits at ``query`` (float64, before any soft-cap)
    softcap: float | None
    normed: Any = field(repr=False)  # (C, D) float64: each component after the final norm
    w_u: Any = field(repr=False)

    @cached_property
    def by_component(self) -> np.ndarray:
        """Every component's direct logit attribution (C, V)."""
        return unembed(self.normed, self.w_u).float().numpy()

    @property
    def capped_logits(self) -> np.ndarray:
        """The logits the model outputs (after Gemma 2's soft-cap, where it has one)."""
        if self.softcap is None:
            return self.logits
        return self.softcap * np.tanh(self.logits / self.softcap)

    def of(self, component: str) -> np.ndarray:
        """One component's direct logit attribution (V,)."""
        i = self.components.index(component)
        return unembed(self.normed[i : i + 1], self.w_u)[0].numpy()

    def __repr__(self) -> str:
        up = ", ".join(f"{t!r} {v:+.3g}" for t, v in self.promoted[:3])
        down = ", ".join(f"{t!r} {v:+.3g}" for t, v in self.suppressed[:3])
        return f"Writes(L{self.layer}H{self.head} at {self.query_token!r}: promotes {up}; suppresses {down})"


#: Vocabulary columns converted at a time for a half-precision unembedding (a float32 copy of a
#: whole one is V x D x 4 bytes).
VOCAB_CHUNK = 16384


def unembed(normed: Any, w_u: Any) -> Any:
    """``normed`` (C, D) float64 through the unembedding (D, V), on its device, in float32 (its own
    dtype when wider): a full-vocabulary product is memory-bound, and a float64 copy of the
    unembedding would cost more than the product itself. Returns float64 on the CPU."""
    import torch

    dtype = w_u.dtype if w_u.dtype in (torch.float32, torch.float64) else torch.float32
    x = normed.to(device=w_u.device, dtype=dtype)
    if w_u.dtype == dtype:
        out = x @ w_u
    else:
        width = int(w_u.shape[1])
        out = torch.cat([x @ w_u[:, i : i + VOCAB_CHUNK].to(dtype) for i in range(0, width, VOCAB_CHUNK)], dim=1)
    return out.to(device="cpu", dtype=torch.float64)


def writes_at(
    rec: ResidualRecording, layer: int, head: int, query: int, k: int, *, tokens: list[str], decode: Callable[[int], str]
) -> Writes:
    """The direct logit attribution of every component at ``query``, and head (``layer``, ``head``)'s
    k most promoted and suppressed tokens."""
    import torch

    s = rec.structure
    if s.w_u is None:
        raise NotImplementedError(f"writes: {s.no_unembedding}")
    positions = [rec.row_of(query)]
    stream = stream_before(rec, len(s.layers), positions)
    normed = through_norm(stream, s.final_norm, rec.final_norm, positions)[:, 0]  # (C, D)
    head_row = stream.names.index(f"L{layer}H{head}")
    # three rows through the unembedding now (the head, the constants, the sum); every component's when asked
    rows = unembed(torch.stack([normed[head_row], normed[-1], normed[:-1].sum(0)]), s.w_u)
    head_logits = rows[0].numpy()
    constants = rows[1] + (0 if s.b_u is None else s.b_u)
    logits = rows[2] + constants
    k = min(k, int(head_logits.shape[0]))
    top = np.argsort(-head_logits, kind="stable")[:k]
    bottom = np.argsort(head_logits, kind="stable")[:k]
    return Writes(
        layer,
        head,
        query,
        tokens[query],
        head_logits,
        [(decode(int(i)), float(head_logits[i])) for i in top],
        [(decode(int(i)), float(head_logits[i])) for i in bottom],
        tuple(stream.names[:-1]),
        constants.numpy(),
        logits.numpy(),
        s.logit_softcap,
        normed[:-1],
        s.w_u,
    )
