"""One judge behind every door: the same 500 real rows through the Python API, `predict`, `compare`,
`batch`, the HTTP service (/v1/compare and /v1/batch) and `pseudo-label` give identical floats, for a
run that averages over the A/B swap and for one that does not (its recipe's predict.swap_tta)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import arenapref
from arenapref.cli import main
from arenapref.data.readers import read_pairs, write_pairs
from arenapref.runs import read_yaml, write_manifest, write_yaml

N = 500


@pytest.fixture(scope="module")
def runs(arena_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    from arenapref.config import load_config
    from arenapref.training import train_run

    folder = tmp_path_factory.mktemp("doors")
    write_pairs(arena_pairs.iloc[:400], folder / "train.jsonl")
    config = load_config(None, {"model": {"type": "gbdt", "params": {"n_estimators": 60}}, "cv": {"n_folds": 2}})
    train_run([folder / "train.jsonl"], config, folder / "tta", progress=False, log=lambda *a: None)
    # the same model under a recipe with swap averaging off (as if trained with predict.swap_tta: false)
    shutil.copytree(folder / "tta", folder / "no-tta")
    resolved = read_yaml(folder / "no-tta" / "config.yaml")
    write_yaml(folder / "no-tta" / "config.yaml", {**resolved, "predict": {"swap_tta": False}})
    write_manifest(folder / "no-tta")
    return {True: folder / "tta", False: folder / "no-tta"}


@pytest.fixture(scope="module")
def rows(arena_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    table = arena_pairs.iloc[400:400 + N].reset_index(drop=True)
    path = tmp_path_factory.mktemp("doors_rows") / "rows.jsonl"
    write_pairs(table, path)
    return read_pairs(path), path


def _by_id(ids: list, values: list[list[float]]) -> dict[str, list[float]]:
    return {str(i): list(map(float, v)) for i, v in zip(ids, values)}


@pytest.mark.parametrize("swap_tta", [True, False])
def test_every_door_gives_the_same_floats(runs: dict[bool, Path], rows: tuple[pd.DataFrame, Path],
                                          tmp_path: Path, swap_tta: bool, capsys: pytest.CaptureFixture) -> None:
    from fastapi.testclient import TestClient

    from arenapref.serve.app import create_app

    run = runs[swap_tta]
    table, path = rows
    ids = [str(i) for i in table["id"]]
    judge = arenapref.load(run)
    assert judge.swap_tta is swap_tta
    reference = _by_id(ids, judge.predict(table).tolist())
    cols = ["winner_model_a", "winner_model_b", "winner_tie"]
    doors: dict[str, dict[str, list[float]]] = {}

    doors["api.predict_pairs"] = _by_id(ids, judge.predict_pairs(table).tolist())
    # one pair per call costs a feature pass each: every 5th row keeps the single-pair doors short
    single = list(range(0, N, 5))
    doors["api.compare"] = {ids[i]: [c.p_a, c.p_b, c.p_tie] for i, c in
                            zip(single, (judge.compare(table["prompt"][i], table["response_a"][i],
                                                       table["response_b"][i]) for i in single))}

    assert main(["predict", "--run", str(run), "--data", str(path), "--out", str(tmp_path / "sub.csv")]) == 0
    with open(tmp_path / "sub.csv", newline="") as handle:  # csv + float(): exact round trip of the repr
        sub = list(csv.DictReader(handle))
    doors["predict"] = _by_id([r["id"] for r in sub], [[float(r[c]) for c in cols] for r in sub])

    assert main(["batch", "--run", str(run), "--input", str(path), "--output", str(tmp_path / "b.jsonl"),
                 "--quiet"]) == 0
    lines = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    doors["batch"] = _by_id([x["id"] for x in lines], [[x[c] for c in cols] for x in lines])

    assert main(["pseudo-label", "--run", str(run), "--data", str(path), "--out", str(tmp_path / "pl.jsonl")]) == 0
    labelled = [json.loads(x) for x in (tmp_path / "pl.jsonl").read_text().splitlines()]
    doors["pseudo-label"] = _by_id([x["id"] for x in labelled], [[x[c] for c in cols] for x in labelled])

    compare_cli = {}
    for i in range(0, N, 50):  # the CLI loads the run per call: every 50th row keeps the test short
        args = ["compare", "--run", str(run)]
        for p, a, b in zip(table["prompt"][i], table["response_a"][i], table["response_b"][i]):
            args += ["--prompt", p, "--a", a, "--b", b]
        capsys.readouterr()
        assert main(args) == 0
        out = json.loads(capsys.readouterr().out)
        compare_cli[ids[i]] = [out[c] for c in cols]
    doors["compare (CLI)"] = compare_cli

    with TestClient(create_app(arenapref.load(run))) as client:
        one = {}
        for i in single:
            res = client.post("/v1/compare", json={"prompt": table["prompt"][i], "response_a": table["response_a"][i],
                                                   "response_b": table["response_b"][i]})
            assert res.status_code == 200, res.text
            one[ids[i]] = [res.json()[c] for c in cols]
        doors["/v1/compare"] = one
        many: dict[str, list[float]] = {}
        for start in range(0, N, 64):
            items = [{"id": ids[j], "prompt": table["prompt"][j], "response_a": table["response_a"][j],
                      "response_b": table["response_b"][j]} for j in range(start, min(N, start + 64))]
            res = client.post("/v1/batch", json={"items": items})
            assert res.status_code == 200, res.text
            many.update({r["id"]: [r[c] for c in cols] for r in res.json()["results"]})
        doors["/v1/batch"] = many

    for name, got in doors.items():
        expected_ids = set(got) if name in ("compare (CLI)", "api.compare", "/v1/compare") else set(ids)
        assert set(got) == expected_ids, name
        differing = [i for i in got if got[i] != reference[i]]
        assert not differing, f"{name}: {len(differing)} of {len(got)} rows differ (e.g. id {differing[0]})"
    # the two recipes really differ, so the test can tell a door that ignores predict.swap_tta
    other = arenapref.load(runs[not swap_tta]).predict(table.iloc[:50])
    assert not np.array_equal(other, np.array([reference[i] for i in ids[:50]]))


def test_batches_in_parallel_give_the_floats_of_one_batch(runs: dict[bool, Path],
                                                          rows: tuple[pd.DataFrame, Path]) -> None:
    """The judge scores batches on two threads when the model allows it: the output keeps the row
    order and the floats of one batch of every row, and a model that does not allow it stays serial."""
    import threading

    judge = arenapref.load(runs[True])
    assert judge.model.parallel_predict
    table, _ = rows
    whole = judge.predict_pairs(table, batch_size=len(table))
    threads: set[int] = set()
    predict = judge.model.predict_proba

    def spy(pairs: pd.DataFrame, **kw: object) -> np.ndarray:
        threads.add(threading.get_ident())
        return predict(pairs, **kw)

    judge.model.predict_proba = spy  # type: ignore[method-assign]
    np.testing.assert_array_equal(judge.predict_pairs(table, batch_size=37), whole)
    assert len(threads) == 2, "14 batches of a parallel-safe model run on two threads"
    threads.clear()
    judge.model.embed = {"model": "stays-serial"}  # a sentence encoder makes the model serial
    assert not judge.model.parallel_predict
    np.testing.assert_array_equal(judge.predict_pairs(table, batch_size=37), whole)
    assert threads == {threading.get_ident()}
