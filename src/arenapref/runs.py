"""Run directories and artifact I/O.

A run directory holds everything one ``train`` (or ``blend``) produced::

    RUN_DIR/
      config.yaml        the resolved config (recipe + data paths + seed)
      run.json           kind of run, versions, timing, data summary
      metrics.json       per-fold and overall log loss / accuracy next to the baselines
      oof.parquet        out-of-fold predictions: id, fold, label columns, pred_a, pred_b, pred_tie
      model/             the final model fit on all rows (``models.load_model`` reads it)

A run directory is written under a temporary name and renamed into place when complete, so a crash
never leaves a half-written run; an existing directory is refused unless ``force=True``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from arenapref.data.schema import LABEL_COLUMNS

PRED_COLUMNS = ("pred_a", "pred_b", "pred_tie")


class OutputExistsError(FileExistsError):
    """Refusing to overwrite something the user already has."""


def refuse_existing(path: Path, *, force: bool, what: str = "output") -> None:
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: {what} already exists; pass --force to replace it")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path next to ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_dir(path: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``path`` when the block succeeds (replacing it if forced)."""
    path = Path(path)
    refuse_existing(path, force=force, what="run directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a run directory is an ordinary folder
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_default, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_yaml(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(json.loads(json.dumps(obj, default=_default)), sort_keys=False),
                       encoding="utf-8")


def read_yaml(path: str | Path) -> Any:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def oof_table(ids: pd.Series, folds: np.ndarray, targets: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """The out-of-fold table saved as ``oof.parquet``: one row per training pair."""
    table = pd.DataFrame({"id": ids.astype(str).to_numpy(), "fold": np.asarray(folds, dtype=np.int64)})
    for j, col in enumerate(LABEL_COLUMNS):
        table[col] = targets[:, j]
    for j, col in enumerate(PRED_COLUMNS):
        table[col] = proba[:, j]
    return table


def read_oof(run_dir: str | Path) -> pd.DataFrame:
    return pd.read_parquet(Path(run_dir) / "oof.parquet")


def check_run_dir(run_dir: str | Path) -> Path:
    """A run directory that exists and holds a model; a clear error otherwise."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory (make one with `arenapref train`)")
    if not (run_dir / "model").is_dir():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no model/ inside)")
    return run_dir
