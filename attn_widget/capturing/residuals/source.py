"""How a capture gets its residual parts: recorded in its own pass (``capture(..., explain=True)``)
or in a second pass over the same inputs when first asked (``w.explain()``).

A long input whose parts would take more than ``RESIDUAL_BUDGET_BYTES`` is recorded in row chunks,
like tiles: each pass keeps only the ``CHUNK_ROWS``-row chunks that hold the positions asked for
(a cell's query and key), and the last few such recordings are kept.

A capture made from a model remembers the model weakly (the capture does not keep a model alive)
and its inputs; both maps are keyed weakly by the capture, so nothing outlives it.
"""

from __future__ import annotations

import dataclasses
import inspect
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .families import Structure, structure_of
from .recording import ResidualRecording, recording_residuals

#: Above this, a capture's residual parts are recorded in row chunks (float32 on the CPU).
RESIDUAL_BUDGET_BYTES = 2 * 2**30
#: Rows a chunk holds; a cell needs the chunks of its query and its key.
CHUNK_ROWS = 256
#: Chunked recordings kept per capture (the most recently used).
CHUNKS_KEPT = 4


def residual_bytes(structure: Structure, n_positions: int) -> int:
    """What recording every row of ``n_positions`` costs: embeddings, heads' outputs, MLPs (float32)."""
    heads, head_dim, d_model = (int(v) for v in structure.layers[0].w_o.shape)
    width = max(d_model, heads * head_dim)
    return 4 * n_positions * width * (len(structure.embeddings) + 2 * len(structure.layers))


def residuals_fit(model: Any, n_positions: int) -> bool:
    """Whether a whole recording of ``n_positions`` stays within the budget (else: row chunks)."""
    return residual_bytes(structure_of(model), n_positions) <= RESIDUAL_BUDGET_BYTES


@dataclass(frozen=True)
class ExplainSource:
    """What runs the capture's forward pass again: the model (weakly), its inputs on the CPU, the
    batch row and the positions kept (padding dropped)."""

    model: weakref.ref[Any]
    inputs: dict[str, Any]
    example: int
    keep: Any
    tokenizer: Any  # names the vocabulary's tokens for w.writes

    def live_model(self) -> Any:
        model = self.model()
        if model is None:
            raise RuntimeError("explain: the model this capture was made with is gone; capture again with explain=True")
        return model

    def record(self, positions: Sequence[int] | None = None) -> ResidualRecording:
        """A second forward pass, recording the residual parts (no gradients, eval mode): of every
        position, or only of ``positions`` (the capture's, padding dropped)."""
        import torch

        model = self.live_model()
        device = next(model.parameters()).device
        inputs = {k: v.to(device) for k, v in self.inputs.items()}
        rows = None if positions is None else self.keep.index_select(0, torch.tensor(list(positions), dtype=torch.long))
        was_training = model.training
        model.eval()
        try:
            with residuals_kept(model, self.example, rows) as recorded, torch.no_grad():
                model(**inputs, **quiet_forward(model))
        finally:
            model.train(was_training)
        if positions is None:
            return recorded[0].restrict(self.keep)
        return dataclasses.replace(recorded[0], positions=tuple(int(p) for p in positions))


def quiet_forward(model: Any) -> dict[str, Any]:
    """Forward arguments that keep no cache and skip the (N, vocab) logits where the model allows."""
    extra: dict[str, Any] = {"use_cache": False, "return_dict": True}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        extra["logits_to_keep"] = 1
    return extra


@contextmanager
def residuals_kept(model: Any, example: int, rows: Any = None) -> Iterator[list[ResidualRecording]]:
    """Around a forward pass: the residual recording (of the sequence positions ``rows`` only, if
    given), as the list's one item once the pass is done (the family is checked first, so a refused
    family is refused before anything runs)."""
    structure = structure_of(model)
    done: list[ResidualRecording] = []
    with recording_residuals(structure, example, rows) as rec:
        yield done
    done.append(rec)


_sources: weakref.WeakKeyDictionary[Any, ExplainSource] = weakref.WeakKeyDictionary()
_recorded: weakref.WeakKeyDictionary[Any, ResidualRecording] = weakref.WeakKeyDictionary()
_chunks: weakref.WeakKeyDictionary[Any, list[tuple[frozenset[int], ResidualRecording]]] = weakref.WeakKeyDictionary()


def remember_source(
    capture: Any, model: Any, tokenizer: Any, inputs: dict[str, Any], example: int, keep: Any, recorded: ResidualRecording | None
) -> None:
    """Keep how to rerun ``capture``'s pass (and the residual parts its pass recorded, if any)."""
    cpu = {k: v.detach().cpu() for k, v in inputs.items() if hasattr(v, "detach")}
    _sources[capture] = ExplainSource(weakref.ref(model), cpu, example, keep, tokenizer)
    if recorded is not None:
        _recorded[capture] = recorded.restrict(keep)


def source_of(capture: Any) -> ExplainSource | None:
    return _sources.get(capture)


def recorded_residuals(capture: Any, positions: Sequence[int] = ()) -> ResidualRecording:
    """The capture's residual parts, holding at least ``positions``: those its pass recorded, else a
    second pass's (kept for next time), of every position or, for a long input, of the row chunks
    that hold ``positions``."""
    if capture in _recorded:
        return _recorded[capture]
    source = _sources.get(capture)
    if source is None:
        raise ValueError(
            "explain needs the model and the text it read: this widget was made from arrays, a cache, pictures or "
            "live generation (use AttentionWidget.from_model(model, tokenizer, text) or "
            "attn_widget.capture(model, tokenizer, text, explain=True))"
        )
    n = int(source.keep.shape[0])
    if residuals_fit(source.live_model(), n):
        _recorded[capture] = source.record()
        return _recorded[capture]
    wanted = frozenset(int(p) // CHUNK_ROWS for p in positions)
    kept = _chunks.setdefault(capture, [])
    for i, (chunks, rec) in enumerate(kept):
        if wanted <= chunks:
            kept.append(kept.pop(i))  # the most recently used last
            return rec
    rows = [p for c in sorted(wanted) for p in range(c * CHUNK_ROWS, min(n, (c + 1) * CHUNK_ROWS))]
    kept.append((wanted, source.record(rows)))
    del kept[:-CHUNKS_KEPT]
    return kept[-1][1]
