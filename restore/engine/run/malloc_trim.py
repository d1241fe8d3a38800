"""Give freed heap memory back to the operating system during a long restore (glibc only).

Why: a restore's ~34 threads (workers and fan-out) allocate decoded items, request and response
bodies from glibc's per-thread arenas. Freed, that memory stays in the arenas, scattered between
live blocks, so a worker's resident memory crept up with the length of the run (the arenas held
10 MB after 5,000 items, 29 MB after 50,000). `malloc_trim(0)` returns every free page of every
arena. At most every `INTERVAL_S` seconds, not at every checkpoint (about once a second): trimmed
pages are faulted in again when reused, and trimming every 10 s lowers the peaks as much as
trimming at every checkpoint (docs/performance.md, "Memory").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time

INTERVAL_S = 10.0
_last = 0.0
_lock = threading.Lock()


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def trim() -> bool:
    """Release free heap pages, at most every INTERVAL_S; False when it did not run."""
    global _last
    libc = _libc()
    if libc is None:  # musl, macOS
        return False
    with _lock:
        if time.monotonic() - _last < INTERVAL_S:
            return False
        _last = time.monotonic()
    libc.malloc_trim(0)
    return True
