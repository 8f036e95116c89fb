"""The one check every argument of ours needs: "is this an integer?". Python's bool is an int and
numpy's integers are not, so ``isinstance(x, int)`` is wrong both ways; these say it once."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_int(value: Any, *, numpy_ok: bool = True) -> bool:
    """True for an int (or a numpy integer when ``numpy_ok``), never for True/False."""
    kinds = (int, np.integer) if numpy_ok else (int,)
    return isinstance(value, kinds) and not isinstance(value, bool)


def check_int(
    name: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    meaning: str = "",
    error: type[Exception] = ValueError,
) -> int:
    """``value`` as an int in ``[low, high]`` (either bound optional), or ``error`` naming ``name``,
    the range expected (with ``meaning``, e.g. "bytes of weights sent up front") and what came."""
    if is_int(value) and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    if low is not None and high is not None:
        expected = f"an int in [{low}, {high}]"
    elif low is not None:
        expected = f"an int >= {low}"
    elif high is not None:
        expected = f"an int <= {high}"
    else:
        expected = "an int"
    note = f" ({meaning})" if meaning else ""
    raise error(f"{name} must be {expected}{note}, got {value!r}")
