"""The messages between the views and the kernel (docs/protocol.md; js/wire/protocol.ts mirrors it).

Every binary payload, whether it travels in a trait or in a custom message, is described by one
header object: ``what`` it is (``tile``, ``scores``, ``strip``, ``heads``), its ``shape``, the
``kind``, ``layer``, ``head``, ``level`` and ``window`` it covers, and how its bytes are encoded.
A view asks for tiles with ``{"type": "tile", "id", ...}``, or several at once with ``{"type":
"tiles", "requests": [...]}`` (one message to the kernel instead of one each); the kernel answers each request with
``{"type": "reply", "id", "ok", "request", "payload" | "error"}`` so a view can check the answer
against what it asked, and ids are unique across views (the view makes them, see js/tiles/tile_store.ts).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal, TypedDict

import numpy as np

from .._checks import is_int
from ..engine.tiles import MAX_BLOCK, MAX_TILE_BLOCKS, Tile, is_power_of_two, level_of

#: Tile requests one ``tiles`` message may carry (a page lets at most 16 travel at once).
MAX_BATCH_REQUESTS = 64
#: No message, in either direction, may be larger than this (Jupyter's server silently drops
#: messages over 10 MiB; a tile is at most 384 KiB).
MAX_MESSAGE_BYTES = 2 * 1000 * 1000


class TileRequest(TypedDict):
    type: Literal["tile"]
    id: str
    kind: str
    layer: int
    head: int
    quantity: str
    version: int
    window: list[int]  # q0, q1, k0, k1 (end exclusive)
    block: list[int]  # rows, cols per block (powers of two)


class Payload(TypedDict, total=False):
    what: Literal["tile", "scores", "strip", "heads"]
    shape: list[int]
    kind: str
    layer: int
    head: int
    level: int
    window: list[int]
    block: list[int]
    quantity: str
    version: int
    encoding: str  # "dec3" (uint16 per value); offsets inside blocks follow when "where" is set
    where: Literal["u8", "u16", "u32"] | None  # their type: the smallest that holds br * bc
    range: list[float]  # [lo, hi] of the whole head, for the colour scale
    sink: Literal["dec3"]  # a head with a sink: each tile row's sink share follows, one dec3 code a row


class ProtocolError(ValueError):
    """A request the kernel will not answer; the message goes back to the view."""


def _int(content: dict[str, Any], name: str) -> int:
    value = content.get(name)
    if not is_int(value, numpy_ok=False):
        raise ProtocolError(f"{name} must be an int, got {value!r}")
    return value


def parse_tile_request(
    content: Any,
    *,
    kinds: dict[str, tuple[int, ...]],
    quantities: tuple[str, ...],
    versioned: Collection[str] = (),
    version: int = 0,
) -> TileRequest:
    """Check a tile request against the widget; raise ProtocolError saying what is wrong.

    ``kinds`` maps each kind to its (layers, heads, queries, keys); ``quantities`` are those the
    widget offers, ``versioned`` those that change with the saliency target, and ``version`` the
    current saliency version (a request for attention x gradient of another target is stale)."""
    if not isinstance(content, dict):
        raise ProtocolError(f"a request must be an object, got {type(content).__name__}")
    request_id = content.get("id")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
        raise ProtocolError(f"id must be a non-empty string of at most 64 characters, got {request_id!r}")
    kind = content.get("kind")
    if not isinstance(kind, str) or kind not in kinds:  # a list or object is no kind (and cannot be hashed)
        raise ProtocolError(f"kind must be one of {sorted(kinds)}, got {kind!r}")
    n_layers, n_heads, n_q, n_k = kinds[kind]
    layer, head = _int(content, "layer"), _int(content, "head")
    if not -1 <= layer < n_layers or not -1 <= head < n_heads:
        raise ProtocolError(
            f"no head (layer={layer}, head={head}): layer must be in [-1, {n_layers - 1}] and head in [-1, {n_heads - 1}] "
            "(-1 = the mean over that axis)"
        )
    quantity = content.get("quantity", "attention")
    if not isinstance(quantity, str) or quantity not in quantities:
        raise ProtocolError(f"quantity must be one of {list(quantities)}, got {quantity!r}")
    asked_version = content.get("version", 0)
    if quantity in versioned and asked_version != version:
        raise ProtocolError(f"stale request: {quantity} is at version {version}, the request asked for {asked_version!r}")
    window, block = content.get("window"), content.get("block")
    if not (isinstance(window, list) and len(window) == 4 and all(is_int(v, numpy_ok=False) for v in window)):
        raise ProtocolError(f"window must be [q0, q1, k0, k1] (ints), got {window!r}")
    if not (isinstance(block, list) and len(block) == 2 and all(is_int(v, numpy_ok=False) for v in block)):
        raise ProtocolError(f"block must be [rows, cols] (ints), got {block!r}")
    q0, q1, k0, k1 = window
    br, bc = block
    if not (0 <= q0 < q1 <= n_q and 0 <= k0 < k1 <= n_k):
        raise ProtocolError(
            f"window {window} is outside the {n_q} x {n_k} matrix (need 0 <= q0 < q1 <= {n_q}, 0 <= k0 < k1 <= {n_k})"
        )
    if not (is_power_of_two(br) and is_power_of_two(bc) and br <= MAX_BLOCK and bc <= MAX_BLOCK):
        raise ProtocolError(f"block sizes must be powers of two up to {MAX_BLOCK}, got {block}")
    if q0 % br or k0 % bc:
        raise ProtocolError(f"window {window} must start on a block boundary of {block}")
    blocks = -(-(q1 - q0) // br) * -(-(k1 - k0) // bc)
    if blocks > MAX_TILE_BLOCKS:
        raise ProtocolError(f"a tile has at most {MAX_TILE_BLOCKS} blocks, this one would have {blocks}")
    return TileRequest(
        type="tile",
        id=request_id,
        kind=kind,
        layer=layer,
        head=head,
        quantity=quantity,
        version=asked_version if quantity in versioned else 0,
        window=list(window),
        block=list(block),
    )


def tile_payload(request: TileRequest, tile: Tile, peak: float, signed: bool) -> Payload:
    rows, cols = tile.values.shape
    return Payload(
        what="tile",
        shape=[rows, cols],
        kind=request["kind"],
        layer=request["layer"],
        head=request["head"],
        level=level_of(max(tile.block)),
        window=list(tile.window),
        block=list(tile.block),
        quantity=request["quantity"],
        version=request["version"],
        encoding="dec3",
        where=None if tile.where is None else where_type(tile.block),
        range=[-peak if signed else 0.0, peak],
    )


def where_type(block: tuple[int, int] | list[int]) -> Literal["u8", "u16", "u32"]:
    """The smallest unsigned type that holds an offset inside a ``br x bc`` block."""
    cells = block[0] * block[1]
    return "u8" if cells <= 1 << 8 else "u16" if cells <= 1 << 16 else "u32"


def where_bytes(where: np.ndarray, block: tuple[int, int] | list[int]) -> bytes:
    return where.astype("<" + {"u8": "u1", "u16": "u2", "u32": "u4"}[where_type(block)]).tobytes()


def reply(
    request_id: Any, *, request: dict[str, Any] | None = None, payload: Payload | None = None, error: str | None = None
) -> dict[str, Any]:
    """The answer to one request: ``ok`` with a payload, or an error the view can show."""
    out: dict[str, Any] = {
        "type": "reply",
        "id": request_id if isinstance(request_id, str) and len(request_id) <= 64 else None,
        "ok": error is None,
    }
    if request is not None:
        out["request"] = request
    if payload is not None:
        out["payload"] = payload
    if error is not None:
        out["error"] = bounded(error)
    return out


#: Error texts quote what came; a browser can send megabytes in one field, so quotes are cut.
MAX_ERROR_CHARS = 600


def bounded(text: str) -> str:
    """``text``, or its start and end around a note of how much was left out."""
    if len(text) <= MAX_ERROR_CHARS:
        return text
    head, tail = text[: MAX_ERROR_CHARS // 2], text[-MAX_ERROR_CHARS // 4 :]
    return f"{head} … ({len(text) - len(head) - len(tail)} characters left out) … {tail}"
