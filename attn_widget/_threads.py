"""How many threads torch may use for work made of many small operations.

torch runs each operation on a team of OpenMP threads that meet at a barrier when it ends. When
another process keeps a core busy, a thread of the team is descheduled and the others wait for it
at every barrier: a tiny model's forward passes, thousands of small operations, then run many
times slower on two threads than on one. Integrated gradients (1,024 steps) on the packaged
1.4M-parameter grounding model, 2 cores (``bench/threads_bench.py``, bench/results/threads.md):
idle, 2.08 s on one thread and 1.84 s on torch's two; with one core busy, 2.03 s on one thread and
16.84 s on two. Large operations still gain from every thread, so only small work is held to one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Models with fewer parameters than this run our gradient work on one thread: their operations
#: are too small for a team of threads to pay for its barriers.
SMALL_MODEL_PARAMETERS = 20_000_000


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads for the calling thread while the block runs (None: unchanged);
    the previous count comes back afterwards, whatever happens."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def threads_for(model: Any) -> int | None:
    """1 for a small model (see ``SMALL_MODEL_PARAMETERS``), else None (torch's own choice)."""
    parameters = sum(p.numel() for p in model.parameters())
    return 1 if parameters < SMALL_MODEL_PARAMETERS else None
