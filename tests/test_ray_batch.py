"""`arenapref batch --engine ray`: the same floats as `batch`, one shard per block, every id once after a kill.

A local Ray (2 CPUs, no dashboard) is started once for the module; the killed driver joins it with
`--address`, as a driver on a cluster would.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import arenapref
from arenapref.cli import main
from arenapref.commands.batch import score_jsonl
from arenapref.config import load_config
from arenapref.data.readers import write_pairs
from arenapref.data.validation import DataError
from arenapref.training import train_run

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from arenapref.scale.ray_batch import JOB_FILE, SKIPPED_FILE, RayJob, run_ray_job  # noqa: E402

PROBA = ["winner_model_a", "winner_model_b", "winner_tie"]
FAST_GBDT = {"type": "gbdt", "params": {"n_estimators": 30, "early_stopping_rounds": 10, "n_jobs": 1,
                                        "tfidf": {"max_features": 2000, "svd_components": 4}}}


@pytest.fixture(scope="module")
def ray_address() -> str:
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(arena_dir: Path, arena_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real rows in three files of the three formats (Kaggle CSV, JSONL, Parquet), and all of them in one."""
    root = tmp_path_factory.mktemp("ray_in")
    parts = root / "parts"
    parts.mkdir()
    # the Kaggle CSV keeps the competition's own cells (JSON-encoded turns, surrogate escapes)
    raw = pd.read_csv(arena_dir / "train.csv", dtype=str, keep_default_na=False)
    # 600 of the rows keep the module quick: multi-turn, non-English and long answers are among them
    raw.iloc[:200].to_csv(parts / "a.csv", index=False)
    write_pairs(arena_pairs.iloc[200:400], parts / "b.jsonl")
    write_pairs(pd.concat([arena_pairs.iloc[400:500], arena_pairs.iloc[-100:]]), parts / "c.parquet")
    write_pairs(pd.concat([arena_pairs.iloc[:500], arena_pairs.iloc[-100:]]), root / "all.jsonl")
    return {"glob": parts / "*", "all": root / "all.jsonl"}


@pytest.fixture(scope="module")
def gbdt_run(arena_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ray_gbdt")
    write_pairs(arena_pairs.iloc[:200], root / "train.jsonl")  # the rows of `length_run`: blend members share rows
    config = load_config(None, {"model": FAST_GBDT, "cv": {"n_folds": 2}})
    return train_run([root / "train.jsonl"], config, root / "run", progress=False, log=lambda *a: None).run_dir


@pytest.fixture(scope="module")
def blend_run(gbdt_run: Path, length_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray_blend") / "blend"
    assert main(["blend", "--run", str(gbdt_run), "--run", str(length_run), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def references(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """`arenapref batch` output on the same rows, computed once per run."""
    cache: dict[Path, Path] = {}
    root = tmp_path_factory.mktemp("ray_ref")

    def get(run: Path) -> Path:
        if run not in cache:
            cache[run] = root / f"{len(cache)}.jsonl"
            score_jsonl(arenapref.load(run), inputs["all"], cache[run], chunk_size=512, progress=False)
        return cache[run]

    return get


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_shards(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet"))], ignore_index=True)


@pytest.mark.parametrize("kind", ["gbdt", "blend"])
def test_same_floats_as_batch(kind: str, ray_address: str, request: pytest.FixtureRequest,
                              inputs: dict[str, Path], references: Callable[[Path], Path], tmp_path: Path) -> None:
    run = request.getfixturevalue(f"{kind}_run")
    reference_file = references(run)
    reference = read_lines(reference_file)
    out = tmp_path / "shards"
    fmt = "parquet" if kind == "gbdt" else "jsonl"
    result = run_ray_job(RayJob(run=str(run), inputs=[str(inputs["glob"])], output=str(out), block_rows=150,
                                workers=2 if kind == "gbdt" else 1, shard_format=fmt, progress=False))
    assert result.total == result.scored == len(reference) and result.blocks == 5  # 200/200 rows + 1 row group
    if fmt == "jsonl":  # the shards, in name order, are byte for byte the file `batch` writes
        shards = sorted(out.glob("part-*.jsonl"))
        assert b"".join(p.read_bytes() for p in shards) == reference_file.read_bytes()
        return
    got = read_shards(out)
    assert got["id"].tolist() == [str(r["id"]) for r in reference]
    expected = np.array([[r[c] for c in PROBA] for r in reference])
    assert np.array_equal(got[PROBA].to_numpy(), expected)  # exactly: the same Judge on the same rows
    assert got["verdict"].tolist() == [r["verdict"] for r in reference]
    assert json.loads((out / JOB_FILE).read_text())["run_fingerprint"] == arenapref.runs.run_fingerprint(run)


def test_kill_the_driver_then_resume(ray_address: str, gbdt_run: Path, inputs: dict[str, Path],
                                     references: Callable[[Path], Path],
                                     tmp_path: Path) -> None:
    """SIGKILL of the driver mid-job; `--resume` scores only what is missing: every id exactly once."""
    reference = read_lines(references(gbdt_run))
    out = tmp_path / "shards"
    cmd = [sys.executable, "-m", "arenapref.cli", "batch", "--engine", "ray", "--address", ray_address,
           "--run", str(gbdt_run), "--input", str(inputs["glob"]), "--output", str(out), "--block-rows", "50",
           "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not list(out.glob("part-*.parquet")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    before = len(list(out.glob("part-*.parquet")))
    assert 0 < before < 9  # 4 + 4 blocks + 1 Parquet row group: killed in the middle
    assert not (out / "_SUCCESS.json").exists()

    result = run_ray_job(RayJob(run=str(gbdt_run), inputs=[str(inputs["glob"])], output=str(out),
                                block_rows=50, workers=1, resume=True, progress=False))
    assert result.blocks_resumed >= before and result.scored < len(reference)
    got = read_shards(out)
    assert got["id"].is_unique and got["id"].tolist() == [str(r["id"]) for r in reference]
    assert np.array_equal(got[PROBA].to_numpy(), np.array([[r[c] for c in PROBA] for r in reference]))
    assert not list(out.glob(".*.tmp"))

    # resuming under other settings is refused, naming the difference, before any work
    with pytest.raises(ValueError, match="swap_tta: True vs now False"):
        run_ray_job(RayJob(run=str(gbdt_run), inputs=[str(inputs["glob"])], output=str(out), block_rows=50,
                           swap_tta=False, resume=True, progress=False))
    with pytest.raises(ValueError, match="block_rows: 50 vs now 300"):
        run_ray_job(RayJob(run=str(gbdt_run), inputs=[str(inputs["glob"])], output=str(out), block_rows=300,
                           resume=True, progress=False))
    with pytest.raises(FileExistsError, match="--resume"):
        run_ray_job(RayJob(run=str(gbdt_run), inputs=[str(inputs["glob"])], output=str(out), progress=False))


def test_bad_rows_like_batch(ray_address: str, length_run: Path, arena_pairs: pd.DataFrame,
                             tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_pairs(arena_pairs.iloc[:300], folder / "a.jsonl")
    lines = (folder / "a.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[120] = "not json\n"
    lines[200] = json.dumps({**json.loads(lines[201]), "id": "no-prompt", "prompt": None}) + "\n"
    (folder / "a.jsonl").write_text("".join(lines), encoding="utf-8")
    write_pairs(arena_pairs.iloc[290:400], folder / "b.parquet")  # rows 290-299 repeat ids of a.jsonl
    out = tmp_path / "shards"
    args = ["batch", "--engine", "ray", "--run", str(length_run), "--input", str(folder / "*"), "--output",
            str(out), "--block-rows", "100", "--quiet"]
    assert main(args) == 2  # the first bad row in input order, before anything is written
    err = capsys.readouterr().err.strip()
    assert err.endswith("a.jsonl, line 121: not valid JSON (Expecting value at char 0)") and len(err.splitlines()) == 1
    assert not out.exists()

    assert main([*args, "--on-bad-row", "skip"]) == 0
    assert "skipped 12 bad rows" in capsys.readouterr().out
    skipped = [json.loads(line) for line in (out / SKIPPED_FILE).read_text().splitlines()]
    assert [(Path(s["file"]).name, s["line"], s["field"]) for s in skipped[:2]] == [
        ("a.jsonl", 121, None), ("a.jsonl", 201, "prompt")]
    assert all(s["field"] == "id" and "duplicate id (first seen on line" in s["reason"] for s in skipped[2:])
    got = read_shards(out)
    kept = arena_pairs["id"].iloc[:400].drop(index=[120, 200]).tolist()
    assert got["id"].tolist() == kept  # each good id once, in input order

    with pytest.raises(DataError, match="no files match"):
        run_ray_job(RayJob(run=str(length_run), inputs=[str(tmp_path / "none-*.jsonl")],
                           output=str(tmp_path / "x"), progress=False))


def test_pseudo_label_engine_ray(ray_address: str, length_run: Path, inputs: dict[str, Path],
                                 references: Callable[[Path], Path], tmp_path: Path) -> None:
    """Soft-labelled canonical shards + provenance; the labels are the Judge's (batch's) probabilities."""
    out = tmp_path / "labels"
    assert main(["pseudo-label", "--engine", "ray", "--run", str(length_run), "--data", str(inputs["glob"]),
                 "--out", str(out), "--workers", "1", "--block-rows", "300", "--min-confidence", "0.4",
                 "--quiet"]) == 0
    got = read_shards(out)
    reference = [r for r in read_lines(references(length_run)) if max(r[c] for c in PROBA) >= 0.4]
    assert got["id"].tolist() == [str(r["id"]) for r in reference]
    assert np.array_equal(got[PROBA].to_numpy(), np.array([[r[c] for c in PROBA] for r in reference]))
    assert got["source"].str.startswith("pseudo:").all() and got["prompt"].map(len).min() >= 1
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["n_pool"] == 600 and provenance["n_labelled"] == len(reference)
    assert provenance["label_mass"]["winner_tie"] == pytest.approx(got["winner_tie"].sum())
