"""Hypothesis profiles for the property tests (tests/python/test_fuzz_inputs.py).

* ``ci``, the default: 150 examples per property, what every run and CI uses (seconds).
* ``long``: 10,000 examples per property, and 10,000 malformed comm messages in one burst
  (about 5 minutes on a 2-core machine). Chosen by one environment variable:

      ATTN_FUZZ=long .venv/bin/python -m pytest -q tests/python/test_fuzz_inputs.py

A failure prints the shrunk example and a ``@reproduce_failure`` line to paste above the test.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# No deadline: the first example of a run pays for imports and caches, and a loaded machine is slow.
settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", settings.get_profile("ci"), max_examples=10_000, print_blob=True)

_CHOICE = os.environ.get("ATTN_FUZZ", "ci") or "ci"
if _CHOICE not in ("ci", "long"):
    raise pytest.UsageError(f"ATTN_FUZZ must be 'ci' (the default) or 'long', got {_CHOICE!r}")
settings.load_profile(_CHOICE)
