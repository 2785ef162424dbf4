"""The runs a blend is made of: their out-of-fold tables, aligned on id and checked against each other.

Blending out-of-fold predictions only makes sense when every run predicted the same rows from the same
folds with the same labels; anything else would let a blend weight see rows a member was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arenapref.data.schema import LABEL_COLUMNS, PRED_COLUMNS
from arenapref.runs import Run


@dataclass
class Members:
    run_dirs: list[Path]
    ids: np.ndarray          # (n,) row ids, in the order of the first run's oof table
    folds: np.ndarray        # (n,) fold index per row
    targets: np.ndarray      # (n, 3) label probabilities
    preds: np.ndarray        # (k, n, 3) out-of-fold probabilities of each member

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.run_dirs]

    def ids_series(self) -> pd.Series:
        return pd.Series(self.ids, dtype=object)


def _read_member_oof(run_dir: Path) -> pd.DataFrame:
    run = Run.open(run_dir)
    path = run_dir / "oof.parquet"
    if "oof.parquet" not in run.manifest["files"]:
        raise FileNotFoundError(f"{run_dir}: no oof.parquet (only runs made by `arenapref train` or "
                                f"`arenapref blend` carry out-of-fold predictions)")
    oof = run.oof()
    missing = [c for c in ("id", "fold", *LABEL_COLUMNS, *PRED_COLUMNS) if c not in oof.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    oof = oof.assign(id=oof["id"].astype(str))
    dupes = oof["id"].duplicated()
    if dupes.any():
        raise ValueError(f"{path}: id {oof.loc[dupes, 'id'].iloc[0]!r} appears more than once")
    return oof


def load_members(run_dirs: Sequence[str | Path]) -> Members:
    """Read every run's ``oof.parquet`` and check that ids, folds and labels agree; clear errors if not."""
    if not run_dirs:
        raise ValueError("a blend needs at least one --run")
    dirs = [Path(p) for p in run_dirs]
    if len({p.resolve() for p in dirs}) != len(dirs):
        raise ValueError("the same run directory is given twice")
    first = _read_member_oof(dirs[0])
    ids = first["id"].to_numpy()
    folds = first["fold"].to_numpy(dtype=np.int64)
    targets = first[list(LABEL_COLUMNS)].to_numpy(dtype=float)
    preds = [first[list(PRED_COLUMNS)].to_numpy(dtype=float)]
    for run_dir in dirs[1:]:
        oof = _read_member_oof(run_dir).set_index("id")
        only_first = np.setdiff1d(ids, oof.index.to_numpy())
        only_this = np.setdiff1d(oof.index.to_numpy(), ids)
        if len(only_first) or len(only_this):
            example = only_first[0] if len(only_first) else only_this[0]
            raise ValueError(
                f"runs {dirs[0]} and {run_dir} were not trained on the same rows: "
                f"{len(only_first)} id(s) only in the first, {len(only_this)} only in the second "
                f"(e.g. id {example!r}); train every member on the same --data files")
        oof = oof.loc[ids]
        other_folds = oof["fold"].to_numpy(dtype=np.int64)
        if not np.array_equal(other_folds, folds):
            bad = int(np.flatnonzero(other_folds != folds)[0])
            raise ValueError(
                f"runs {dirs[0]} and {run_dir} use different folds (id {ids[bad]!r}: fold {folds[bad]} vs "
                f"{other_folds[bad]}); train every member with the same seed and cv.n_folds")
        other_targets = oof[list(LABEL_COLUMNS)].to_numpy(dtype=float)
        if not np.allclose(other_targets, targets, atol=1e-6):
            bad = int(np.flatnonzero(~np.isclose(other_targets, targets, atol=1e-6).all(axis=1))[0])
            raise ValueError(f"runs {dirs[0]} and {run_dir} disagree on the label of id {ids[bad]!r}")
        preds.append(oof[list(PRED_COLUMNS)].to_numpy(dtype=float))
    stacked = np.stack(preds)
    if not np.isfinite(stacked).all():
        k, row = np.argwhere(~np.isfinite(stacked).all(axis=2))[0]
        raise ValueError(f"{dirs[k]}/oof.parquet: non-finite prediction for id {ids[row]!r}")
    return Members(run_dirs=dirs, ids=ids, folds=folds, targets=targets, preds=stacked)
