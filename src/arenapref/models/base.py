"""The interface every model keeps, and the shared swap-averaging logic.

A model is a small object with hyper-parameters stored verbatim in ``__init__`` and learned state in
attributes ending in ``_`` (the scikit-learn contract). Columns of every probability array are
``[A wins, B wins, tie]``. With ``swap_tta=True`` the prediction is averaged with the column-swapped
prediction of the A/B-swapped input, so swapping A and B in the input swaps the output exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from arenapref.data.schema import swap_pairs, swap_proba
from arenapref.metrics import EPS, normalise_proba


@runtime_checkable
class PreferenceModel(Protocol):
    name: str

    def fit(self, pairs: pd.DataFrame, *, eval_pairs: pd.DataFrame | None = None) -> PreferenceModel: ...

    def predict_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray: ...

    def save(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: Path) -> PreferenceModel: ...


def log_proba(proba: np.ndarray) -> np.ndarray:
    """Log-probabilities clipped at ``EPS`` (the same floor as ``normalise_proba`` and the metric)."""
    return np.log(np.clip(np.asarray(proba, dtype=float), EPS, 1.0))


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (class scores -> probabilities)."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def swap_averaged(predict: Any, pairs: pd.DataFrame) -> np.ndarray:
    """Mean of ``predict(pairs)`` and the column-swapped ``predict(swap(pairs))``.

    Tie stays in place, A and B exchange: the result is exactly symmetric under swapping the input.
    """
    direct = predict(pairs)
    swapped = swap_proba(predict(swap_pairs(pairs)))
    return normalise_proba(0.5 * (direct + swapped))


def soft_label_rows(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn (n, 3) label probabilities into (row index, class, weight) triples for a hard-label learner.

    One-hot rows stay one row with weight 1; a soft row becomes one row per class with weight p_k, which
    makes the weighted multinomial log loss equal the cross-entropy against the soft target.
    """
    targets = np.asarray(targets, dtype=float)
    hard = np.isclose(targets.max(axis=1), 1.0)
    idx_hard = np.flatnonzero(hard)
    soft = np.flatnonzero(~hard)
    rows = [idx_hard, np.repeat(soft, 3)]
    classes = [targets[idx_hard].argmax(axis=1), np.tile(np.arange(3), len(soft))]
    weights = [np.ones(len(idx_hard)), targets[soft].ravel()]
    row = np.concatenate(rows).astype(np.int64)
    cls = np.concatenate(classes).astype(np.int64)
    w = np.concatenate(weights)
    keep = w > 0
    return row[keep], cls[keep], w[keep]
