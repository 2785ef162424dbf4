"""A run directory is data: nothing in it runs code when read, and a damaged run is refused in one line.

Every file of a real gbdt run is truncated, emptied, removed or has a byte flipped: `arenapref.load`
and the CLI refuse it naming the file (the manifest check runs before any parser). A crafted pickle
never runs (no loader reads pickle). A booster damaged together with its manifest (a tampered run) is
caught by the structural check before LightGBM's parser, which would crash the process instead.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import arenapref
from arenapref.runs import RunError, write_manifest

SRC = Path(__file__).resolve().parents[1] / "src"
SUPPORT = Path(__file__).resolve().parent / "support"


@pytest.fixture(scope="module")
def gbdt_run(arena_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from arenapref.config import load_config
    from arenapref.data.readers import write_pairs
    from arenapref.training import train_run

    folder = tmp_path_factory.mktemp("gbdt_safety")
    write_pairs(arena_pairs.iloc[:240], folder / "train.jsonl")
    config = load_config(None, {"model": {"type": "gbdt", "params": {"n_estimators": 40}}, "cv": {"n_folds": 2}})
    train_run([folder / "train.jsonl"], config, folder / "run", progress=False, log=lambda *a: None)
    return folder / "run"


def _files(run: Path) -> list[str]:
    return sorted(json.loads((run / "manifest.json").read_text())["files"])


DAMAGES = ("truncate-10", "truncate-50", "truncate-99.9", "empty", "missing", "flip")


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how.startswith("truncate"):
        path.write_bytes(data[:int(len(data) * float(how.split("-")[1]) / 100)])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "missing":
        path.unlink()
    else:
        flipped = bytearray(data)
        flipped[len(flipped) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))


def test_every_file_of_a_run_is_listed_with_size_and_hash(gbdt_run: Path) -> None:
    manifest = json.loads((gbdt_run / "manifest.json").read_text())
    assert manifest["format"] == "arenapref-run" and manifest["format_version"] == 1
    on_disk = sorted(p.relative_to(gbdt_run).as_posix() for p in gbdt_run.rglob("*")
                     if p.is_file() and p.name != "manifest.json")
    assert _files(gbdt_run) == on_disk
    assert {"model/booster.txt", "model/gbdt.json", "model/tfidf.idf.npy", "config.yaml"} <= set(on_disk)
    assert not [p for p in on_disk if p.endswith((".pkl", ".pickle", ".joblib"))]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_file_is_refused_naming_it(gbdt_run: Path, tmp_path: Path, how: str) -> None:
    for rel in _files(gbdt_run):
        run = tmp_path / f"{how}-{rel.replace('/', '_')}"
        shutil.copytree(gbdt_run, run)
        _damage(run / rel, how)
        with pytest.raises(RunError) as err:
            arenapref.load(run)
        message = str(err.value)
        assert str(run / rel) in message and "\n" not in message, message
        shutil.rmtree(run)


def test_a_damaged_manifest_is_refused(gbdt_run: Path, tmp_path: Path) -> None:
    for how in DAMAGES:
        run = tmp_path / how
        shutil.copytree(gbdt_run, run)
        _damage(run / "manifest.json", how)
        with pytest.raises(RunError, match="manifest.json"):
            arenapref.load(run)


def test_the_cli_refuses_a_damaged_booster_in_one_line(gbdt_run: Path, arena_dir: Path, tmp_path: Path) -> None:
    for how, args in (("truncate-50", ["predict", "--data", str(arena_dir / "test.csv"), "--out", str(tmp_path / "s.csv")]),
                      ("flip", ["compare", "--prompt", "p", "--a", "a", "--b", "b"])):
        run = tmp_path / how
        shutil.copytree(gbdt_run, run)
        _damage(run / "model" / "booster.txt", how)
        proc = subprocess.run([sys.executable, "-m", "arenapref.cli", args[0], "--run", str(run), *args[1:]],
                              capture_output=True, text=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "booster.txt" in proc.stderr, proc.stderr
    assert not (tmp_path / "s.csv").exists()


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.marker, "pwned"))


def test_a_crafted_pickle_never_runs(gbdt_run: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # 1. the old file name, with a payload, even listed in a rewritten manifest: nothing reads it
    run = tmp_path / "run"
    shutil.copytree(gbdt_run, run)
    (run / "model" / "tfidf.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    (run / "model" / "length.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    judge = arenapref.load(run)
    judge.compare("p", "a", "b")
    write_manifest(run)
    arenapref.load(run).compare("p", "a", "b")
    # 2. a payload inside an object .npy where an array is read: refused before unpickling
    np.save(run / "model" / "tfidf.idf.npy", np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    write_manifest(run)
    with pytest.raises(RunError, match="tfidf.idf.npy"):
        arenapref.load(run)
    assert not marker.exists()


def test_no_pickle_loader_is_left_in_the_package() -> None:
    pattern = re.compile(r"\bpickle\.loads?\(|\bjoblib\.load\(|weights_only\s*=\s*False|allow_pickle\s*=\s*True")
    hits = [f"{p}:{i}" for p in (SRC / "arenapref").rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_a_tampered_booster_never_crashes_lightgbm(gbdt_run: Path) -> None:
    # damaged with the manifest rewritten to match: the structural check is the only guard left
    proc = subprocess.run([sys.executable, str(SUPPORT / "fuzz_booster.py"), str(gbdt_run / "model"), "160", "40",
                           "7"], capture_output=True, text=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    refused, loaded = map(int, re.search(r"refused (\d+) loaded (\d+)", proc.stdout).groups())
    assert refused + loaded == 200 and refused > 50


def test_save_load_is_bit_identical(gbdt_run: Path, length_run: Path, arena_pairs: pd.DataFrame) -> None:
    from arenapref.models.registry import load_model, save_model

    rows = arena_pairs.iloc[300:360].reset_index(drop=True)
    for run in (gbdt_run, length_run):
        model = load_model(run / "model")
        again = run.parent / f"resaved-{run.name}"
        save_model(model, again)
        np.testing.assert_array_equal(load_model(again).predict_proba(rows, swap_tta=True),
                                      model.predict_proba(rows, swap_tta=True))
