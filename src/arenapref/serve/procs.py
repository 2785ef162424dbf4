"""Model processes: the service's model calls run in N separate processes, so they use N cores.

One server process scores at most about one core's worth of pairs: the feature code is Python around
native kernels and holds the GIL between them, and two model threads in one process only fought over
the cores (measured in docs/speed.md). A model process is a fresh interpreter (``spawn``: nothing of
the server's threads or event loop is copied) that loads the run itself, checked against its manifest
as every load is, and runs each of its native libraries on one thread, so N processes fill N cores
without oversubscribing them. The server keeps HTTP, validation and micro-batching; a batch of rows
goes to whichever process is free and its probabilities come back (the rows are the request's plain
strings, sent over the process pipe; nothing is read from disk but the checked run).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

# one thread per native pool inside a model process: N processes already use N cores
_ONE_THREAD = {"POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1", "ARENAPREF_THREADS": "1"}
_START_TIMEOUT_S = 600
_judge: Any = None
_all_loaded: Any = None  # a barrier of the n processes, so that start() sees every one of them


def _start(run_dir: str, swap_tta: bool | None, all_loaded: Any) -> None:
    """Initialiser of a model process: pin the thread pools, then load the run (polars, LightGBM and
    the rest are first imported here, after the environment is set)."""
    os.environ.update(_ONE_THREAD)
    global _judge, _all_loaded
    from arenapref.api import load

    _judge, _all_loaded = load(run_dir, swap_tta=swap_tta), all_loaded


def _ready() -> int:
    _all_loaded.wait(timeout=_START_TIMEOUT_S)  # a process waiting here cannot take a sibling's call
    return os.getpid()


def score_rows(judge: Any, rows: list[dict[str, Any]]) -> Any:
    """Probabilities of ``rows`` (validated request rows) from ``judge``: the service's one model call,
    in the server process or in a model process."""
    from arenapref.api import pairs_frame, release_feature_cache

    proba = judge.predict_pairs(pairs_frame(rows))
    release_feature_cache()
    return proba


def score(rows: list[dict[str, Any]]) -> Any:
    """:func:`score_rows` with this model process's judge."""
    return score_rows(_judge, rows)


class ModelProcesses:
    """``n`` model processes serving one run; :meth:`start` waits until every one has loaded it."""

    def __init__(self, run_dir: str, *, swap_tta: bool | None, n: int) -> None:
        if n < 1:
            raise ValueError(f"model processes must be at least 1, got {n}")
        self.n, self.run_dir = n, run_dir
        context = multiprocessing.get_context("spawn")
        self.executor = ProcessPoolExecutor(max_workers=n, mp_context=context, initializer=_start,
                                            initargs=(run_dir, swap_tta, context.Barrier(n)))

    def start(self) -> list[int]:
        """Start all ``n`` processes (submitted together, so each gets its own) and return their pids; a
        run that fails to load in a process raises here, before the service answers anything."""
        futures = [self.executor.submit(_ready) for _ in range(self.n)]
        wait(futures)
        try:
            return [f.result() for f in futures]
        except BrokenProcessPool:  # the initialiser failed: its traceback went to stderr
            self.close()
            raise RuntimeError(f"the model processes could not load the run {self.run_dir} (the error is "
                               "printed above)") from None

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def started(run_dir: str, swap_tta: bool | None, n: int) -> ModelProcesses | None:
    """``n`` started model processes for ``run_dir``, or None for ``n`` = 0 (score in the server process)."""
    if n == 0:
        return None
    processes = ModelProcesses(run_dir, swap_tta=swap_tta, n=n)
    processes.start()
    return processes
