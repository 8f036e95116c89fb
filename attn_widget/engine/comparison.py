"""Two runs over the same positions (a prompt and its corrupted copy, or one text through two
models), compared head by head: ``b - a`` per cell, and per head how much the rows' distributions differ.

The grid's comparison metrics, for heads ``a`` and ``b`` with rows ``a_i`` and ``b_i``:

- ``js_divergence``: mean over query rows of the Jensen-Shannon divergence
  ``JS(a_i, b_i) = (KL(a_i || m_i) + KL(b_i || m_i)) / 2`` with ``m_i = (a_i + b_i) / 2``, in
  nats (0 for identical rows, at most ln 2 = 0.693 for rows with disjoint support);
- ``max_abs_difference``: the largest ``|b - a|`` over every cell of the head.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from ..capturing.result import Axis, Capture, Kind
from ..capturing.run import capture
from .derived_heads import DifferenceHead, Part, weights_into
from .tiles import CHUNK_CELLS

#: lse(run, layer, head, source): the log-sum-exp of one run's recorded head.
LseOf = Callable[[str, int, int, Any], Any]

COMPARE_METRICS: dict[str, tuple[str, str]] = {
    "js_divergence": (
        "Jensen-Shannon divergence of b from a (nats, mean over queries)",
        "How differently each head distributes its attention in the two runs: 0 = the same rows, ln 2 = 0.693 = disjoint.",
    ),
    "max_abs_difference": (
        "largest |b - a| (any cell)",
        "The largest change of one attention weight between the two runs.",
    ),
}


def _listing(tokens: list[str], limit: int = 80) -> str:
    shown = tokens[:limit]
    more = f" ... ({len(tokens) - limit} more)" if len(tokens) > limit else ""
    return f"{shown!r}{more}"


def check_same_positions(a: Capture, b: Capture, labels: tuple[str, str]) -> None:
    """Refuse two captures whose kinds, layers, heads or token counts differ: a comparison is
    cell by cell, so position i must be position i in both (a corrupted prompt may change which
    token sits there, not how many there are)."""
    if a.kinds != b.kinds:
        raise ValueError(f"{labels[0]} has attention kinds {list(a.kinds)} but {labels[1]} has {list(b.kinds)}")
    for kind in a.kinds:
        ka, kb = a.kind(kind), b.kind(kind)
        for axis in ("keys", "queries"):
            ta, tb = getattr(ka, axis).tokens, getattr(kb, axis).tokens
            if len(ta) != len(tb):
                raise ValueError(
                    f"compare needs the same number of tokens, position by position, and these are tokenized "
                    f"differently:\n"
                    f"  {labels[0]} ({len(ta)} tokens): {_listing(ta)}\n"
                    f"  {labels[1]} ({len(tb)} tokens): {_listing(tb)}"
                )
        if ka.shape[:2] != kb.shape[:2]:
            raise ValueError(
                f"compare needs the same layers and heads: {labels[0]} has {ka.shape[0]} layers x {ka.shape[1]} heads "
                f"({kind!r}), {labels[1]} has {kb.shape[0]} x {kb.shape[1]}"
            )


def _merged(a: Axis, b: Axis, b_images_from: int) -> Axis:
    """One label per position: the token, or "a/b" where the runs put different tokens there.
    Image tokens keep both runs' patches: b's pictures come after a's (image ``b_images_from``
    on), so the image panel shows the same position's value on either run's picture."""
    tokens = [x if x == y else f"{x}/{y}" for x, y in zip(a.tokens, b.tokens, strict=True)]
    b_patches = b.patches.copy()
    b_patches[:, 1] += b_images_from
    patches = np.concatenate([a.patches, b_patches])
    return Axis.of(tokens, [x or y for x, y in zip(a.special, b.special, strict=True)], list(a.generated), patches)


def shown_capture(a: Capture, b: Capture) -> Capture:
    """Run a's capture with both runs' tokens on its axes (what the widget labels), and both
    runs' pictures (two images, one prompt: a's first)."""
    kinds = []
    for kind in a.kinds:
        shown = copy.copy(a.kind(kind))
        shown.queries = _merged(a.kind(kind).queries, b.kind(kind).queries, len(a.images))
        shown.keys = _merged(a.kind(kind).keys, b.kind(kind).keys, len(a.images))
        kinds.append(shown)
    return Capture(kinds, [*a.images, *b.images])


class Comparison:
    """Runs ``a`` and ``b`` (Captures over the same tokens), with the labels shown for them."""

    def __init__(self, a: Capture, b: Capture, labels: tuple[str, str] = ("a", "b")) -> None:
        check_same_positions(a, b, labels)
        self.a, self.b, self.labels = a, b, labels
        self.shown = shown_capture(a, b)
        self._scores: dict[tuple[str, str], np.ndarray] = {}

    def run(self, name: str) -> Capture:
        """Run ``"a"`` or ``"b"``."""
        return {"a": self.a, "b": self.b}[name]

    def parts(self, kind: str, layer: int, head: int, lse: LseOf) -> tuple[Part, Part]:
        """Head (layer, head) of each run as a part for derived heads; ``lse(run, layer, head,
        source)`` gives the log-sum-exp of a recorded head (the widget's tile engine caches them)."""
        out = []
        for run, captured in (("a", self.a), ("b", self.b)):
            source = captured.kind(kind).source(layer, head)
            out.append((source, lse(run, layer, head, source) if source.logits else None))
        return out[0], out[1]

    def difference(self, layer: int, head: int, kind: str | None = None) -> np.ndarray:
        """``b - a`` for one head, float32 (Nq, Nk)."""
        return self.b.attention(layer, head, kind) - self.a.attention(layer, head, kind)

    def scores(self, metric: str, kind: str, lse: LseOf) -> np.ndarray:
        """(L, H) values of a comparison metric (computed once per kind, row chunk by chunk)."""
        if metric not in COMPARE_METRICS:
            raise ValueError(f"metric must be one of {sorted(COMPARE_METRICS)}, got {metric!r}")
        if (metric, kind) not in self._scores:
            k: Kind = self.a.kind(kind)
            js = np.zeros((k.n_layers, k.n_heads), dtype=np.float64)
            peak = np.zeros_like(js)
            for layer in range(k.n_layers):
                for head in range(k.n_heads):
                    js[layer, head], peak[layer, head] = _head_difference(*self.parts(kind, layer, head, lse))
            self._scores[("js_divergence", kind)] = js.astype(np.float32)
            self._scores[("max_abs_difference", kind)] = peak.astype(np.float32)
        return self._scores[(metric, kind)]

    def source(self, kind: str, layer: int, head: int, lse: LseOf) -> DifferenceHead:
        return DifferenceHead(*self.parts(kind, layer, head, lse))


def _head_difference(a: Part, b: Part) -> tuple[float, float]:
    """(mean over rows of JS(a_i, b_i) in nats, largest |b - a|) for one pair of heads."""
    import torch

    n_q, n_k = a[0].n_q, a[0].n_k
    step = max(1, CHUNK_CELLS // max(1, n_k) // 4)
    total, peak = 0.0, 0.0
    with torch.no_grad():
        for r0 in range(0, n_q, step):
            r1 = min(n_q, r0 + step)
            wa = torch.empty((r1 - r0, n_k), dtype=torch.float32, device=a[0].device)
            wb = torch.empty_like(wa)
            weights_into(a, wa, slice(r0, r1), 0, n_k)
            weights_into(b, wb, slice(r0, r1), 0, n_k)
            wb = wb.to(wa.device)
            peak = max(peak, float((wb - wa).abs().max()))
            pa, pb = wa.double(), wb.double()
            m = (pa + pb) / 2
            kl_a = torch.where(pa > 0, pa * torch.log(pa / m.clamp_min(1e-300)), torch.zeros_like(pa)).sum(-1)
            kl_b = torch.where(pb > 0, pb * torch.log(pb / m.clamp_min(1e-300)), torch.zeros_like(pb)).sum(-1)
            total += float(((kl_a + kl_b) / 2).sum())
    return total / max(1, n_q), peak


def reference_js(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of the Jensen-Shannon divergence of two (N, N) heads, by plain loops."""
    total = 0.0
    for pa, pb in zip(a.astype(np.float64), b.astype(np.float64), strict=True):
        m = (pa + pb) / 2
        kl_a = sum(x * np.log(x / y) for x, y in zip(pa, m, strict=True) if x > 0)
        kl_b = sum(x * np.log(x / y) for x, y in zip(pb, m, strict=True) if x > 0)
        total += (kl_a + kl_b) / 2
    return total / len(a)


def runs_to_compare(
    a: Any, b: Any, tokens: Any = None, *, model: Any = None, tokenizer: Any = None, text: Any = None, labels: Any = ("a", "b")
) -> Comparison:
    """The two runs of ``AttentionWidget.compare``, whatever form they come in: two Captures, two
    attention arrays (with ``tokens``), two texts (with ``model`` and ``tokenizer``), or two
    models (with ``tokenizer``, or a pair of them, and ``text``)."""
    if not (isinstance(labels, (tuple, list)) and len(labels) == 2 and all(isinstance(x, str) and x for x in labels)):
        raise ValueError(f"labels must be two non-empty names (for a and b), got {labels!r}")
    names = (str(labels[0]), str(labels[1]))
    if isinstance(a, str) and isinstance(b, str):
        if model is None or tokenizer is None:
            raise ValueError("compare(text_a, text_b) needs model=... and tokenizer=... to run the texts")
        return Comparison(capture(model, tokenizer, a), capture(model, tokenizer, b), names)
    if _is_model(a) and _is_model(b):
        if tokenizer is None or not isinstance(text, str):
            raise ValueError("compare(model_a, model_b) needs tokenizer=... (or a pair) and text=... (a str) to run")
        tok_a, tok_b = tokenizer if isinstance(tokenizer, (tuple, list)) else (tokenizer, tokenizer)
        return Comparison(capture(a, tok_a, text), capture(b, tok_b, text), names)
    if isinstance(a, str) or isinstance(b, str) or _is_model(a) or _is_model(b):
        raise TypeError(
            f"compare takes two runs of the same form (two texts, two models, two captures or two arrays), "
            f"got {type(a).__name__} and {type(b).__name__}"
        )
    if text is not None or model is not None:
        raise ValueError(
            "text and model are for compare(text_a, text_b) or compare(model_a, model_b), not for captures or arrays"
        )
    return Comparison(_as_capture(a, tokens, "a"), _as_capture(b, tokens, "b"), names)


def _is_model(x: Any) -> bool:
    return hasattr(x, "config") and callable(x)


def _as_capture(x: Any, tokens: Any, name: str) -> Capture:
    if isinstance(x, Capture):
        if tokens is not None:
            raise ValueError("a Capture brings its own tokens: pass tokens only with arrays")
        return x
    if tokens is None:
        raise TypeError(f"tokens is required when {name} is an attention array: one label per position")
    return Capture.from_array(x, tokens)
