"""Long-lived thread pools for the CPU path, one per level of work (batches, chunks of a batch, texts).

Each level keeps its own two threads for the life of the process instead of starting a pool per call:
glibc gives threads their own malloc arenas, and pools made and dropped per call left memory growing
with the input (`arenapref batch` on 57k rows: 559 -> 750 MiB; flat 517 MiB with reused threads). One
pool per level also means a task never waits on a task queued behind it in the same pool (a batch
waits on its chunks, a chunk on its texts), so the levels nest without deadlock.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

LEVELS = ("batches", "chunks", "texts")
_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def workers() -> int:
    """Threads per level: the cores this process may use, at most 2 (what pays on the measured path);
    ``ARENAPREF_THREADS`` sets it (a serving model process uses 1: its siblings hold the other cores)."""
    given = os.environ.get("ARENAPREF_THREADS")
    if given is not None:
        if not given.isdigit() or int(given) < 1:
            raise ValueError(f"ARENAPREF_THREADS must be a whole number of at least 1, got {given!r}")
        return int(given)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


def pool(level: str) -> ThreadPoolExecutor:
    """The process-wide pool of ``level`` (one of :data:`LEVELS`), made on first use."""
    if level not in LEVELS:
        raise ValueError(f"unknown thread pool level {level!r}; one of {LEVELS}")
    with _lock:
        if level not in _pools:
            _pools[level] = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix=f"arenapref-{level}")
        return _pools[level]
