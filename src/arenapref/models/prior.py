"""The class-prior baseline: predicts the training label frequencies for every pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from arenapref.data.schema import class_prior, swap_proba
from arenapref.metrics import normalise_proba
from arenapref.runs import read_json, write_json


class PriorModel:
    name = "prior"
    parallel_predict = True  # predict reads fitted arrays only: safe from two threads

    def __init__(self, symmetric: bool = False) -> None:
        self.symmetric = symmetric

    def fit(self, pairs: pd.DataFrame, *, eval_pairs: pd.DataFrame | None = None) -> PriorModel:
        prior = class_prior(pairs)
        self.prior_ = 0.5 * (prior + swap_proba(prior[None, :])[0]) if self.symmetric else prior
        return self

    def predict_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray:
        prior = self.prior_
        if swap_tta:
            prior = 0.5 * (prior + swap_proba(prior[None, :])[0])
        return normalise_proba(np.tile(prior, (len(pairs), 1)))

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        write_json(Path(path) / "prior.json", {"symmetric": self.symmetric, "prior": self.prior_.tolist()})

    @classmethod
    def load(cls, path: Path) -> PriorModel:
        state = read_json(Path(path) / "prior.json")
        model = cls(symmetric=state["symmetric"])
        model.prior_ = np.asarray(state["prior"], dtype=float)
        return model
