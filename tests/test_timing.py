"""Stage timing counts the wall time a stage was running, once, even when threads overlap in it."""

from __future__ import annotations

import threading
import time

from arenapref.timing import reset_stages, stage, stage_times


def test_overlapping_threads_count_the_stage_once() -> None:
    reset_stages()
    barrier = threading.Barrier(2)

    def work() -> None:
        with stage("features"):
            barrier.wait()
            time.sleep(0.2)

    threads = [threading.Thread(target=work) for _ in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    took = stage_times()["features"]
    assert 0.2 <= took <= wall  # not 0.4: the two threads were in the stage at the same time


def test_sequential_calls_add_up() -> None:
    reset_stages()
    for _ in range(3):
        with stage("write"):
            time.sleep(0.02)
    assert 0.06 <= stage_times()["write"] < 0.5
