"""``busy`` and the status line while Python computes something the user started, and putting a
trait back when the change it asked for cannot be honoured."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .state import WidgetState


class Status:
    def __init__(self, widget: WidgetState) -> None:
        self._widget = widget
        #: True while a refused change is put back: the observer that would react to it returns.
        self.reverting = False

    @contextmanager
    def computing(
        self, what: str, announce: bool = True, refusals: tuple[type[Exception], ...] = (), refused: str = ""
    ) -> Iterator[list[Exception]]:
        """``busy`` and "computing <what>…" while the block runs (``announce=False`` for quick work:
        no flicker); busy ends whatever happens. An error is put in the yielded list and shown in
        the status line: a refusal of the user's input (one of ``refusals``) after ``refused``,
        anything else as a failure, also warned in Python. The caller keeps its last good state."""
        w = self._widget
        failed: list[Exception] = []
        if announce:
            w.set_trait("busy", True)
            w.set_trait("status", f"computing {what}…")
        try:
            yield failed
        except Exception as err:  # noqa: BLE001 - shown to the user, never a silent stall
            failed.append(err)
            if isinstance(err, refusals):
                w.set_trait("status", f"{refused}: {err}")
            else:
                w.set_trait("status", f"could not compute {what}: {err}")
                warnings.warn(f"attn_widget could not compute {what}: {type(err).__name__}: {err}", RuntimeWarning, stacklevel=3)
        finally:
            w.set_trait("busy", False)

    def put_back(self, name: str, old: Any) -> None:
        """Restore a trait the user changed when the change could not be honoured."""
        self.reverting = True
        try:
            setattr(self._widget, name, old)
        finally:
            self.reverting = False
