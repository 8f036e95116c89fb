"""``w.explain`` and ``w.writes``: why a head attends where it does (an exact decomposition of a
cell's score over the residual stream's parts) and what it writes towards the output (direct logit
attribution), for a widget made from a model. A mixin, so the widget class stays one screen; the
page's explain panel asks through the ``"explain"`` message (``explain_reply.py``).

The residual parts come from the capture's own pass (``capture(..., explain=True)``) or from a
second pass over the same inputs the first time they are asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._checks import is_int
from ..attribution.decomposition import Explanation, Writes, explain_cell, writes_at
from ..capturing.residuals import recorded_residuals, source_of
from .explain_reply import explain_reply

if TYPE_CHECKING:
    from ..capturing.result import Capture
    from .messages import Messages


class Explaining:
    """The explain part of ``AttentionWidget`` (a mixin)."""

    _messages: Messages
    layer: int
    head: int
    query: int
    key: int
    kind: str
    capture: Capture

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # the widget builds its Messages before calling up to here: the page may ask at once
        self._messages.handlers["explain"] = self._explain_from_page
        super().__init__(*args, **kwargs)

    def explain(
        self, layer: int | None = None, head: int | None = None, query: int | None = None, key: int | None = None
    ) -> Explanation:
        """The score of head (``layer``, ``head``) at the cell (``query``, ``key``) (default: the
        selection) as a sum over (query component x key component) of ``scale * q_i[a] . k_j[b]``.

        Components: ``"embed"``, ``"pos_embed"`` (absolute positions), ``"type_embed"`` (BERT),
        ``"L{l}H{h}"`` (each earlier head through its share of the output projection),
        ``"L{l}.mlp"`` and ``"bias"`` (every constant), with each norm's scale frozen at this
        forward pass's value. ``.score``, ``.terms``, ``.by_query``, ``.by_key``, ``.dims``,
        ``.to_frame()``. For Gemma 2 it is the score before soft-capping (``.capped_score`` after)."""
        layer, head, query, key = self._cell(layer, head, query, key)
        rec = recorded_residuals(self.capture, (query, key))
        call = self.capture.kind("self").calls[layer]  # type: ignore[attr-defined]
        allowed = call.allowed("cpu")
        masked = allowed is not None and not bool(allowed[query, key])
        return explain_cell(rec, layer, head, query, key, tokens=self.capture.tokens, masked=masked)

    def writes(self, layer: int | None = None, head: int | None = None, query: int | None = None, k: int = 10) -> Writes:
        """What head (``layer``, ``head``) writes at ``query`` (default: the selection), read by the
        unembedding through the final norm (scale frozen): its ``k`` most ``promoted`` and
        ``suppressed`` tokens with their logit contributions, and every component's direct logit
        attribution (``by_component``), which with ``constants`` sums to the model's ``logits``."""
        if not is_int(k, numpy_ok=True) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        layer, head, query, _ = self._cell(layer, head, query, 0)
        rec = recorded_residuals(self.capture, (query,))
        source = source_of(self.capture)
        tokenizer = None if source is None else source.tokenizer
        if tokenizer is None:
            raise ValueError("writes needs the tokenizer the capture was made with")
        return writes_at(rec, layer, head, query, int(k), tokens=self.capture.tokens, decode=lambda i: tokenizer.decode([i]))

    def _cell(self, layer: int | None, head: int | None, query: int | None, key: int | None) -> tuple[int, int, int, int]:
        if self.capture.kinds != ("self",):
            raise NotImplementedError(
                f"explain covers a model's self-attention (one kind, 'self'); this capture has {', '.join(self.capture.kinds)}"
            )
        n_layers, n_heads, n, _ = self.capture.shape("self")
        chosen = (
            ("layer", self.layer if layer is None else layer, n_layers),
            ("head", self.head if head is None else head, n_heads),
            ("query", self.query if query is None else query, n),
            ("key", self.key if key is None else key, n),
        )
        for name, value, size in chosen:
            if not is_int(value, numpy_ok=True) or not 0 <= value < size:
                what = "select a cell (click the heatmap) or pass" if value == -1 else "pass"
                raise ValueError(f"explain: {name} is {value!r}; {what} {name}= in [0, {size - 1}] (one head, not an aggregate)")
        return tuple(int(v) for _, v, _ in chosen)  # type: ignore[return-value]

    def _explain_from_page(self, content: dict[str, Any]) -> None:
        """The panel's request: the explanation and what the head writes, as the panel shows them."""
        self.send(explain_reply(self, content))  # type: ignore[attr-defined]
