"""Direct logit attribution at one position: each component of the final residual stream through
the final norm (scale frozen) and the unembedding. The components' contributions plus the
constants (the norms' shifts, output biases, the unembedding's bias) sum to the model's logits at
that position; for a family that soft-caps its logits (Gemma 2) to the logits before the cap.

"Direct" means the path straight to the output: what a head writes that later blocks read and
transform is counted in *their* components, not in the head's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...capturing.residuals import ResidualRecording
from .stream import stream_before, through_norm


@dataclass(frozen=True)
class Writes:
    """What head ``layer``/``head`` writes at ``query``, read directly by the unembedding.

    ``promoted`` / ``suppressed``: (token, logit contribution) of the head, the k largest and
    smallest. ``components`` (C) and ``by_component`` (C, V): every component's direct logit
    attribution; ``constants`` (V): the rest; their sum is ``logits``."""

    layer: int
    head: int
    query: int
    query_token: str
    head_logits: np.ndarray
    promoted: list[tuple[str, float]]
    suppressed: list[tuple[str, float]]
    components: tuple[str, ...]
    by_component: np.ndarray
    constants: np.ndarray
    logits: np.ndarray  # the model's logits at ``query`` (float64, before any soft-cap)
    softcap: float | None = None

    @property
    def capped_logits(self) -> np.ndarray:
        """The logits the model outputs (after Gemma 2's soft-cap, where it has one)."""
        if self.softcap is None:
            return self.logits
        return self.softcap * np.tanh(self.logits / self.softcap)

    def of(self, component: str) -> np.ndarray:
        """One component's direct logit attribution (V,)."""
        return self.by_component[self.components.index(component)]

    def __repr__(self) -> str:
        up = ", ".join(f"{t!r} {v:+.3g}" for t, v in self.promoted[:3])
        down = ", ".join(f"{t!r} {v:+.3g}" for t, v in self.suppressed[:3])
        return f"Writes(L{self.layer}H{self.head} at {self.query_token!r}: promotes {up}; suppresses {down})"


def writes_at(
    rec: ResidualRecording, layer: int, head: int, query: int, k: int, *, tokens: list[str], decode: Callable[[int], str]
) -> Writes:
    """The direct logit attribution of every component at ``query``, and head (``layer``, ``head``)'s
    k most promoted and suppressed tokens."""
    s = rec.structure
    if s.w_u is None:
        raise NotImplementedError(f"writes: {s.no_unembedding}")
    positions = [query]
    stream = stream_before(rec, len(s.layers), positions)
    normed = through_norm(stream, s.final_norm, rec.final_norm, positions)[:, 0]  # (C, D)
    per_component = normed @ s.w_u  # (C, V)
    constants = per_component[-1] + (0 if s.b_u is None else s.b_u)
    logits = per_component[:-1].sum(0) + constants
    head_logits = per_component[stream.names.index(f"L{layer}H{head}")].numpy()
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
        per_component[:-1].float().numpy(),
        constants.numpy(),
        logits.numpy(),
        s.logit_softcap,
    )
