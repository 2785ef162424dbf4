"""Shared fixtures: the real arena data in ../shared/data (skipped where absent) and small slices of it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import arenapref
from arenapref.api import Judge
from arenapref.config import load_config
from arenapref.data.locate import find_arena_dir
from arenapref.data.readers import read_pairs, write_pairs
from arenapref.training import train_run

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The workspace's ../shared/data folder (real data, read-only)."""
    arena = find_arena_dir()
    if arena is None:
        pytest.skip("shared arena data not found")
    return arena.parent


@pytest.fixture(scope="session")
def arena_dir(shared_data: Path) -> Path:
    return shared_data / "arena-55k"


@pytest.fixture(scope="session")
def arena_pairs(arena_dir: Path) -> pd.DataFrame:
    """All real labelled arena rows (train.csv + extra_first_turn.jsonl)."""
    frames = [read_pairs(arena_dir / "train.csv"), read_pairs(arena_dir / "extra_first_turn.jsonl")]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def small_pairs(arena_pairs: pd.DataFrame) -> pd.DataFrame:
    """A 300-row slice (in memory only) for fast model tests."""
    return arena_pairs.iloc[:300].reset_index(drop=True)


def train_small_run(arena_pairs: pd.DataFrame, folder: Path, model: str = "length", n: int = 200) -> Path:
    """A real run directory: `model` trained on the first `n` real arena rows, 2-fold CV."""
    data = folder / "train.jsonl"
    write_pairs(arena_pairs.iloc[:n], data)
    config = load_config(None, {"model": {"type": model, "params": {}}, "cv": {"n_folds": 2}})
    run_dir = folder / "run"
    train_run([data], config, run_dir, progress=False, log=lambda *a: None)
    return run_dir


@pytest.fixture(scope="session")
def length_run(arena_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small `length` run shared by the API, batch, serve and hard-input tests (none of them writes to it)."""
    return train_small_run(arena_pairs, tmp_path_factory.mktemp("length_run"))


@pytest.fixture(scope="session")
def judge(length_run: Path) -> Judge:
    return arenapref.load(length_run)
