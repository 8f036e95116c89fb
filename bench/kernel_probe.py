"""What the long-input benchmarks measure inside a JupyterLab kernel (imported by their notebook
cells): its resident memory, sampled every 50 ms for the peak; the size of every message the widget
sends; and the size of the widget's state, the message a view opens with."""

from __future__ import annotations

import json
import threading
from typing import Any


def rss() -> int:
    """This process's resident memory, bytes (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


class PeakRSS:
    """The largest ``rss()`` seen since it was made, sampled on a thread of its own until ``stop``."""

    def __init__(self) -> None:
        self.start = self.peak = rss()
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss())

    def stop(self) -> int:
        self._stop.set()
        return self.peak


def record_sends(widget: Any) -> list[int]:
    """Wrap ``widget.send``: the returned list gains each message's bytes (JSON plus buffers)."""
    sent: list[int] = []
    send = widget.send

    def recording_send(content: Any, buffers: Any = None) -> Any:
        sent.append(len(json.dumps(content)) + sum(len(b) for b in (buffers or [])))
        return send(content, buffers)

    widget.send = recording_send
    return sent


def state_bytes(widget: Any) -> int:
    """The widget's whole state as a view opening receives it (JSON plus buffers)."""
    from ipywidgets.widgets.widget import _remove_buffers

    state, _, buffers = _remove_buffers(widget.get_state())
    return len(json.dumps(state)) + sum(len(bytes(b)) for b in buffers)
