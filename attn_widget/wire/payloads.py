"""The headers of the binary payloads that travel in traits (``docs/protocol.md``): every field
named once, here, and read by ``js/wire/protocol.ts``. Tile payloads, which travel in replies,
are built in ``protocol.py``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .dec3 import dec3_bytes


def heads_payload(kind: str, attention: np.ndarray) -> dict[str, Any]:
    """Every head of a kind at once (eager widgets): ``what="heads"``, (L, H, Nq, Nk) dec3."""
    return {"what": "heads", "kind": kind, "shape": list(attention.shape), "encoding": "dec3", "data": dec3_bytes(attention)}


def strip_payload(method: str, values: np.ndarray, **fields: Any) -> dict[str, Any]:
    """One value per key token for the strip: ``what="strip"``, ``method`` and what it was computed
    for (``layer``, ``head``, ``version``; for the queries row also ``kind``, ``quantity``, ``queries``)."""
    return {
        "what": "strip",
        "method": method,
        **fields,
        "shape": [int(values.size)],
        "encoding": "dec3",
        "data": dec3_bytes(values),
    }


def scores_payload(
    kind: str,
    metric: str,
    values: np.ndarray,
    *,
    rows: int,
    errors: np.ndarray | None = None,
    exact_heads: np.ndarray | None = None,
    sample: int = 0,
) -> dict[str, Any]:
    """The grid's ``what="scores"`` payload: values with their aggregates, and how exact they are.
    Without ``errors`` every value is exact; with them, 0 = exact and NaN = a lower bound (a
    sampled maximum), ``exact_heads`` says which heads are refined and ``sample`` from how many
    rows the others were estimated."""
    layers, heads = values.shape
    payload: dict[str, Any] = {"what": "scores", "kind": kind, "metric": metric, "shape": [layers, heads], "encoding": "dec3"}
    if errors is None or exact_heads is None:
        payload.update(exact=True, done=values.size, total=values.size, sample=0, rows=rows)
    else:
        lower_bound = np.isnan(errors)
        payload.update(
            exact=bool(exact_heads.all()),
            done=int(exact_heads.sum()),
            total=values.size,
            sample=sample,
            rows=rows,
            error=dec3_bytes(np.where(lower_bound, 0.0, errors)),
            exact_heads=exact_heads.astype(np.uint8).tobytes(),
            lower_bound=lower_bound.astype(np.uint8).tobytes(),
        )
    payload.update(_values_with_aggregates(values))
    return payload


def _values_with_aggregates(values: np.ndarray) -> dict[str, Any]:
    """The grid's values and their aggregates: per layer the mean over its heads, per head the mean
    over layers, and the mean of every head (heads without a value, NaN, left out), each as dec3
    with a byte per value saying whether it has none."""
    values = np.asarray(values, dtype=np.float64)
    defined = ~np.isnan(values)
    filled = np.where(defined, values, 0.0)

    def mean(axis: int | None) -> tuple[np.ndarray, np.ndarray]:
        count = defined.sum(axis=axis)
        total = filled.sum(axis=axis)
        return np.where(count > 0, total / np.maximum(count, 1), 0.0), count == 0

    per_layer, none_l = mean(1)
    per_head, none_h = mean(0)
    overall, none_all = mean(None)
    aggregates = np.concatenate([per_layer, per_head, np.atleast_1d(overall)])
    missing = np.concatenate([none_l, none_h, np.atleast_1d(none_all)])
    return {
        "data": dec3_bytes(filled),
        "undefined": (~defined).astype(np.uint8).tobytes(),
        "aggregates": dec3_bytes(aggregates),
        "aggregates_undefined": missing.astype(np.uint8).tobytes(),
    }
