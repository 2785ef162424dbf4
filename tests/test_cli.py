"""The CLI end to end on a small slice of the real data: train, predict, refusals, errors, demo, download."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from arenapref.cli import main
from arenapref.data.readers import read_pairs, write_pairs
from arenapref.runs import read_oof

FAST_CONFIG = {
    "seed": 3,
    "cv": {"n_folds": 3},
    "model": {"type": "gbdt", "params": {"n_estimators": 40, "early_stopping_rounds": 10, "n_jobs": 1,
                                         "tfidf": {"max_features": 2000, "svd_components": 4}}},
}


@pytest.fixture(scope="module")
def slice_files(tmp_path_factory: pytest.TempPathFactory, arena_dir: Path) -> dict[str, Path]:
    """A 150-row train slice and a 20-row unlabelled test slice, written to a temp folder only."""
    root = tmp_path_factory.mktemp("slice")
    pairs = read_pairs(arena_dir / "train.csv")
    write_pairs(pairs.iloc[:150], root / "train.jsonl")
    test = pairs.iloc[150:170].copy()
    test[["winner_model_a", "winner_model_b", "winner_tie"]] = np.nan
    write_pairs(test, root / "test.jsonl")
    (root / "fast.yaml").write_text(yaml.safe_dump(FAST_CONFIG))
    return {"train": root / "train.jsonl", "test": root / "test.jsonl", "config": root / "fast.yaml",
            "root": root}


@pytest.fixture(scope="module")
def run_dir(slice_files: dict[str, Path]) -> Path:
    out = slice_files["root"] / "run"
    assert main(["train", "--data", str(slice_files["train"]), "--config", str(slice_files["config"]),
                 "--out", str(out)]) == 0
    return out


def test_train_writes_a_complete_run(run_dir: Path) -> None:
    assert {p.name for p in run_dir.iterdir()} >= {"config.yaml", "metrics.json", "oof.parquet", "model", "run.json"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["per_fold"]) == 3 and metrics["n_rows"] == 150
    assert metrics["baselines"]["uniform"] == pytest.approx(np.log(3))
    assert 0 < metrics["log_loss"] < 2 and "prior" in metrics["baselines"]
    oof = read_oof(run_dir)
    assert len(oof) == 150 and oof["id"].is_unique and set(oof["fold"]) == {0, 1, 2}
    np.testing.assert_allclose(oof[["pred_a", "pred_b", "pred_tie"]].sum(axis=1), 1.0, atol=1e-9)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["seed"] == 3 and config["model"]["params"]["seed"] == 3 and config["data_paths"]
    assert not list(run_dir.parent.glob(".run.*"))  # no temporary leftovers


def test_train_refuses_existing_run_dir(run_dir: Path, slice_files: dict[str, Path], capsys) -> None:
    before = (run_dir / "metrics.json").read_text()
    code = main(["train", "--data", str(slice_files["train"]), "--config", str(slice_files["config"]),
                 "--out", str(run_dir)])
    assert code == 2 and "--force" in capsys.readouterr().err
    assert (run_dir / "metrics.json").read_text() == before


def test_predict_writes_a_valid_submission(run_dir: Path, slice_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "submission.csv"
    assert main(["predict", "--run", str(run_dir), "--data", str(slice_files["test"]), "--out", str(out)]) == 0
    sub = pd.read_csv(out, dtype={"id": str})
    assert list(sub.columns) == ["id", "winner_model_a", "winner_model_b", "winner_tie"]
    expected_ids = read_pairs(slice_files["test"])["id"].tolist()
    assert sub["id"].tolist() == expected_ids  # one row per input row, input order
    values = sub[["winner_model_a", "winner_model_b", "winner_tie"]].to_numpy()
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-6)
    assert (values > 0).all() and (values < 1).all()
    # refuses to overwrite, then --force replaces; --no-swap-tta gives a different (unaveraged) answer
    assert main(["predict", "--run", str(run_dir), "--data", str(slice_files["test"]), "--out", str(out)]) == 2
    assert main(["predict", "--run", str(run_dir), "--data", str(slice_files["test"]), "--out", str(out),
                 "--force", "--no-swap-tta"]) == 0
    assert not np.allclose(pd.read_csv(out)[["winner_model_a"]].to_numpy(), values[:, :1])


def test_predict_on_real_kaggle_test_csv(run_dir: Path, arena_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub.csv"
    assert main(["predict", "--run", str(run_dir), "--data", str(arena_dir / "test.csv"), "--out", str(out)]) == 0
    sub = pd.read_csv(out)
    assert sub["id"].tolist() == [136060, 211333, 1233961]


def test_bad_training_data_exits_nonzero_and_writes_nothing(tmp_path: Path, slice_files: dict[str, Path],
                                                             capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
                   '1,m,n,"[""q""]","[""a""]","[""b""]",1,0,0\n2,m,n,"[""q""]","[""a""]","[""b""]",1,1,0\n')
    out = tmp_path / "run"
    assert main(["train", "--data", str(bad), "--config", str(slice_files["config"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, line 3, id 2" in err and "winner_model_a" in err
    assert not out.exists() and not list(tmp_path.glob(".run*"))


def test_skip_mode_trains_on_the_good_rows(tmp_path: Path, slice_files: dict[str, Path], capsys) -> None:
    text = slice_files["train"].read_text().splitlines()
    text[5] = "{not json"
    text[9] = text[9].replace('"winner_tie": 0.0', '"winner_tie": 1.0')
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(text) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", str(broken), "--config", str(slice_files["config"]), "--out", str(out)]) == 2
    assert main(["train", "--data", str(broken), "--config", str(slice_files["config"]), "--out", str(out),
                 "--on-bad-row", "skip"]) == 0
    printed = capsys.readouterr().out
    assert "2 rows skipped" in printed and "not valid JSON" in printed and "not a probability" in printed
    assert json.loads((out / "metrics.json").read_text())["n_rows"] == 148


def test_demo_without_data_says_what_to_do(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ARENAPREF_DATA", str(tmp_path / "nowhere"))
    assert main(["demo", "--out", str(tmp_path / "run")]) == 2
    out = capsys.readouterr().out
    assert "No arena data found" in out and "arenapref data download" in out
    assert not (tmp_path / "run").exists()


def test_data_download_stubbed_transfer(tmp_path: Path, monkeypatch) -> None:
    import builtins
    import io

    import arenapref.data.download as download

    payload = b"id,model_a\n1,x\n"
    calls = []

    class FakeResponse(io.BytesIO):
        headers = {"Content-Length": str(len(payload))}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout):
        calls.append(url)
        return FakeResponse(payload)

    real_import = builtins.__import__

    def no_hub(name, *args, **kwargs):
        if name == "huggingface_hub":
            raise ImportError("not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(download.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setattr(builtins, "__import__", no_hub)
    out = tmp_path / "arena"
    assert main(["data", "download", "--out", str(out)]) == 0
    assert (out / "train.csv").read_bytes() == payload
    assert calls == ["https://huggingface.co/datasets/lmarena-ai/arena-human-preference-55k/resolve/main/train.csv"]
    assert main(["data", "download", "--out", str(out)]) == 2  # refuses to overwrite
    assert list(out.iterdir()) == [out / "train.csv"]
