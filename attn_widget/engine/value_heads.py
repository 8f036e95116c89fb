"""Row statistics of several heads given as values (an array widget's (H, Nq, Nk) layer), in one
batched pass: the numbers a full pass with metrics gives each head (tiles.py), from the same
functions, in a few large numpy operations instead of dozens of small torch ones per head.

At 12 x 12 heads of 512 tokens the per-head passes spent ~4 ms a head in some 40 small torch
operations, each a parallel region of torch's OpenMP team: 0.63 s to build the widget, 2.6 s with
another process keeping a core busy (every region waits at its barrier for a descheduled
worker). Batched, on one thread (``_threads.torch_threads``): 0.14 s, and 0.13 s under that load.
"""

from __future__ import annotations

import numpy as np

from .._threads import torch_threads
from .detectors import DETECTORS, TokenIds
from .image_roles import IMAGE_FIELDS, ImageRoles
from .row_stats import RowStats, entropy_rows, max_off_values, role_rows
from .tiles import CHUNK_CELLS

#: Cells per chunk of element-wise numpy work (1 MiB of float32): temporaries stay in cache.
SMALL_CHUNK_CELLS = 1 << 18


def value_heads_row_stats(
    values: np.ndarray, *, square: bool, ids: TokenIds | None = None, images: ImageRoles | None = None
) -> list[RowStats]:
    """Every row metric of every row of the heads ``values`` (h, Nq, Nk), one RowStats a head, as
    a full pass with metrics gives each (same functions, same numbers). Runs on the calling
    thread with torch held to one thread: under a busy CPU, torch's OpenMP workers wait on each
    other at every small operation (ten times slower)."""
    import torch

    h, n_q, n_k = values.shape
    entropy = np.empty((h, n_q), dtype=np.float64)
    max_off = np.empty((h, n_q), dtype=np.float32)
    found = {name: np.empty((h, n_q), dtype=np.float64) for name in (*DETECTORS, *IMAGE_FIELDS)}
    columns = np.zeros((h, images.n_patches)) if images is not None else None
    # element-wise work in chunks that stay in cache (fresh temporaries of tens of MB cost page
    # faults); the detectors' gathers in few large chunks
    small = max(1, SMALL_CHUNK_CELLS // max(1, h * n_k))
    for r0 in range(0, n_q, small):
        block = values[:, r0 : r0 + small]
        entropy[:, r0 : r0 + small] = entropy_rows(block)
        max_off[:, r0 : r0 + small] = max_off_values(block, r0, square)
    step = max(1, CHUNK_CELLS // max(1, h * n_k))
    with torch_threads(1), torch.no_grad():
        for r0 in range(0, n_q, step):
            r1 = min(n_q, r0 + step)
            block = values[:, r0:r1]
            weights = torch.from_numpy(block if block.flags.writeable else block.copy())
            for name, v in role_rows(weights, None, torch.arange(r0, r1), ids if square else None, images).items():
                found[name][:, r0:r1] = v
            if columns is not None:
                columns += images.columns(weights, None)  # type: ignore[union-attr]
    rows = np.arange(n_q)
    return [
        RowStats(rows, entropy[i], max_off[i], {name: v[i] for name, v in found.items()}, None if columns is None else columns[i])
        for i in range(h)
    ]
