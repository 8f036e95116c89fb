"""``w.save``: a displayed view renders the figure and sends its bytes; Python writes the file.

The browser draws the figure (the same code that draws the screen, see js/export/figure.ts), so a file
is exactly what a view shows. Its bytes come back in chunks of 1 MiB (Jupyter's server drops
messages over 10 MiB without a word). A kernel handles those messages only between cells, so
``save`` returns a ``SaveJob`` at once and the file appears when the last chunk has arrived; the
file is written next to its final name and renamed, so no half-written file is ever left.
"""

from __future__ import annotations

import os
import pathlib
import threading
import uuid
from typing import Any

from .._checks import is_int
from .atomic_file import write_atomically

PANELS = ("all", "grid", "heatmap", "strip", "image")
FORMATS = {".png": "png", ".svg": "svg"}
SCALES = (1, 2, 4)
#: A view that does not answer within this many seconds is taken to be gone.
ANSWER_TIMEOUT_S = 15.0


class SaveJob:
    """A figure on its way from the view to ``path``. ``done`` is True once it is written;
    ``result()`` waits (outside a busy kernel) and returns the path, or raises what went wrong."""

    def __init__(self, path: pathlib.Path, request: dict[str, Any]) -> None:
        self.path = path
        self.request = request
        self.error: str | None = None
        self.width = 0  # the figure's size in CSS pixels (the PNG is this times the scale)
        self.height = 0
        self._chunks: dict[int, bytes] = {}
        self._view: str | None = None
        self._finished = threading.Event()
        self._timer = threading.Timer(ANSWER_TIMEOUT_S, self._timed_out)
        self._timer.daemon = True
        self._timer.start()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def result(self, timeout: float | None = None) -> pathlib.Path:
        if not self._finished.wait(timeout):
            raise TimeoutError(
                f"the figure for {self.path} has not arrived yet: in a notebook the view sends it after the "
                "cell that called save() has finished; ask for the result in a later cell"
            )
        if self.error is not None:
            raise RuntimeError(f"could not save {self.path}: {self.error}")
        return self.path

    def __repr__(self) -> str:
        state = (
            "written" if self.done and self.error is None else f"failed: {self.error}" if self.done else "waiting for the view"
        )
        return f"SaveJob({str(self.path)!r}, {state})"

    def _timed_out(self) -> None:
        self._fail(f"no displayed view answered within {ANSWER_TIMEOUT_S:.0f} s: display the widget and save again")

    def _fail(self, error: str) -> None:
        if not self.done:
            self.error = error
            self._timer.cancel()
            self._finished.set()

    def receive(self, content: dict[str, Any], buffers: list[Any]) -> None:
        """One chunk (or an error) from a view; chunks of the first view that answers are kept."""
        if self.done:
            return
        view = str(content.get("view"))
        if self._view is None:
            self._view = view
        elif view != self._view:
            return  # a second view of the same widget answered too: one is enough
        if content.get("error"):
            self._fail(str(content["error"]))
            return
        try:
            index, count, total = int(content["index"]), int(content["count"]), int(content["bytes"])
            if len(buffers) != 1 or not 0 <= index < count:
                raise ValueError(f"chunk {index} of {count} with {len(buffers)} buffers")
            self._chunks[index] = bytes(buffers[0])
            self.width, self.height = int(content.get("width", 0)), int(content.get("height", 0))
            if len(self._chunks) < count:
                return
            data = b"".join(self._chunks[i] for i in range(count))
            if len(data) != total:
                raise ValueError(f"{len(data)} bytes arrived, {total} were sent")
            write_atomically(self.path, data)
        except Exception as err:  # noqa: BLE001 - recorded on the job, which the user reads
            self._fail(f"{type(err).__name__}: {err}")
            return
        self._timer.cancel()
        self._finished.set()


def check_save_arguments(
    path: str | os.PathLike[str], panel: str, scale: int, pictures: bool = False
) -> tuple[pathlib.Path, str]:
    """The path and format, or a ValueError naming the argument, what was expected and what came.
    ``pictures``: whether the widget has an image panel to save."""
    target = pathlib.Path(path).expanduser()
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise ValueError(f"path must end in .png or .svg (the format follows the suffix), got {str(path)!r}")
    panels = [p for p in PANELS if pictures or p != "image"]
    if panel not in panels:
        raise ValueError(f"panel must be one of {panels}, got {panel!r}")
    if not is_int(scale) or scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)} (device pixels per CSS pixel), got {scale!r}")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"path: the folder {str(target.parent)!r} does not exist (save does not create folders)")
    return target, fmt


def export_request(panel: str, fmt: str, scale: int) -> dict[str, Any]:
    return {"type": "export", "id": uuid.uuid4().hex, "panel": panel, "format": fmt, "scale": scale}
