"""Decoding on its own thread spins as plain generate does only when the caller's idle OpenMP team
is handed back (attn_widget/_openmp.py): these check that it really is, where libgomp is loaded."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from attn_widget._openmp import _libgomp, release_idle_team

pytestmark = pytest.mark.skipif(_libgomp() is None, reason="torch here does not use libgomp")


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_release_idle_team_ends_the_calling_threads_workers() -> None:
    seen: dict[str, int] = {}

    def on_a_fresh_thread() -> None:  # a thread of our own: the test's main thread keeps its team
        torch.set_num_threads(2)
        seen["before"] = _os_threads()
        a = torch.ones(512, 512)
        (a @ a).sum()  # large enough for torch to run it on a team of two
        seen["with_team"] = _os_threads()
        seen["released"] = int(release_idle_team())
        seen["after"] = _os_threads()
        (a @ a).sum()  # and torch simply builds a new team when it needs one
        seen["again"] = _os_threads()

    thread = threading.Thread(target=on_a_fresh_thread)
    thread.start()
    thread.join()
    assert seen["with_team"] == seen["before"] + 1, seen
    assert seen["released"] == 1
    assert seen["after"] == seen["before"], seen
    assert seen["again"] == seen["before"] + 1, seen


def test_generate_hands_the_callers_team_back() -> None:
    from attn_widget import AttentionWidget
    from tests.support.models import tiny_family

    model, tokenizer = tiny_family("gpt2")
    torch.set_num_threads(2)
    release_idle_team()  # a team made by an earlier test: start without one, to see this one made
    before = set(os.listdir("/proc/self/task"))
    a = torch.ones(512, 512)
    (a @ a).sum()  # this thread now owns a team, as a notebook's main thread does
    workers = set(os.listdir("/proc/self/task")) - before
    assert workers, "torch made no team here"
    w = AttentionWidget.generate(model, tokenizer, "the cat sat", max_new_tokens=4)
    alive = workers & set(os.listdir("/proc/self/task"))
    w.wait()
    assert not alive, "the caller's idle OpenMP worker was still alive while decoding ran"
