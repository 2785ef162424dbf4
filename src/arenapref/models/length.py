"""A small statistical baseline: multinomial logistic regression on response-length features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from arenapref.data.schema import swap_pairs, targets_of
from arenapref.features.handmade import join_turns
from arenapref.metrics import normalise_proba
from arenapref.models.base import soft_label_rows, softmax, swap_averaged
from arenapref.runs import write_json


def length_features(pairs: pd.DataFrame) -> np.ndarray:
    """log lengths of A and B (characters, words, lines), their differences, and |difference|."""

    def sizes(col: str) -> np.ndarray:
        texts = [join_turns(t) for t in pairs[col]]
        return np.log1p(np.array([[len(t), len(t.split()), t.count("\n")] for t in texts], dtype=float)
                        .reshape(-1, 3))

    a, b = sizes("response_a"), sizes("response_b")
    return np.hstack([a, b, a - b, np.abs(a - b)])


N_FEATURES = 12


class LengthModel:
    name = "length"
    parallel_predict = True  # predict reads fitted arrays only: safe from two threads

    def __init__(self, C: float = 1.0, swap_augment: bool = True) -> None:
        self.C = C
        self.swap_augment = swap_augment

    def fit(self, pairs: pd.DataFrame, *, eval_pairs: pd.DataFrame | None = None) -> LengthModel:
        frames = [pairs, swap_pairs(pairs)] if self.swap_augment else [pairs]
        x = np.vstack([length_features(f) for f in frames])
        t = np.vstack([targets_of(f) for f in frames])
        rows, y, w = soft_label_rows(t)
        self.mean_, self.scale_ = x.mean(axis=0), x.std(axis=0) + 1e-9
        model = LogisticRegression(C=self.C, max_iter=1000)
        model.fit((x[rows] - self.mean_) / self.scale_, y, sample_weight=w)
        # the fitted map as plain arrays (one row per class A, B, tie; a class never seen gets -inf)
        self.coef_ = np.zeros((3, x.shape[1]))
        self.intercept_ = np.full(3, -np.inf)
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # binary sklearn stores one row: scores (-z/2, z/2) give the same softmax
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_[model.classes_] = coef
        self.intercept_[model.classes_] = intercept
        return self

    def _predict(self, pairs: pd.DataFrame) -> np.ndarray:
        x = (length_features(pairs) - self.mean_) / self.scale_
        # an explicit sum over 12 features (no BLAS call): the same floats whatever the batch or thread count
        scores = (x[:, None, :] * self.coef_[None, :, :]).sum(axis=2) + self.intercept_
        return normalise_proba(softmax(scores))

    def predict_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray:
        return swap_averaged(self._predict, pairs) if swap_tta else self._predict(pairs)

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        write_json(Path(path) / "length.json", {
            "params": {"C": self.C, "swap_augment": self.swap_augment}, "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(), "coef": self.coef_.tolist(),
            "intercept": [None if not np.isfinite(v) else float(v) for v in self.intercept_]})

    @classmethod
    def load(cls, path: Path) -> LengthModel:
        from arenapref.models.state import read_state, require

        where = Path(path) / "length.json"
        state = read_state(where)
        model = cls(**require(state, "params", dict, where))
        try:
            model.mean_ = np.asarray(require(state, "mean", list, where), dtype=float).reshape(N_FEATURES)
            model.scale_ = np.asarray(require(state, "scale", list, where), dtype=float).reshape(N_FEATURES)
            model.coef_ = np.asarray(require(state, "coef", list, where), dtype=float).reshape(3, N_FEATURES)
            model.intercept_ = np.array([-np.inf if v is None else v for v in require(state, "intercept", list, where)],
                                        dtype=float).reshape(3)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: damaged ({err})") from None
        return model
