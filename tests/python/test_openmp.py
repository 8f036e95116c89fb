"""Decoding on its own thread spins as plain generate does only when the caller's idle OpenMP team
is handed back (attn_widget/_openmp.py): these check that it really is, where libgomp is loaded.
Each runs in a fresh interpreter, where no other test's threads come and go while it counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch  # noqa: F401 - loads libgomp, which _libgomp looks for

from attn_widget._openmp import _libgomp

pytestmark = pytest.mark.skipif(_libgomp() is None, reason="torch here does not use libgomp")

HELPERS = """
import json, os, threading, time
import torch
from attn_widget._openmp import release_idle_team

def threads():
    return set(os.listdir("/proc/self/task"))

def team_made_by(work):
    before = threads()
    work()
    return threads() - before

def ended(team, timeout=5.0):  # a released worker leaves the barrier, then exits
    deadline = time.monotonic() + timeout
    while team & threads():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True

def matmul():
    a = torch.ones(512, 512)
    (a @ a).sum()  # large enough for torch to run it on a team of two

torch.set_num_threads(2)
"""


def _run(body: str) -> dict[str, object]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    script = HELPERS + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_release_idle_team_ends_the_calling_threads_workers() -> None:
    seen = _run("""
        team = team_made_by(matmul)
        released = release_idle_team()
        print(json.dumps({"team": len(team), "released": released, "ended": ended(team),
                          "again": len(team_made_by(matmul))}))  # torch builds a new team when it needs one
    """)
    assert seen == {"team": 1, "released": True, "ended": True, "again": 1}


def test_generate_hands_the_callers_team_back() -> None:
    seen = _run("""
        from attn_widget import AttentionWidget
        from tests.support.models import tiny_family
        model, tokenizer = tiny_family("gpt2")
        release_idle_team()
        team = team_made_by(matmul)  # this thread now owns a team, as a notebook's main thread does
        w = AttentionWidget.generate(model, tokenizer, "the cat sat", max_new_tokens=64)
        gone = ended(team)
        w.stop()
        w.wait()
        print(json.dumps({"team": len(team), "ended while decoding": gone}))
    """)
    assert seen == {"team": 1, "ended while decoding": True}
