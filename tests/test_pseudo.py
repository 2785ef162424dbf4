"""Pseudo-labels: swap-averaged soft labels with provenance, and a student trained on real + pseudo rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from arenapref.cli import main
from arenapref.config import load_config
from arenapref.data.readers import read_pairs, write_pairs
from arenapref.data.schema import LABEL_COLUMNS, make_pairs, swap_pairs, targets_of
from arenapref.models.registry import load_model
from arenapref.pseudo import apply_soft_labels, provenance_path
from arenapref.training import train_run

TINY = {"seed": 0, "cv": {"n_folds": 2}, "data": {"allow_soft_labels": True},
        "model": {"type": "gbdt", "params": {"n_estimators": 30, "early_stopping_rounds": 5, "use_tfidf": False,
                                             "n_jobs": 1}}}


@pytest.fixture(scope="module")
def teacher_run(small_pairs, tmp_path_factory):
    root = tmp_path_factory.mktemp("pseudo")
    data = root / "arena300.jsonl"
    write_pairs(small_pairs.assign(source="arena"), data)  # a temporary copy, never in the repo
    run = root / "teacher"
    train_run([data], load_config(None, TINY), run, progress=False, log=lambda *_: None)
    return run, data


def test_apply_soft_labels():
    pool = make_pairs(["p1", "p2"], ["a1", "a2"], ["b1", "b2"], source="pool")
    out = apply_soft_labels(pool, np.array([[6.0, 1.0, 1.0], [0.2, 0.3, 0.5]]), min_confidence=0.55)
    assert out["id"].tolist() == ["0"] and out["source"].tolist() == ["pseudo:pool"]
    np.testing.assert_allclose(targets_of(out), [[0.75, 0.125, 0.125]])
    assert len(apply_soft_labels(pool, np.full((2, 3), 1 / 3))) == 2
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        apply_soft_labels(pool, np.ones((3, 3)))


def test_pseudo_label_command_and_student(teacher_run, shared_data, tmp_path, capsys):
    run, data = teacher_run
    pool = shared_data / "llmeval2" / "llmeval2_with_ties.jsonl"
    out = tmp_path / "labels.parquet"
    assert main(["pseudo-label", "--run", str(run), "--data", str(pool), "--out", str(out)]) == 0
    assert "wrote 200 soft-labelled rows" in capsys.readouterr().out
    labels = read_pairs(out, allow_soft_labels=True)
    t = targets_of(labels)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    assert (t.max(axis=1) < 1.0).all() and labels["source"].str.startswith("pseudo:").all()
    # swap-averaged: the teacher's labels of the swapped pool are the swapped labels
    teacher = load_model(run / "model")
    swapped = teacher.predict_proba(swap_pairs(labels), swap_tta=True)
    np.testing.assert_allclose(swapped[:, [1, 0, 2]], t, atol=1e-6)
    prov = json.loads(provenance_path(out).read_text())
    assert prov["run_dir"] == str(run.resolve()) and prov["model"] == "gbdt" and prov["created"]
    assert prov["n_labelled"] == 200 and prov["pool_paths"] == [str(pool.resolve())]
    # never overwritten without --force
    assert main(["pseudo-label", "--run", str(run), "--data", str(pool), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err

    # student: real rows + pseudo rows (soft labels), pseudo rows only ever on the training side
    config = load_config(None, TINY)
    config["data"]["extra"] = [str(out)]
    config["model"]["params"] = {**config["model"]["params"], "source_feature": "arena",
                                 "source_weights": {labels["source"].iloc[0]: 0.5}}
    result = train_run([data], config, tmp_path / "student", progress=False, log=lambda *_: None)
    assert result.metrics["n_rows"] == 300  # validated on the real rows only
    assert 0.5 < result.metrics["log_loss"] < 1.2
    saved = (tmp_path / "student" / "config.yaml").read_text()
    assert "extra:" in saved and "labels.parquet" in saved
    config["data"]["allow_soft_labels"] = False
    with pytest.raises(Exception, match="not one-hot"):
        train_run([data], config, tmp_path / "student2", progress=False, log=lambda *_: None)
    assert not (tmp_path / "student2").exists()


def test_pseudo_label_bad_inputs(teacher_run, tmp_path, capsys):
    run, data = teacher_run
    assert main(["pseudo-label", "--run", str(tmp_path / "nope"), "--data", str(data),
                 "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["pseudo-label", "--run", str(run), "--data", str(data), "--out", str(tmp_path / "x.csv")]) == 2
    assert not (tmp_path / "x.jsonl").exists()
    assert set(LABEL_COLUMNS) <= set(read_pairs(data).columns)
