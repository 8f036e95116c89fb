"""Hand a thread's idle OpenMP team back, so that a decoding thread's team spins as plain
``generate``'s would.

torch runs each operation on an OpenMP team owned by the thread that calls it, and the team's
workers stay alive, waiting, after the operation. libgomp counts every such worker of every
thread: while there are more than the machine has cores, all of them wait between operations
by sleeping on a futex (about a thousand spins) instead of spinning. Decoding is thousands of
tiny operations, and each sleep and wake costs more than the operation. So when decoding runs on
a thread of its own while the caller's team (the notebook's main thread, which loaded the
model) sits idle, generating was 1.14x slower than the same ``generate`` on the caller's thread
(GPT-2-small shape, 128 tokens, 2 cores, bench/README.md section 12): the decoding thread's
worker made 18,000 voluntary context switches instead of 300. ``omp_pause_resource_all`` frees
the calling thread's idle team (libgomp: ``gomp_pause_host``); the next operation on that thread
builds a new one, which costs a few microseconds.
"""

from __future__ import annotations

import ctypes
import pathlib

#: omp_pause_resource_t: omp_pause_soft keeps what a later team needs and ends the threads.
_OMP_PAUSE_SOFT = 1


_found: list[ctypes.CDLL] = []  # libgomp once found (it stays loaded); looked for again until then


def _libgomp() -> ctypes.CDLL | None:
    """libgomp as this process loaded it (torch's own copy, on Linux), or None (not loaded yet)."""
    if _found:
        return _found[0]
    try:
        maps = pathlib.Path("/proc/self/maps").read_text()
    except OSError:  # not Linux: nothing to do
        return None
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1]
        if pathlib.Path(path).name.startswith("libgomp"):
            try:
                lib = ctypes.CDLL(path)  # already loaded: the same copy, not a second one
            except OSError:
                return None
            if not hasattr(lib, "omp_pause_resource_all"):
                return None
            _found.append(lib)
            return lib
    return None


def release_idle_team() -> bool:
    """Free the calling thread's idle OpenMP team; True when one was freed or there was none.
    Call it on the thread that will stay idle (or mostly so) while another thread decodes."""
    lib = _libgomp()
    if lib is None:
        return False
    return int(lib.omp_pause_resource_all(_OMP_PAUSE_SOFT)) == 0
