"""Keep a widget in step with a model that is still writing (``AttentionWidget.generate``).

A thread of its own wakes when decoding completes a step, at most every ``interval`` seconds
(steps that come faster are shown together): it makes the capture of every complete position (a
view of the growing queries and keys), hands it to ``Sources`` (which forgets the shorter one's
passes) and computes the grid's new rows (growing_grid.py). The traits then change on the
kernel's event loop when there is one (as the grid worker's do), else on this thread: the axes
and sizes, the window (which follows the newest row unless the user has zoomed elsewhere), the
grid, the progress line and the candidates. ``apply`` is idempotent: it shows the state as it is
now, so ``wait`` may call it on the caller's thread when the loop is busy with that very call.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from ..capturing.live_decoding import Candidates, LiveDecoding
from .views_feed import DEFAULT_EAGER_BYTES

#: Seconds between two updates of the page at most (a step that comes sooner waits for the next).
INTERVAL = 0.1
#: Seconds between two updates of the grid's metrics: every head's new rows cost more than a new
#: row of the heatmap, and a mean over rows moves slowly (the last update is exact over every row).
GRID_INTERVAL = 0.5
#: ``_candidates`` (every generated token's top k) is sent whole only once this many more tokens, or
#: a quarter more, have been written; the tokens since travel in ``_candidates_recent``. Sent whole
#: every 0.1 s it grew to 0.6 MB an update at 4,096 tokens, and encoding it held the kernel back.
CANDIDATES_WHOLE_EVERY = 32


def candidates_payload(candidates: list[Candidates]) -> dict[str, Any]:
    """``_candidates``: each generated position's top k, with the digits the page prints."""
    return {
        "what": "candidates",
        "positions": [c.position for c in candidates],
        "chosen": [c.chosen for c in candidates],
        "chosen_ids": [c.chosen_id for c in candidates],
        "chosen_probability": [probability_text(c.chosen_probability) for c in candidates],
        "tokens": [c.tokens for c in candidates],
        "ids": [c.ids for c in candidates],
        "probabilities": [[probability_text(p) for p in c.probabilities] for c in candidates],
        "entropy": [f"{c.entropy:.2f}" for c in candidates],
    }


def probability_text(p: float) -> str:
    """How a probability is printed, in Python and (from this text) in the page."""
    return f"{p:.3f}"


def progress_line(decoding: LiveDecoding) -> str:
    step, total, rate = decoding.steps, decoding.max_new_tokens, decoding.tokens_per_second()
    if decoding.error is not None:
        return f"generation failed at step {step}: {type(decoding.error).__name__}: {decoding.error}"
    if not decoding.done.is_set():
        return f"step {step} of {total} · {rate:.0f} tokens/s"
    how = "stopped at" if decoding.stopped and step < total else "wrote"
    return f"{how} {step} of {total} tokens · {rate:.0f} tokens/s"


class LiveFeed:
    def __init__(
        self, widget: Any, decoding: LiveDecoding, *, eager_bytes: int | None = None, interval: float = INTERVAL
    ) -> None:
        self._widget = widget
        self._eager_bytes = DEFAULT_EAGER_BYTES if eager_bytes is None else eager_bytes  # heads sent whole at the end
        self._decoding = decoding
        self._interval = interval
        self._grid_interval = max(interval, GRID_INTERVAL)
        self._grid_due = True  # the grid has rows the traits do not show yet
        self._grown = widget._sources.capture.kind().shape[2]  # positions handed to Sources
        self._shown = self._grown  # positions whose axes the traits carry
        self._candidates_whole = 0  # candidates in the last ``_candidates`` sent whole
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self.finished = False  # the last state has been computed: the next apply is the final one
        self._thread = threading.Thread(target=self._run, name="attn-widget-live", daemon=True)
        try:  # a kernel runs cells inside its event loop: the traits change there
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def start(self) -> LiveFeed:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ----------------------------------------------------------------- the feed's thread
    def _run(self) -> None:
        import torch

        torch.set_num_threads(1)  # decoding keeps the other cores
        d = self._decoding
        last = last_grid = 0.0
        try:
            while True:
                with d.changed:
                    d.changed.wait_for(lambda: d.done.is_set() or d.recording.complete > self._grown, timeout=1.0)
                rest = last + self._interval - time.monotonic()
                if rest > 0 and not d.done.is_set():
                    time.sleep(rest)
                last = time.monotonic()
                finished = d.done.is_set()
                grid = finished or last >= last_grid + self._grid_interval
                if grid:
                    last_grid = last
                self._advance(grid)
                if finished:
                    break
                self.hand(self.apply)
        except BaseException as err:  # noqa: BLE001 - shown in the progress line, raised by wait()
            self.error = err
        self.finished = True
        self.hand(self.apply)

    def _advance(self, grid: bool) -> None:
        """The capture of every complete position to Sources, and (``grid``) the grid's rows for it."""
        d, w = self._decoding, self._widget
        n = d.recording.complete
        if n > self._grown:
            grown = d.snapshot(n)
            w._sources.grow(grown)
            w._grid_feed.attention.grid("self").grow(grown.kind())  # type: ignore[union-attr]
            self._grown = n
        if grid:
            w._grid_feed.attention.grid("self").catch_up()
            self._grid_due = True

    def hand(self, work: Callable[[], None]) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(work)
        else:
            work()

    # ----------------------------------------------------------------- the traits
    def apply(self) -> None:
        """Show the state as it is now (any thread; idempotent)."""
        w, d = self._widget, self._decoding
        with self._lock, w.hold_sync():
            n, old = self._grown, self._shown
            if n > old and w.kind == "self":  # the language model's axes grow; a picture's tower stays
                w._views_feed.send_axes()
                w.window = _followed(list(w.window), old, n)
            self._shown = n
            if self._grid_due:
                self._grid_due = False
                w._grid_feed.send()
            w.set_trait("step", d.steps)
            self._send_candidates(list(d.candidates), whole=self.finished)
            done = self.finished
            error = d.error or self.error
            w.set_trait(
                "_generation",
                {
                    "line": progress_line(d) if self.error is None else f"the widget could not follow: {self.error}",
                    "step": d.steps,
                    "max": d.max_new_tokens,
                    "done": done,
                    "error": "" if error is None else f"{type(error).__name__}: {error}",
                },
            )
            if done and w.generating:
                w._views_feed.send_heads(self._eager_bytes)  # small enough: every head now travels at once
                w.generating = False

    def _send_candidates(self, candidates: list[Candidates], whole: bool) -> None:
        """``_candidates`` now and then, ``_candidates_recent`` (the tokens since) every update."""
        w, sent = self._widget, self._candidates_whole
        if whole or len(candidates) - sent >= max(CANDIDATES_WHOLE_EVERY, sent // 4):
            w.set_trait("_candidates", candidates_payload(candidates))
            self._candidates_whole = sent = len(candidates)
        w.set_trait("_candidates_recent", candidates_payload(candidates[sent:]))


def _followed(window: list[int], old: int, n: int) -> list[int]:
    """The window after the input grew from ``old`` to ``n`` positions: the whole input stays the
    whole input, a window that showed the newest row moves down with it, any other stays."""
    q0, q1, k0, k1 = window
    if window == [0, old, 0, old]:
        return [0, n, 0, n]
    if q1 != old:
        return window
    d = n - old
    return [q0 + d, n, k0 + d, n] if k1 == old else [q0 + d, n, k0, k1]
