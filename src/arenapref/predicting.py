"""``arenapref predict``: a run's final model on new pairs, written as a Kaggle submission."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from arenapref.data.schema import LABEL_COLUMNS
from arenapref.models.base import normalise_proba
from arenapref.models.registry import load_model
from arenapref.runs import atomic_path, check_run_dir, refuse_existing

SUBMISSION_COLUMNS = ("id", *LABEL_COLUMNS)


def predict_pairs(run_dir: str | Path, pairs: pd.DataFrame, *, swap_tta: bool = True,
                  batch_size: int = 4096) -> np.ndarray:
    """(n, 3) probabilities from the run's final model, in the order of ``pairs``."""
    model = load_model(check_run_dir(run_dir) / "model")
    starts = range(0, len(pairs), batch_size)
    parts = [model.predict_proba(pairs.iloc[i:i + batch_size], swap_tta=swap_tta)
             for i in tqdm(starts, desc="predict", unit=" batches", disable=len(starts) < 3, leave=False)]
    return np.vstack(parts) if parts else np.zeros((0, 3))


def submission_frame(ids: pd.Series, proba: np.ndarray) -> pd.DataFrame:
    """Kaggle's format: id + three probabilities; rows sum to 1 and every value is inside (0, 1)."""
    proba = normalise_proba(proba)
    frame = pd.DataFrame({"id": ids.astype(str).to_numpy()})
    for j, col in enumerate(LABEL_COLUMNS):
        frame[col] = proba[:, j]
    return frame


def write_submission(frame: pd.DataFrame, path: str | Path, *, force: bool = False) -> Path:
    path = Path(path)
    refuse_existing(path, force=force, what="submission file")
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.9f")
    return path
