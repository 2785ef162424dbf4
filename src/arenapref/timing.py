"""Seconds spent per pipeline stage in this process, so a benchmark can show where time goes.

``with stage("tfidf fit"): ...`` adds the block's wall time to that stage's total. When threads run the
same stage at once (two prediction batches in flight), the stage counts the wall time during which at
least one of them was in it, not the sum; different stages can overlap, so their totals may add up to
more than the wall time. Costs one ``perf_counter`` pair and a lock per call (stages wrap whole columns,
never single texts), so it is always on.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

_totals: dict[str, float] = defaultdict(float)
_active: dict[str, int] = defaultdict(int)
_since: dict[str, float] = {}
_lock = threading.Lock()


@contextmanager
def stage(name: str) -> Iterator[None]:
    with _lock:
        if _active[name] == 0:
            _since[name] = time.perf_counter()
        _active[name] += 1
    try:
        yield
    finally:
        with _lock:
            _active[name] -= 1
            if _active[name] == 0:
                _totals[name] += time.perf_counter() - _since.pop(name)


def stage_times() -> dict[str, float]:
    """Seconds per stage since the last :func:`reset_stages` (a copy)."""
    with _lock:
        return dict(_totals)


def reset_stages() -> None:
    with _lock:
        _totals.clear()
