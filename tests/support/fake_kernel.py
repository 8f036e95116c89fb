"""A kernel without a kernel: real AttentionWidgets whose comm messages are recorded.

Python tests read what a trait change would send to the browser; browser tests use ``Bridge`` to
let the widget bundle in Chromium talk to a real Python widget, so a click in the page changes
``w.head`` here and the kernel's answer travels back exactly as it would from ipykernel.
"""

from __future__ import annotations

import base64
from typing import Any

import comm
from comm.base_comm import BaseComm


class RecordingComm(BaseComm):
    """A comm that keeps every message it would publish, buffers included."""

    def __init__(self, **kwargs: Any) -> None:
        self.messages: list[dict[str, Any]] = []
        super().__init__(**kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any) -> None:
        self.messages.append({"msg_type": msg_type, "data": data, "buffers": [bytes(b) for b in (buffers or [])]})

    def take(self) -> list[dict[str, Any]]:
        """The comm messages sent since the last call (comm_open excluded)."""
        out = [m for m in self.messages if m["msg_type"] == "comm_msg"]
        self.messages.clear()
        return out


def use_recording_comms(monkeypatch: Any = None) -> None:
    """Make new widgets record their traffic (undone after the test when given pytest's monkeypatch)."""
    factory = lambda **kwargs: RecordingComm(**kwargs)  # noqa: E731
    if monkeypatch is None:
        comm.create_comm = factory
    else:
        monkeypatch.setattr(comm, "create_comm", factory)


def frontend_update(widget: Any, **state: Any) -> None:
    """Deliver an update as the browser would send it (what a click does)."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def frontend_custom(widget: Any, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": list(buffers or [])})


def _b64(data: bytes) -> dict[str, str]:
    return {"$b64": base64.b64encode(data).decode("ascii")}


def _with_buffers(state: dict[str, Any], paths: list[list[Any]], buffers: list[bytes]) -> dict[str, Any]:
    out = dict(state)
    for path, buf in zip(paths, buffers):
        target = out
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = _b64(buf)
    return out


def initial_state(widget: Any) -> dict[str, Any]:
    """The state the browser receives when the widget is displayed, binary as {"$b64": ...}."""
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(widget.get_state())
    return _with_buffers(state, paths, [bytes(b) for b in buffers])


class Bridge:
    """Carries messages between the page's fake model and a real widget."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self.comm: RecordingComm = widget.comm
        self.comm.take()

    def __call__(self, kind: str, payload: Any) -> list[dict[str, Any]]:
        if kind == "update":
            frontend_update(self.widget, **payload)
        elif kind == "custom" and isinstance(payload, dict) and "$buffers" in payload:
            frontend_custom(self.widget, payload["$content"], [base64.b64decode(b) for b in payload["$buffers"]])
        elif kind == "custom":
            frontend_custom(self.widget, payload)
        return self.replies()  # "pull": what Python changed on its own (w.head = 3)

    def replies(self) -> list[dict[str, Any]]:
        """The messages the kernel sent since the last call, as the page's fake model wants them."""
        out = []
        for message in self.comm.take():
            data = message["data"]
            if data.get("method") in ("update", "echo_update"):
                out.append(
                    {
                        "method": data["method"],
                        "state": _with_buffers(data["state"], data.get("buffer_paths", []), message["buffers"]),
                    }
                )
            elif data.get("method") == "custom":
                out.append(
                    {"method": "custom", "content": data["content"], "buffers": [_b64(b)["$b64"] for b in message["buffers"]]}
                )
        return out
