"""A head's full pass (tiles.py) after a live generation grew its capture: the shorter capture's
pass is extended, not redone.

Causal attention never changes a row once it exists, and no earlier row sees a later key: so the
log-sum-exps of the rows the shorter pass covered stay, and so do the base level's block rows that
lie wholly inside it (their blocks over the new keys hold only masked weights, which are 0, with
offset 0, as a fresh pass writes them). Only the new rows, and the shorter pass's last block row
if the new rows complete it, go through the model's queries and keys again: at 4,096 tokens a
step costs a few rows of the head, not its 16 million weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..capturing.head_source import HeadSource


class ShorterPass(Protocol):
    """What is read of the shorter capture's pass (tiles.FullPass; named here, not imported, so
    that tiles.py can import this module)."""

    lse: torch.Tensor | None
    base_block: int
    base_values: np.ndarray
    base_where: np.ndarray
    shape: tuple[int, int]


def reusable_rows(prior: ShorterPass | None, source: HeadSource, b0: int) -> int:
    """How many of the source's first rows ``prior`` (a pass of a shorter capture of the same head)
    already holds: a multiple of the base block ``b0``; 0 when it cannot be extended."""
    if prior is None or prior.lse is None or not source.logits or prior.base_block != b0:
        return 0
    n_q, n_k = prior.shape
    if n_q > source.n_q or n_k > source.n_k:
        return 0
    start = n_q // b0 * b0
    # every row kept must see no key the shorter capture lacked (a causal mask)
    return start if start > 0 and source.key_limit(0, start) <= n_k else 0


def seed_from_prior(prior: ShorterPass, start: int, base_v: torch.Tensor, base_w: torch.Tensor, lse: torch.Tensor | None) -> None:
    """Copy the prior's first ``start`` rows into a new pass's arrays (the rest is computed)."""
    import torch

    g = start // prior.base_block
    cols = prior.base_values.shape[1]
    base_v[:g, :cols] = torch.from_numpy(np.ascontiguousarray(prior.base_values[:g]))
    base_w[:g, :cols] = torch.from_numpy(prior.base_where[:g].astype(np.int64))
    base_v[:g, cols:] = 0.0  # the new keys, masked for every kept row
    base_w[:g, cols:] = 0
    if lse is not None and prior.lse is not None:
        lse[:start] = prior.lse[:start]
