"""Model processes behind the service (`serve --model-processes N`): several batches scored at once, in
separate processes that load the run themselves, with the same floats as the Python API."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import train_small_run

import arenapref

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from arenapref.serve.app import create_app  # noqa: E402
from arenapref.serve.batcher import MicroBatcher  # noqa: E402
from arenapref.serve.procs import ModelProcesses, started  # noqa: E402


class SlowScorer:
    """A model call that takes ``seconds``, answers each row with its ``x`` in column 0, and records the
    batch sizes and the most calls that ran at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.sizes, self.peak = seconds, [], 0
        self._lock, self._busy = threading.Lock(), 0

    def __call__(self, rows: list[dict]) -> np.ndarray:
        with self._lock:
            self.sizes.append(len(rows))
            self._busy += 1
            self.peak = max(self.peak, self._busy)
        time.sleep(self.seconds)
        with self._lock:
            self._busy -= 1
        return np.array([[r.get("x", 0.0), 0.0, 0.0] for r in rows], dtype=float)


def test_batcher_keeps_in_flight_batches_busy_and_answers_each_request() -> None:
    slow_score = SlowScorer(0.05)

    async def fire(batcher: MicroBatcher) -> list[np.ndarray]:
        out = await asyncio.gather(*(batcher.submit([{"x": float(i)}]) for i in range(40)))
        await batcher.close()
        return out

    with ThreadPoolExecutor(max_workers=2) as pool:
        two = MicroBatcher(slow_score, max_rows=4, executor=pool, in_flight=2)
        got = asyncio.run(fire(two))
    assert [float(g[0, 0]) for g in got] == [float(i) for i in range(40)]  # each request its own row
    assert slow_score.peak == 2 and two.calls < 40 and two.rows == 40

    slow_score = SlowScorer(0.05)
    one = MicroBatcher(slow_score, max_rows=4)
    asyncio.run(fire(one))
    assert slow_score.peak == 1  # the default: one model call at a time
    with pytest.raises(ValueError, match="in_flight"):
        MicroBatcher(slow_score, in_flight=2)  # more than one in flight needs an executor with the workers


def test_a_second_batch_starts_early_only_when_it_is_worth_a_model_call() -> None:
    async def arrive(counts: list[int]) -> None:
        batcher = MicroBatcher(slow_score, max_rows=32, executor=pool, in_flight=2)  # fills at 8 rows
        calls = []
        for count in counts:  # groups of requests arriving 30 ms apart
            calls += [asyncio.ensure_future(batcher.submit([{}])) for _ in range(count)]
            await asyncio.sleep(0.03)
        await asyncio.gather(*calls)
        await batcher.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        slow_score = SlowScorer(0.2)
        asyncio.run(arrive([1, 1, 1, 1]))  # three stragglers wait for the running call, then go together
        assert slow_score.sizes == [1, 3] and slow_score.peak == 1
        slow_score = SlowScorer(0.2)
        asyncio.run(arrive([1, 8]))  # eight waiting: worth a second call at once
        assert slow_score.sizes == [1, 8] and slow_score.peak == 2


def test_model_processes_answer_like_the_python_api(arena_pairs: pd.DataFrame, tmp_path: Path) -> None:
    run = train_small_run(arena_pairs, tmp_path, model="gbdt", n=300)
    judge = arenapref.load(run)
    processes = ModelProcesses(str(run), swap_tta=None, n=2)
    pids = processes.start()
    assert len(set(pids)) == 2  # two processes, each with the run loaded
    app = create_app(judge, max_batch=8, model_processes=processes)
    rows = arena_pairs.iloc[300:364]

    async def fire() -> list[dict]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            responses = await asyncio.gather(*(
                http.post("/v1/compare", json={"prompt": p, "response_a": a, "response_b": b})
                for p, a, b in zip(rows["prompt"], rows["response_a"], rows["response_b"])))
        assert all(r.status_code == 200 for r in responses)
        await app.state.batcher.close()
        return [r.json() for r in responses]

    try:
        results = asyncio.run(fire())
    finally:
        processes.close()
    got = np.array([[r["winner_model_a"], r["winner_model_b"], r["winner_tie"]] for r in results])
    np.testing.assert_allclose(got, judge.predict(rows), atol=1e-12)
    assert app.state.batcher.rows == 64 and app.state.batcher.calls < 64


def test_a_run_that_fails_to_load_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="could not load the run"):
        started(str(tmp_path / "no-such-run"), None, 1)
    assert started(str(tmp_path), None, 0) is None  # 0: the model stays in the server process


def test_a_model_process_that_dies_fails_its_batch_and_the_others_go_on(arena_pairs: pd.DataFrame,
                                                                        tmp_path: Path) -> None:
    import os
    import signal

    from arenapref.api import pairs_frame
    from arenapref.data.inputs import clean_pair

    run = train_small_run(arena_pairs, tmp_path, model="gbdt", n=300)
    processes = ModelProcesses(str(run), swap_tta=None, n=2)
    pids = processes.start()
    rows = [clean_pair(p, a, b) for p, a, b in zip(arena_pairs["prompt"][300:304], arena_pairs["response_a"][300:304],
                                                  arena_pairs["response_b"][300:304])]
    expected = arenapref.load(run).predict_pairs(pairs_frame(rows))

    async def score_after_a_kill() -> list:
        first = await processes.score(rows)  # both alive
        with pytest.raises(RuntimeError, match="model process: "):  # a batch the model fails on: its error
            await processes.score([{"id": "0", "prompt": 5}])
        assert np.array_equal(await processes.score(rows), first)  # and the process goes on
        os.kill(pids[1], signal.SIGKILL)
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(await processes.score(rows))
            except RuntimeError as err:
                outcomes.append(err)
        return [first, *outcomes]

    async def score_after_both_died() -> list:
        os.kill(pids[0], signal.SIGKILL)
        return await asyncio.gather(*(processes.score(rows) for _ in range(3)), return_exceptions=True)

    try:
        got = asyncio.run(score_after_a_kill())
        none_left = asyncio.run(asyncio.wait_for(score_after_both_died(), timeout=30))  # errors, no hang
    finally:
        processes.close()
    assert all(isinstance(e, RuntimeError) for e in none_left)
    assert "1 of 2" not in str(none_left[0]) and any("every model process" in str(e) for e in none_left)
    errors = [g for g in got if isinstance(g, RuntimeError)]
    assert len(errors) == 1 and "exited" in str(errors[0]) and "1 of 2 left" in str(errors[0])
    for g in got:
        if not isinstance(g, RuntimeError):
            np.testing.assert_array_equal(g, expected)


def test_rows_cross_the_pipe_unchanged() -> None:
    from arenapref.serve.procs import _decode_rows, _encode_rows

    rows = [{"id": "0", "prompt": ["é😀 中文", "x"], "response_a": ["a", ""], "response_b": ["b", "c"],
             "model_a": None, "winner_tie": 0.25},
            {"id": "1", "prompt": ["lone \ud800 surrogate"], "response_a": ["a"], "response_b": ["b"]}]
    for batch in (rows[:1], rows):  # pydantic-core's encoder, then the json module's for the lone surrogate
        assert _decode_rows(_encode_rows(batch)) == batch
    nan = _decode_rows(_encode_rows([{"winner_tie": float("nan")}]))[0]["winner_tie"]
    assert nan != nan  # an unlabelled row's NaN stays NaN
