"""The widget's custom messages (``docs/protocol.md``): the views' tile requests and the replies,
their announcements that they opened or closed, and the chunks of a figure a view sends back for
``w.save``. Every request gets an answer; none raises into the kernel."""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Callable
from typing import Any

from ..engine.byte_lru import ByteLRU
from ..engine.grid_scores import Foreground
from ..engine.sources import QUANTITIES, Sources
from ..export.figure import SaveJob, check_save_arguments, export_request
from ..wire.dec3 import dec3_bytes
from ..wire.protocol import (
    MAX_BATCH_REQUESTS,
    ProtocolError,
    TileRequest,
    parse_tile_request,
    reply,
    tile_payload,
    where_bytes,
)
from .state import WidgetState

#: Encoded tiles kept for re-asking views (a second view, a pan back), by bytes.
TILE_CACHE_BYTES = 64 * 1024 * 1024
Encoded = tuple[dict[str, Any], list[bytes]]  # a reply's payload header and its buffers


class Messages:
    def __init__(self, widget: WidgetState, sources: Sources, foreground: Foreground) -> None:
        self._widget = widget
        self._sources = sources
        self._foreground = foreground
        self.views: set[str] = set()  # views on screen now (they say so when they open and close)
        self._saves: dict[str, SaveJob] = {}
        #: Other message types a collaborator answers (live generation's "fork"), by type.
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        #: Called after each message is answered (live generation hands the kernel's OpenMP team back).
        self.after_answer: Callable[[], None] | None = None
        self._tiles: ByteLRU[Encoded] = ByteLRU(TILE_CACHE_BYTES, lambda hit: sum(len(d) for d in hit[1]))

    def parse(self, content: Any, quantities: tuple[str, ...] | None = None) -> TileRequest:
        """A tile request checked against the widget (``ProtocolError`` says what is wrong)."""
        offered = self._sources.quantities if quantities is None else quantities
        versioned = {q for q in offered if QUANTITIES[q].versioned}
        return parse_tile_request(
            content, kinds=self._sources.shapes(), quantities=offered, versioned=versioned, version=self._sources.version
        )

    def answer(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        """Answer a view's message (the widget's ``on_msg`` handler). Every failure is an error reply."""
        try:
            self._answer(content, buffers)
        finally:
            if self.after_answer is not None:
                self.after_answer()

    def _answer(self, content: Any, buffers: list[Any]) -> None:
        request_id = content.get("id") if isinstance(content, dict) else None
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "tiles":
            self._answer_tiles(content)
            return
        try:
            if kind == "view":
                self._view_event(content)
            elif kind == "export-chunk":
                self._export_chunk(content, buffers)
            elif isinstance(kind, str) and kind in self.handlers:
                self.handlers[kind](content)
            else:
                with self._foreground:  # the grid worker steps aside while the kernel answers
                    if kind != "tile":
                        got = kind if isinstance(content, dict) else type(content).__name__
                        raise ProtocolError(f"unknown request type {got!r}: expected 'tile' or 'tiles'")
                    request = self.parse(content)
                    payload, data = self._tile_reply(request)
                self._widget.send(reply(request_id, request=dict(request), payload=payload), buffers=data)
        except ProtocolError as err:
            self._widget.send(reply(request_id, error=str(err)))
        except Exception as err:  # noqa: BLE001 - the kernel must keep answering; the view shows it
            self._unexpected(request_id, err)

    def _answer_tiles(self, content: dict[str, Any]) -> None:
        """Several tile requests in one message (what the page lets go at once: one message and
        one round of kernel status for the host to handle instead of one per tile). Each is
        answered in order with its own reply, exactly as if it had come alone."""
        requests = content.get("requests")
        if not isinstance(requests, list) or not 0 < len(requests) <= MAX_BATCH_REQUESTS:
            error = f"'tiles' must carry a list of 1 to {MAX_BATCH_REQUESTS} tile requests, got {requests!r}"
            self._widget.send(reply(None, error=error))
            return
        for request in requests:
            if isinstance(request, dict) and request.get("type") == "tile":
                self._answer(request, [])
            else:  # no batches inside batches, no other messages
                request_id = request.get("id") if isinstance(request, dict) else None
                self._widget.send(reply(request_id, error=f"'tiles' carries tile requests only, got {request!r}"))

    def _unexpected(self, request_id: Any, err: Exception) -> None:
        """A fault of ours, not a bad request: the view shows it, and Python hears of it too."""
        self._widget.send(reply(request_id, error=f"{type(err).__name__}: {err}"))
        warnings.warn(f"attn_widget could not answer a view's request: {type(err).__name__}: {err}", RuntimeWarning, stacklevel=3)

    def _tile_reply(self, request: TileRequest) -> Encoded:
        fields = ("quantity", "kind", "layer", "head", "version")
        window, block = tuple(request["window"]), tuple(request["block"])
        cache_key = (*(request[f] for f in fields), self._sources.length, window, block)  # type: ignore[literal-required]
        hit = self._tiles.get(cache_key)
        if hit is not None:
            return dict(hit[0]), hit[1]
        quantity, kind, layer, head = request["quantity"], request["kind"], request["layer"], request["head"]
        tile, peak, signed = self._sources.tile(quantity, kind, layer, head, request["window"], request["block"])
        payload = tile_payload(request, tile, peak, signed)
        data = [dec3_bytes(tile.values)]
        if tile.where is not None:
            data.append(where_bytes(tile.where, tile.block))
        if tile.sink is not None:  # each row's sink share, after the values (and offsets)
            payload["sink"] = "dec3"
            data.append(dec3_bytes(tile.sink))
        self._tiles.put(cache_key, (dict(payload), data))
        return dict(payload), data

    def _view_event(self, content: dict[str, Any]) -> None:
        view = content.get("view")
        if not isinstance(view, str) or len(view) > 64:
            raise ProtocolError(f"view must be a short string, got {view!r}")
        if content.get("event") == "open":
            self.views.add(view)
        elif content.get("event") == "close":
            self.views.discard(view)
        else:
            raise ProtocolError(f"event must be 'open' or 'close', got {content.get('event')!r}")

    # ----------------------------------------------------------------- figures (w.save)
    def save(self, path: str | pathlib.Path, panel: str, scale: int) -> SaveJob:
        target, fmt = check_save_arguments(path, panel, scale, pictures=bool(self._widget._images))
        if not self.views:
            raise RuntimeError(
                "display the widget first: save() asks a view on screen to draw the figure "
                "(make `w` a cell's last line, or display(w)), then call w.save(...) in a later cell"
            )
        request = export_request(panel, fmt, scale)
        job = SaveJob(target, request)
        self._saves[request["id"]] = job
        self._widget.send(request)
        return job

    def _export_chunk(self, content: dict[str, Any], buffers: list[Any]) -> None:
        job = self._saves.get(str(content.get("id")))
        if job is None:
            return
        job.receive(content, buffers)
        if job.done:
            self._saves.pop(str(content.get("id")), None)
