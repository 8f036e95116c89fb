"""A least-recently-used cache bounded by bytes rather than entries: tiles and base levels vary
from a few hundred bytes to megabytes, so a count says nothing about memory."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteLRU(Generic[V]):
    """At most ``max_bytes`` of values (``size(value)`` each), oldest use dropped first; the newest
    entry always stays, whatever its size. Thread-safe."""

    def __init__(self, max_bytes: int, size: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= self._size(old)
            self._items[key] = value
            self._bytes += self._size(value)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= self._size(dropped)

    def forget(self, match: Callable[[Hashable], bool]) -> dict[Hashable, V]:
        """Drop the entries whose key ``match`` accepts; returns them."""
        with self._lock:
            dropped = {k: self._items.pop(k) for k in [k for k in self._items if match(k)]}
            for value in dropped.values():
                self._bytes -= self._size(value)
            return dropped

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
