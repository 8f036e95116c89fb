"""Scratch buffers reused across row chunks: allocating N x chunk logits anew for each chunk costs
more than the arithmetic. One set per thread (the grid worker and the kernel's main thread run
passes side by side) and per device."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


class Scratch(threading.local):
    """Scratch memory reused across chunks, one set per thread (the grid worker and the kernel's
    main thread run passes side by side) and per device."""

    def __init__(self) -> None:
        self.flat: dict[tuple[str, int], Any] = {}

    def get(self, device: Any, slot: int, rows: int, cols: int) -> torch.Tensor:
        import torch

        key = (str(device), slot)
        need = rows * cols
        buf = self.flat.get(key)
        if buf is None or buf.numel() < need:
            buf = torch.empty(max(need, 1), dtype=torch.float32, device=device)
            self.flat[key] = buf
        return buf[:need].view(rows, cols)


scratch = Scratch()
