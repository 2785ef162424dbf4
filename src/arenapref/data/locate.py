"""Where the arena data is: ``--data``, else ``$ARENAPREF_DATA``, else the workspace's shared folder.

A data folder is laid out like the Kaggle download: ``train.csv``, ``test.csv`` and optionally
``extra_first_turn.jsonl`` (canonical JSONL rows of the same data set).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "ARENAPREF_DATA"
SHARED_RELATIVE = Path("shared") / "data" / "arena-55k"
TRAIN_FILES = ("train.csv", "extra_first_turn.jsonl")
TEST_FILE = "test.csv"

HOW_TO_GET_DATA = f"""\
No arena data found. arenapref looks, in order, at:
  1. --data PATH (a file, or a folder holding train.csv / test.csv)
  2. ${ENV_VAR} (a folder laid out like the Kaggle download)
  3. ../{SHARED_RELATIVE} beside the checkout or the current folder
To get the data:
  * with a network: `arenapref data download --out data/arena-55k` (public arena-human-preference-55k
    from the Hugging Face hub), then `export {ENV_VAR}=data/arena-55k`
  * or download train.csv / test.csv of the Kaggle competition
    "lmsys-chatbot-arena" into a folder and pass it with --data."""


def _candidates() -> list[Path]:
    repo_root = Path(__file__).resolve().parents[3]
    roots = [Path.cwd(), *Path.cwd().parents[:2], repo_root, repo_root.parent]
    found: list[Path] = []
    for root in roots:
        for cand in (root / SHARED_RELATIVE, root.parent / SHARED_RELATIVE):
            if cand not in found:
                found.append(cand)
    return found


def find_arena_dir(explicit: str | Path | None = None) -> Path | None:
    """The first data folder that exists, following the documented order; None if there is none."""
    if explicit is not None:
        path = Path(explicit)
        return path if path.is_dir() else path.parent if path.exists() else None
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env) if Path(env).is_dir() else None
    for cand in _candidates():
        if (cand / "train.csv").exists():
            return cand.resolve()
    return None


def train_files(data_dir: Path) -> list[Path]:
    return [data_dir / name for name in TRAIN_FILES if (data_dir / name).exists()]
