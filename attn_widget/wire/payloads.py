"""The headers of the binary payloads that travel in traits (``docs/protocol.md``): every field
named once, here, and read by ``js/wire/protocol.ts``. Tile payloads, which travel in replies,
are built in ``protocol.py``."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dec3 import dec3_bytes

#: Pictures travel downscaled to at most this many pixels on their long side (the panel is a few
#: hundred pixels wide; a 4000-pixel photo would cost megabytes for nothing it can show)...
IMAGE_WIRE_SIDE = 1024
#: ...and halved again, down to IMAGE_MIN_SIDE, while all of them together exceed this: they
#: travel in the widget's first message, which must stay under MAX_MESSAGE_BYTES.
IMAGE_WIRE_BYTES = 1_000_000
IMAGE_MIN_SIDE = 256
JPEG_QUALITY = 90


def heads_payload(kind: str, attention: np.ndarray, sinks: np.ndarray | None = None) -> dict[str, Any]:
    """Every head of a kind at once (eager widgets): ``what="heads"``, (L, H, Nq, Nk) dec3; for
    heads with a sink, ``sinks``: each row's sink share, (L, H, Nq) dec3."""
    out = {"what": "heads", "kind": kind, "shape": list(attention.shape), "encoding": "dec3", "data": dec3_bytes(attention)}
    if sinks is not None:
        out["sinks"] = dec3_bytes(sinks)
    return out


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


def images_payload(images: Sequence[np.ndarray]) -> dict[str, Any]:
    """The input's pictures for the image panel, sent once: ``what="images"``, each picture
    downscaled to at most ``IMAGE_WIRE_SIDE`` pixels on its long side and encoded as JPEG, all of
    them one after another in ``data`` (``lengths`` says where each ends). ``sizes`` are the
    ORIGINAL [width, height] (patch boxes are in those pixels), ``wire_sizes`` what travels.
    ``{}`` for a capture without pictures (the page shows no panel)."""
    if not images:
        return {}
    side = IMAGE_WIRE_SIDE
    while True:
        encoded = [_jpeg(picture, side) for picture in images]
        if sum(len(data) for data, _ in encoded) <= IMAGE_WIRE_BYTES or side <= IMAGE_MIN_SIDE:
            break
        side //= 2
    return {
        "what": "images",
        "shape": [len(images)],
        "encoding": "jpeg",
        "sizes": [[int(p.shape[1]), int(p.shape[0])] for p in images],
        "wire_sizes": [list(size) for _, size in encoded],
        "lengths": [len(data) for data, _ in encoded],
        "data": b"".join(data for data, _ in encoded),
    }


def _jpeg(picture: np.ndarray, side: int) -> tuple[bytes, tuple[int, int]]:
    """JPEG bytes of ``picture`` with its long side at most ``side``, and the [width, height] sent."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(picture, dtype=np.uint8), "RGB")
    scale = min(1.0, side / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue(), (image.width, image.height)


def patches_payload(kind: str, patches: np.ndarray) -> dict[str, Any]:
    """One axis's patch map (``Axis.patches``): ``what="patches"``, ``shape [P, 6]``, little-endian
    int32 rows ``token, image, x0, y0, x1, y1`` (boxes in the original picture's pixels, end
    exclusive). ``{}`` for an axis without image patches."""
    rows = np.asarray(patches, dtype=np.int64)
    if rows.size == 0:
        return {}
    return {
        "what": "patches",
        "kind": kind,
        "shape": [int(rows.shape[0]), int(rows.shape[1])],
        "encoding": "int32",
        "data": rows.astype("<i4").tobytes(),
    }
