"""A small statistical baseline: multinomial logistic regression on response-length features."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from arenapref.data.schema import swap_pairs, targets_of
from arenapref.features.handmade import join_turns
from arenapref.models.base import normalise_proba, soft_label_rows, swap_averaged


def length_features(pairs: pd.DataFrame) -> np.ndarray:
    """log lengths of A and B (characters, words, lines), their differences, and |difference|."""

    def sizes(col: str) -> np.ndarray:
        texts = [join_turns(t) for t in pairs[col]]
        return np.log1p(np.array([[len(t), len(t.split()), t.count("\n")] for t in texts], dtype=float)
                        .reshape(-1, 3))

    a, b = sizes("response_a"), sizes("response_b")
    return np.hstack([a, b, a - b, np.abs(a - b)])


class LengthModel:
    name = "length"

    def __init__(self, C: float = 1.0, swap_augment: bool = True) -> None:
        self.C = C
        self.swap_augment = swap_augment

    def fit(self, pairs: pd.DataFrame, *, eval_pairs: pd.DataFrame | None = None) -> LengthModel:
        frames = [pairs, swap_pairs(pairs)] if self.swap_augment else [pairs]
        x = np.vstack([length_features(f) for f in frames])
        t = np.vstack([targets_of(f) for f in frames])
        rows, y, w = soft_label_rows(t)
        self.mean_, self.scale_ = x.mean(axis=0), x.std(axis=0) + 1e-9
        self.model_ = LogisticRegression(C=self.C, max_iter=1000)
        self.model_.fit((x[rows] - self.mean_) / self.scale_, y, sample_weight=w)
        return self

    def _predict(self, pairs: pd.DataFrame) -> np.ndarray:
        proba = np.zeros((len(pairs), 3))
        proba[:, self.model_.classes_] = self.model_.predict_proba((length_features(pairs) - self.mean_) / self.scale_)
        return normalise_proba(proba)

    def predict_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray:
        return swap_averaged(self._predict, pairs) if swap_tta else self._predict(pairs)

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        with open(Path(path) / "length.pkl", "wb") as handle:
            pickle.dump(self, handle)

    @classmethod
    def load(cls, path: Path) -> LengthModel:
        with open(Path(path) / "length.pkl", "rb") as handle:
            return pickle.load(handle)
