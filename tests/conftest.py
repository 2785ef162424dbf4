"""Shared fixtures: the real arena data in ../shared/data (skipped where absent) and small slices of it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from arenapref.data.locate import find_arena_dir
from arenapref.data.readers import read_pairs

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
