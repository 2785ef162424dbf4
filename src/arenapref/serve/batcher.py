"""Micro-batching: concurrent requests are scored together in one model call.

Scoring a pair has a fixed cost per call (building a table, feature and booster overheads) that a
batch shares; the bench (``bench/serve_load.py``) measures what it buys. Batching is greedy: the
worker takes whatever is waiting (up to ``max_rows``) as soon as the model is free, so a lone request
waits for nothing and a busy server sends bigger batches. The model runs in one worker thread, which
keeps the event loop free and means the model is never called from two threads at once; an async
scorer (the model processes of ``serve.procs``) is awaited instead, up to ``in_flight`` batches at once.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Score = Callable[[list[dict[str, Any]]], np.ndarray]
AsyncScore = Callable[[list[dict[str, Any]]], Awaitable[np.ndarray]]


@dataclass
class _Job:
    rows: list[dict[str, Any]]
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """``await batcher.submit(rows)`` returns the (len(rows), 3) probabilities of those rows."""

    def __init__(self, score: Score | AsyncScore, *, max_rows: int = 32, executor: Executor | None = None,
                 in_flight: int = 1) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        # a coroutine function scores on its own (e.g. model processes); a plain one runs in the executor
        self._async = inspect.iscoroutinefunction(score)
        if in_flight < 1 or (in_flight > 1 and executor is None and not self._async):
            raise ValueError(f"in_flight must be 1, or up to the workers of a given executor or of an async "
                             f"scorer; got {in_flight}")
        self.score = score
        self.max_rows = max_rows
        self.in_flight = in_flight
        # with several batches in flight, a second one starts early only with this many rows: batches of
        # one or two rows would pay the fixed cost of a model call per request (docs/speed.md)
        self.fill_rows = max(1, max_rows // (2 * in_flight)) if in_flight > 1 else 1
        self.calls = 0  # model calls made
        self.rows = 0  # rows scored
        self._given = executor  # owned by the caller; else a thread made here (unless the scorer is async)
        self._executor: Executor | None = executor
        self._running: set[asyncio.Task] = set()
        self._pending: deque[_Job] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure_worker(self) -> None:
        loop = asyncio.get_running_loop()
        if self._executor is None and not self._async:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arenapref-model")
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop, self._wake = loop, asyncio.Event()
            self._task = loop.create_task(self._work())

    async def submit(self, rows: list[dict[str, Any]]) -> np.ndarray:
        self._ensure_worker()
        job = _Job(rows, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        assert self._wake is not None
        self._wake.set()
        return await job.future

    def _take(self) -> list[_Job]:
        jobs = [self._pending.popleft()]
        size = len(jobs[0].rows)
        while self._pending and size + len(self._pending[0].rows) <= self.max_rows:
            job = self._pending.popleft()
            jobs.append(job)
            size += len(job.rows)
        return jobs

    async def _run(self, jobs: list[_Job]) -> None:
        loop = asyncio.get_running_loop()
        rows = [r for job in jobs for r in job.rows]
        try:
            if self._async:
                proba = await self.score(rows)  # type: ignore[misc]
            else:
                proba = await loop.run_in_executor(self._executor, self.score, rows)
        except Exception as err:
            if len(jobs) > 1:  # one bad request must not fail the others batched with it
                for job in jobs:
                    await self._run([job])
                return
            if not jobs[0].future.done():
                jobs[0].future.set_exception(err)
            return
        self.calls += 1
        self.rows += len(rows)
        start = 0
        for job in jobs:
            if not job.future.done():  # the client may have gone away
                job.future.set_result(proba[start:start + len(job.rows)])
            start += len(job.rows)

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                if len(self._running) >= self.in_flight:
                    await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                    continue
                if self._running and sum(len(job.rows) for job in self._pending) < self.fill_rows:
                    # a batch is being scored already: let this one fill up until that one is done or
                    # enough rows wait (a request never waits longer than with one batch in flight)
                    self._wake.clear()
                    more = asyncio.get_running_loop().create_task(self._wake.wait())
                    await asyncio.wait({more, *self._running}, return_when=asyncio.FIRST_COMPLETED)
                    more.cancel()
                    continue
                task = asyncio.get_running_loop().create_task(self._run(self._take()))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                if self.in_flight == 1:
                    await task

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for task in list(self._running):
            task.cancel()
        if self._executor is not None and self._given is None:
            # a later request (e.g. an app restarted by a test client) makes a fresh one
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._task = None
