"""One cell's pre-softmax score as a sum of (query component x key component) terms.

``score = scale * q_i . k_j``; with the norms frozen, ``q_i = sum_a q_i[a]`` and ``k_j = sum_b
k_j[b]`` over the residual stream's components (``stream.py``), so ``score = sum_(a, b) scale *
q_i[a] . k_j[b]``. For a family that soft-caps its scores (Gemma 2) this is the score *before* the
cap; ``capped_score`` gives the model's ``cap * tanh(score / cap)``, which is not a sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ...capturing.residuals import ResidualRecording
from .stream import head_vectors, stream_before, through_norm


class Term(NamedTuple):
    query_component: str
    key_component: str
    value: float


@dataclass(frozen=True)
class Explanation:
    """Why head ``layer``/``head`` gives the cell (``query``, ``key``) its score.

    ``components``: the residual stream's parts at the head's input (the same names on both sides;
    on the query side they are read at the query's position, on the key side at the key's).
    ``query_vectors`` / ``key_vectors`` (C, d): each component's share of q_i and k_j (after the
    frozen norms, projection, QK-norm and rotary). ``matrix`` (C, C): ``scale * q_i[a] . k_j[b]``."""

    layer: int
    head: int
    query: int
    key: int
    query_token: str
    key_token: str
    scale: float
    components: tuple[str, ...]
    query_vectors: np.ndarray
    key_vectors: np.ndarray
    matrix: np.ndarray
    softcap: float | None = None
    masked: bool = False  # the model never lets this query see this key (the score is not used)

    @property
    def score(self) -> float:
        """The pre-softmax score, ``scale * q_i . k_j`` (before any soft-cap), the terms' sum."""
        return float(self.matrix.sum())

    @property
    def capped_score(self) -> float:
        """The score the softmax sees in a soft-capping family (Gemma 2), else ``score``."""
        return self.score if self.softcap is None else float(self.softcap * math.tanh(self.score / self.softcap))

    @property
    def terms(self) -> list[Term]:
        """Every (query component, key component, value), largest ``|value|`` first."""
        order = np.argsort(-np.abs(self.matrix), axis=None, kind="stable")
        n = len(self.components)
        return [Term(self.components[i // n], self.components[i % n], float(self.matrix.flat[i])) for i in order]

    @property
    def by_query(self) -> dict[str, float]:
        """Each query-side component's share of the score (its row of terms summed)."""
        return dict(zip(self.components, (float(v) for v in self.matrix.sum(1)), strict=True))

    @property
    def by_key(self) -> dict[str, float]:
        """Each key-side component's share of the score."""
        return dict(zip(self.components, (float(v) for v in self.matrix.sum(0)), strict=True))

    @property
    def dims(self) -> np.ndarray:
        """``scale * q_i * k_j`` per dimension of the head (bertviz's neuron view): sums to ``score``."""
        return self.scale * self.query_vectors.sum(0) * self.key_vectors.sum(0)

    def to_frame(self) -> Any:
        """The terms as a pandas DataFrame: query_component, key_component, value."""
        import pandas as pd

        return pd.DataFrame(self.terms, columns=["query_component", "key_component", "value"])

    def __repr__(self) -> str:
        top = ", ".join(f"{a} x {b}: {v:+.3g}" for a, b, v in self.terms[:3])
        return f"Explanation(L{self.layer}H{self.head} {self.query_token!r} -> {self.key_token!r}: score {self.score:+.4g}; {top}, ...)"


def explain_cell(
    rec: ResidualRecording, layer: int, head: int, query: int, key: int, *, tokens: list[str], masked: bool = False
) -> Explanation:
    """Decompose the score of head ``head`` of block ``layer`` at (``query``, ``key``)."""
    s = rec.structure
    parts = s.layers[layer]
    positions = [rec.row_of(query), rec.row_of(key)]  # the recording's rows (a row chunk's, for long inputs)
    stream = stream_before(rec, layer, positions)
    x = through_norm(stream, parts.attn_norm, rec.attn_norm[layer], positions)  # (C, 2, D)
    q = head_vectors(rec, layer, head, "q", x[:, 0], positions[0])
    k = head_vectors(rec, layer, head * parts.n_kv_heads // parts.n_heads, "k", x[:, 1], positions[1])
    scale = float(parts.attention.scaling)
    matrix = scale * (q @ k.T)
    return Explanation(
        layer,
        head,
        query,
        key,
        tokens[query],
        tokens[key],
        scale,
        tuple(stream.names),
        q.numpy(),
        k.numpy(),
        matrix.numpy(),
        s.attn_softcap,
        masked,
    )
