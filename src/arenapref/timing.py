"""Seconds spent per pipeline stage in this process, so a benchmark can show where time goes.

``with stage("tfidf fit"): ...`` adds the block's wall time to that stage's total. Costs one
``perf_counter`` pair per call (stages wrap whole columns, never single texts), so it is always on.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

_totals: dict[str, float] = defaultdict(float)


@contextmanager
def stage(name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        _totals[name] += time.perf_counter() - start


def stage_times() -> dict[str, float]:
    """Seconds per stage since the last :func:`reset_stages` (a copy)."""
    return dict(_totals)


def reset_stages() -> None:
    _totals.clear()
