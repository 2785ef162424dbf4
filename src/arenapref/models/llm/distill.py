"""Teacher probabilities for distillation: any run's ``oof.parquet`` or a submission / pseudo-label file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arenapref.data.schema import LABEL_COLUMNS, PRED_COLUMNS
from arenapref.metrics import normalise_proba


def read_teacher(path: str | Path) -> pd.DataFrame:
    """``id`` + three probability columns, from a run directory, an oof.parquet or a CSV/Parquet file.

    Prediction columns (``pred_a, pred_b, pred_tie``) win over label columns, so a run's out-of-fold table
    gives its predictions, and a submission CSV (``winner_*`` columns) gives its probabilities.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "oof.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: teacher file not found")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    for cols in (PRED_COLUMNS, LABEL_COLUMNS):
        if {"id", *cols} <= set(frame.columns):
            out = frame[["id", *cols]].copy()
            out.columns = ["id", "p_a", "p_b", "p_tie"]
            out["id"] = out["id"].astype(str)
            values = out[["p_a", "p_b", "p_tie"]].to_numpy(dtype=float)
            bad = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1)
            if bad.any():
                raise ValueError(f"{path}: row {int(np.flatnonzero(bad)[0]) + 1} (id {out['id'].iloc[np.flatnonzero(bad)[0]]}):"
                                 f" teacher probabilities must be finite and non-negative")
            if out["id"].duplicated().any():
                raise ValueError(f"{path}: duplicate id {out['id'][out['id'].duplicated()].iloc[0]}")
            return out
    raise ValueError(f"{path}: a teacher file needs columns id + {list(PRED_COLUMNS)} or id + {list(LABEL_COLUMNS)}")


def teacher_proba(paths: list[str], ids: pd.Series) -> np.ndarray:
    """(n, 3) mean of the teachers' probabilities for ``ids`` (each teacher must cover every id)."""
    if not paths:
        raise ValueError("no teacher files given")
    ids = ids.astype(str)
    total = np.zeros((len(ids), 3))
    for path in paths:
        table = read_teacher(path).set_index("id")
        missing = ~ids.isin(table.index)
        if missing.any():
            raise ValueError(f"{path}: no teacher probabilities for {int(missing.sum())} training rows "
                             f"(first: id {ids[missing].iloc[0]})")
        total += normalise_proba(table.loc[ids.to_numpy(), ["p_a", "p_b", "p_tie"]].to_numpy(dtype=float))
    return total / len(paths)
