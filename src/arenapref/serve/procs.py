"""Model processes: the service's model calls run in N separate processes, so they use N cores.

One server process scores at most about one core's worth of pairs: the feature code is Python around
native kernels and holds the GIL between them, and two model threads in one process only fought over
the cores (measured in docs/speed.md). A model process is a fresh interpreter (``spawn``: nothing of
the server's threads or event loop is copied) that loads the run itself, checked against its manifest
as every load is, and runs each of its native libraries on one thread, so N processes fill N cores
without oversubscribing them. The server keeps HTTP, validation and micro-batching; a batch of rows
goes to whichever process is free and its probabilities come back (the rows are the request's plain
strings, sent over the process pipe as JSON, and the probabilities come back as raw float64 bytes: no
pickle, as nowhere in the project; nothing is read from disk but the checked run).

Each process has a pipe of its own, read by the server's event loop when an answer is there: no
thread sits between the loop and the processes. (A ``ProcessPoolExecutor`` adds a feeder and a
manager thread per call that wait for the GIL while the loop serves HTTP: 2-3 ms per 20 ms call,
measured in docs/speed.md.)
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import pydantic_core

# one thread per native pool inside a model process: N processes already use N cores
_ONE_THREAD = {"POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1", "ARENAPREF_THREADS": "1"}
_START_TIMEOUT_S = 600


def score_rows(judge: Any, rows: list[dict[str, Any]]) -> Any:
    """Probabilities of ``rows`` (validated request rows) from ``judge``: the service's one model call,
    in the server process or in a model process."""
    from arenapref.api import pairs_frame, release_feature_cache

    proba = judge.predict_pairs(pairs_frame(rows))
    release_feature_cache()
    return proba


def _encode_rows(rows: list[dict[str, Any]]) -> bytes:
    # pydantic-core's encoder: a fifth of the json module's time, in the server's one event loop
    try:
        return pydantic_core.to_json(rows)
    except pydantic_core.PydanticSerializationError:  # a lone surrogate (cleaned rows have none): escaped
        return json.dumps(rows).encode("ascii")


def _decode_rows(data: bytes) -> list[dict[str, Any]]:
    try:
        rows = pydantic_core.from_json(data)
    except ValueError:  # an escaped lone surrogate, which Python's parser reads
        rows = json.loads(data)
    if not isinstance(rows, list):
        raise ValueError("a batch is a list of rows")
    return rows


def _serve(conn: Connection, run_dir: str, swap_tta: bool | None) -> None:
    """A model process: pin the thread pools, load the run (polars, LightGBM and the rest are first
    imported here, after the environment is set), say so, then score each batch that comes down the
    pipe until the server closes it. Answers: ``b"p"`` and the (n, 3) float64 probabilities' bytes, or
    ``b"e"`` and the error's text."""
    os.environ.update(_ONE_THREAD)
    try:
        from arenapref.api import load

        judge = load(run_dir, swap_tta=swap_tta)
    except BaseException as err:  # noqa: BLE001 (the server reports it and stops)
        conn.send_bytes(json.dumps(["error", f"{type(err).__name__}: {err}"]).encode())
        return
    conn.send_bytes(json.dumps(["ready", os.getpid()]).encode())
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the server closed the pipe (or is gone)
        try:
            proba = np.ascontiguousarray(score_rows(judge, _decode_rows(data)), dtype=np.float64)
            answer = b"p" + proba.tobytes()
        except Exception as err:  # noqa: BLE001 (raised again in the server, for the request that caused it)
            answer = b"e" + f"{type(err).__name__}: {err}".encode("utf-8", "replace")
        conn.send_bytes(answer)


class ModelProcesses:
    """``n`` model processes serving one run; :meth:`start` waits until every one has loaded it, then
    ``await score(rows)`` scores a batch in a free one (at most ``n`` batches at once)."""

    def __init__(self, run_dir: str, *, swap_tta: bool | None, n: int) -> None:
        if n < 1:
            raise ValueError(f"model processes must be at least 1, got {n}")
        self.n, self.run_dir = n, run_dir
        context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._child_ends: list[Connection] = []
        self._processes: list[Any] = []
        for _ in range(n):
            ours, theirs = context.Pipe(duplex=True)
            self._conns.append(ours)
            self._child_ends.append(theirs)
            self._processes.append(context.Process(target=_serve, args=(theirs, run_dir, swap_tta), daemon=True))
        self._idle: asyncio.Queue[int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dead: set[int] = set()

    def start(self) -> list[int]:
        """Start all ``n`` processes and return their pids; a run that fails to load in a process raises
        here, before the service answers anything."""
        for process in self._processes:
            process.start()
        for end in self._child_ends:
            end.close()  # the children hold them now: a child that dies shows as end-of-file here
        pids = []
        for conn in self._conns:
            try:
                message = json.loads(conn.recv_bytes()) if conn.poll(_START_TIMEOUT_S) else ["error", "no answer in time"]
            except (EOFError, OSError):
                message = ["error", "the process exited while loading"]
            if message[0] != "ready":
                self.close()
                raise RuntimeError(f"the model processes could not load the run {self.run_dir} ({message[1]})")
            pids.append(int(message[1]))
        return pids

    def _idle_queue(self) -> asyncio.Queue[int]:
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:  # e.g. an app restarted by a test client
            self._loop, self._idle = loop, asyncio.Queue()
            for i in range(self.n):
                if i not in self._dead:
                    self._idle.put_nowait(i)
            if len(self._dead) == self.n:
                self._idle.put_nowait(-1)
        return self._idle

    async def score(self, rows: list[dict[str, Any]]) -> Any:
        """The probabilities of ``rows`` from the next free process."""
        idle = self._idle_queue()
        i = await idle.get()
        if i < 0:  # every process has exited: pass the news on to the next caller waiting
            idle.put_nowait(i)
            raise RuntimeError("every model process has exited; restart the service")
        conn = self._conns[i]
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[bytes] = loop.create_future()

        def readable() -> None:
            loop.remove_reader(conn.fileno())
            try:
                answered.set_result(conn.recv_bytes())
            except (EOFError, OSError) as err:
                answered.set_exception(err)

        try:
            conn.send_bytes(_encode_rows(rows))
            loop.add_reader(conn.fileno(), readable)
            try:
                answer = await answered
            except asyncio.CancelledError:
                if not answered.done():  # its answer still comes: read it off, then the process is free
                    loop.remove_reader(conn.fileno())
                    loop.add_reader(conn.fileno(), self._drain, i)
                raise
        except (EOFError, OSError, BrokenPipeError):
            self._exited(i)
            self._processes[i].join(timeout=1)
            raise RuntimeError(f"model process {self._processes[i].pid} exited (exit code "
                               f"{self._processes[i].exitcode}); the service has {self.n - len(self._dead)} "
                               f"of {self.n} left") from None
        idle.put_nowait(i)
        if answer[:1] != b"p":
            raise RuntimeError(f"model process: {answer[1:].decode('utf-8', 'replace')}")
        return np.frombuffer(answer, dtype=np.float64, offset=1).reshape(len(rows), 3)

    def _drain(self, i: int) -> None:
        assert self._loop is not None and self._idle is not None
        self._loop.remove_reader(self._conns[i].fileno())
        try:
            self._conns[i].recv_bytes()
        except (EOFError, OSError):
            self._exited(i)
            return
        self._idle.put_nowait(i)

    def _exited(self, i: int) -> None:
        self._dead.add(i)
        if len(self._dead) == self.n and self._idle is not None:
            self._idle.put_nowait(-1)  # wakes the callers waiting for a free process, with the error

    def close(self) -> None:
        """Close the pipes (each process then returns) and wait for the processes."""
        for conn in self._conns:
            conn.close()
        for process in self._processes:
            if process.pid is None:
                continue
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def started(run_dir: str, swap_tta: bool | None, n: int) -> ModelProcesses | None:
    """``n`` started model processes for ``run_dir``, or None for ``n`` = 0 (score in the server process)."""
    if n == 0:
        return None
    processes = ModelProcesses(run_dir, swap_tta=swap_tta, n=n)
    processes.start()
    return processes
