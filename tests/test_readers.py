"""Readers: real files, the Kaggle quirks, canonical round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenapref.data.readers import load_pairs, read_pairs, write_pairs
from arenapref.data.schema import COLUMNS, LABEL_COLUMNS, labels_of, make_pairs, swap_pairs, targets_of

FIXTURES = Path(__file__).parent / "fixtures"


def _all_text(frame: pd.DataFrame) -> list[str]:
    return [t for col in ("prompt", "response_a", "response_b") for turns in frame[col] for t in turns]


def test_real_kaggle_train(arena_dir: Path) -> None:
    pairs = read_pairs(arena_dir / "train.csv")
    assert len(pairs) == 999
    assert list(pairs.columns) == list(COLUMNS)
    assert pairs["id"].is_unique
    assert np.bincount(labels_of(pairs), minlength=3).tolist() == [352, 352, 295]
    for col in ("prompt", "response_a", "response_b"):
        assert all(isinstance(t, list) and all(isinstance(x, str) for x in t) for t in pairs[col])
    assert (pairs["prompt"].map(len) > 1).sum() == 131  # multi-turn rows
    # `null` turns become empty strings, not a crash and not a dropped row
    assert any("" in turns for turns in pairs["response_a"])
    # every text is valid Unicode (surrogate escapes joined into real characters)
    for text in _all_text(pairs):
        text.encode("utf-8")
    assert any(any(ord(ch) > 0xFFFF for ch in t) for t in _all_text(pairs))  # emoji survived


def test_real_kaggle_test_and_jsonl(arena_dir: Path) -> None:
    test = read_pairs(arena_dir / "test.csv")
    assert len(test) == 3 and test[list(LABEL_COLUMNS)].isna().all().all()
    assert labels_of(test).tolist() == [-1, -1, -1]
    extra = read_pairs(arena_dir / "extra_first_turn.jsonl")
    assert len(extra) == 92 and (extra["prompt"].map(len) == 1).all()
    assert extra["model_a"].isna().all()


def test_quirks_fixture() -> None:
    pairs = read_pairs(FIXTURES / "kaggle_quirks.csv")
    by_id = pairs.set_index("id")
    assert by_id.loc["102", "response_a"] == ["hi \U0001F600", ""]
    assert by_id.loc["102", "response_b"] == ["\U0001F44B", "\U0001F44B\U0001F44B"]
    assert by_id.loc["103", "prompt"] == ["Привет! Как дела?"]
    assert by_id.loc["104", "prompt"] == ["lone \ufffd surrogate"]  # lone surrogate -> replacement char
    assert by_id.loc["104", "response_b"] == ["fine \ufffd"]
    for text in _all_text(pairs):
        text.encode("utf-8")


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".jsonl.gz"])
def test_round_trip(tmp_path: Path, arena_dir: Path, suffix: str) -> None:
    pairs = read_pairs(arena_dir / "train.csv").iloc[:120]
    path = tmp_path / f"pairs{suffix}"
    if suffix == ".jsonl.gz":
        import gzip
        plain = tmp_path / "pairs.jsonl"
        write_pairs(pairs, plain)
        path.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        write_pairs(pairs, path)
    back = read_pairs(path)
    for col in ("id", "model_a", "model_b", "prompt", "response_a", "response_b"):
        assert back[col].tolist() == pairs[col].tolist(), col
    np.testing.assert_array_equal(targets_of(back), targets_of(pairs))


def test_format_override_and_unlabelled_round_trip(tmp_path: Path) -> None:
    pairs = make_pairs(["q1", ["q2", "q2b"]], ["a1", ["a2", "a2b"]], ["b1", ["b2", "b2b"]], ids=["x", "y"])
    path = tmp_path / "pairs.data"
    write_pairs(pairs, tmp_path / "pairs.jsonl")
    (tmp_path / "pairs.jsonl").rename(path)
    back, bad = load_pairs(path, fmt="canonical")
    assert bad == [] and back["prompt"].tolist() == [["q1"], ["q2", "q2b"]]
    assert labels_of(back).tolist() == [-1, -1]


def test_soft_labels_are_representable(tmp_path: Path) -> None:
    soft = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    pairs = make_pairs(["q1", "q2"], ["a1", "a2"], ["b1", "b2"], targets=soft)
    write_pairs(pairs, tmp_path / "soft.jsonl")
    back = read_pairs(tmp_path / "soft.jsonl", allow_soft_labels=True)
    np.testing.assert_allclose(targets_of(back), soft)
    assert labels_of(back).tolist() == [0, 2]
    swapped = swap_pairs(back)
    np.testing.assert_allclose(targets_of(swapped), soft[:, [1, 0, 2]])
