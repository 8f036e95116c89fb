"""How the token axes travel to the page, compactly: at 131,072 tokens the six lists as JSON were
6.3 MB in the widget's first message, above the 2 MB a message may have. Python's traits stay
plain lists. Twin of ``js/wire/axis_wire.ts``.

- ``special`` and ``generated`` flags travel as bytes, one byte (0 or 1) per token, instead of
  JSON ``false, `` (7 characters each).
- A query list equal to its key list (self-attention: always) travels as ``null``: "the same as
  the keys". The page resolves it against the key lists of the same state, and the widget resends
  every query list whenever the kind changes (``AttentionWidget._show_kind``), so a ``null`` never outlives
  the keys it referred to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def flags_to_json(value: Sequence[bool], widget: Any = None) -> bytes:
    return bytes(bytearray(1 if v else 0 for v in value))


def same_as_keys(key_trait: str, encode: Callable[[Any, Any], Any] | None = None) -> Callable[[Any, Any], Any]:
    """A ``to_json`` for a query trait: ``None`` when it equals the key trait ``key_trait``."""

    def to_json(value: Sequence[Any], widget: Any) -> Any:
        keys = getattr(widget, key_trait)
        if value is keys or value == keys:  # traits hold lists: no copies at 131k tokens
            return None
        return encode(value, widget) if encode else list(value)

    return to_json
