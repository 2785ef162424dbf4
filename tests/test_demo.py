"""arenapref demo: public sets found beside the arena folder, the conversion cache, --test FILE, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from arenapref.cli import main
from arenapref.data.readers import read_pairs, write_pairs

FAST = {
    "seed": 3,
    "cv": {"n_folds": 3},
    "data": {"extra": ["public:llmeval2", "public:pandalm"], "extra_max_rows": 120},
    "model": {"type": "gbdt", "params": {"n_estimators": 40, "early_stopping_rounds": 10, "n_jobs": 1,
                                         "tfidf": {"max_features": 2000, "svd_components": 4},
                                         "source_feature": "arena", "source_weights": {"llmeval2": 0.3}}},
}


@pytest.fixture()
def folder(tmp_path: Path, arena_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shared-data-like folder (written at test time from the real files, never committed): 150 arena
    rows, the real LLMEval² file beside them, no PandaLM."""
    shared = tmp_path / "shared"
    write_pairs(read_pairs(arena_dir / "train.csv").iloc[:150], shared / "arena-55k" / "extra_first_turn.jsonl")
    (shared / "llmeval2").mkdir()
    shutil.copy(arena_dir.parent / "llmeval2" / "llmeval2_with_ties.jsonl", shared / "llmeval2")
    shutil.copy(arena_dir / "test.csv", tmp_path / "my_test.csv")
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(FAST))
    monkeypatch.setenv("ARENAPREF_CACHE", str(tmp_path / "cache"))
    return tmp_path


def demo(folder: Path, out: str, *extra: str) -> int:
    return main(["demo", "--data", str(folder / "shared" / "arena-55k"), "--config", str(folder / "fast.yaml"),
                 "--out", str(folder / out), *extra])


def test_demo_uses_the_public_sets_it_finds_and_predicts_test_file(folder: Path, capsys) -> None:
    assert demo(folder, "run", "--test", str(folder / "my_test.csv")) == 0
    printed = capsys.readouterr().out
    assert "converted llmeval2: 120 of 200 rows" in printed
    assert "not found beside the arena data (skipped): pandalm" in printed
    sub = pd.read_csv(folder / "run" / "submission.csv")
    assert list(sub.columns) == ["id", "winner_model_a", "winner_model_b", "winner_tie"] and len(sub) == 3
    config = yaml.safe_load((folder / "run" / "config.yaml").read_text())
    extra = config["data"]["extra"]
    assert len(extra) == 1 and Path(extra[0]).parent == folder / "cache" / "public"
    assert set(read_pairs(extra[0])["source"]) == {"llmeval2"}
    # the second demo reads the cache instead of converting again
    assert demo(folder, "run2") == 0
    assert "converted" not in capsys.readouterr().out
    assert len(list((folder / "cache" / "public").glob("llmeval2-*.jsonl"))) == 1


def test_demo_refuses_a_bad_test_file_before_training(folder: Path, capsys) -> None:
    bad = folder / "bad_test.csv"
    bad.write_text("id,prompt,response_a\n1,\"[\"\"hi\"\"]\",\"[\"\"a\"\"]\"\n")
    assert demo(folder, "run", "--test", str(bad)) == 2
    assert "bad_test.csv" in capsys.readouterr().err
    assert not (folder / "run").exists()


def test_recipe_names_only_known_public_sets(folder: Path) -> None:
    config = yaml.safe_load((folder / "fast.yaml").read_text())
    config["data"]["extra"] = ["public:no-such-set"]
    (folder / "fast.yaml").write_text(yaml.safe_dump(config))
    assert demo(folder, "run") == 2
    assert not (folder / "run").exists()


def test_train_resolves_public_sets_like_the_demo(folder: Path, capsys) -> None:
    """`arenapref train --config` with public:NAME extras (as cpu-best has): found beside the data's folder,
    or under --public-dir; the same rows and the same CV as the demo's run."""
    data = folder / "shared" / "arena-55k" / "extra_first_turn.jsonl"
    assert demo(folder, "demo-run") == 0
    capsys.readouterr()
    args = ["train", "--data", str(data), "--config", str(folder / "fast.yaml")]
    assert main([*args, "--out", str(folder / "train-run")]) == 0
    assert "not found beside the arena data (skipped): pandalm" in capsys.readouterr().out
    demo_cfg, train_cfg = (yaml.safe_load((folder / r / "config.yaml").read_text()) for r in ("demo-run", "train-run"))
    assert train_cfg["data"]["extra"] == demo_cfg["data"]["extra"]
    same = [json.loads((folder / r / "metrics.json").read_text()) for r in ("demo-run", "train-run")]
    assert [m["log_loss"] for m in same] == [same[0]["log_loss"]] * 2 and same[0]["n_rows"] == 150
    # elsewhere, --public-dir says where the sets are; without it none is found and the run says so
    moved = folder / "elsewhere" / "rows.jsonl"
    moved.parent.mkdir()
    shutil.copy(data, moved)
    assert main(["train", "--data", str(moved), "--config", str(folder / "fast.yaml"), "--out",
                 str(folder / "r3"), "--public-dir", str(folder / "shared")]) == 0
    assert yaml.safe_load((folder / "r3" / "config.yaml").read_text())["data"]["extra"] == demo_cfg["data"]["extra"]
    capsys.readouterr()
    assert main(["train", "--data", str(moved), "--config", str(folder / "fast.yaml"), "--out", str(folder / "r4")]) == 0
    assert "(skipped): llmeval2, pandalm" in capsys.readouterr().out
