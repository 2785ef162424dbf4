"""Shared bits of the benchmark scripts: where the data is, the arena rows, the machine line."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arenapref.data.locate import find_arena_dir, train_files  # noqa: E402
from arenapref.data.readers import concat_pairs, read_pairs  # noqa: E402


def arena_rows(data: str | None = None) -> pd.DataFrame:
    """The real labelled arena rows (train.csv + extra_first_turn.jsonl)."""
    arena = find_arena_dir(data)
    if arena is None:
        raise SystemExit("arena data not found: pass --data or set ARENAPREF_DATA")
    return concat_pairs([read_pairs(p) for p in train_files(arena)])


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
