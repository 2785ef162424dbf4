"""Combiners: turn the (k, n, 3) predictions of k members into one (n, 3) prediction.

Every combiner is *swap-equivariant*: exchanging the A and B columns of every member's input exchanges
the A and B columns of the output. Members predicted with swap TTA are exactly symmetric, so the blend
is too, and ``arenapref predict`` keeps the guarantee without knowing what a blend is.

* :class:`WeightedBlend`: weights on the simplex, in probability space (a mixture) or in log space
  (a normalised geometric mean); fitted to minimise log loss, or fixed from a config (0.8 / 0.2).
* :class:`StackedBlend`: multinomial logistic regression on the members' log-probabilities, fitted
  on A/B-swap-augmented rows and symmetrised at prediction time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from arenapref.data.schema import swap_proba
from arenapref.metrics import log_loss, normalise_proba
from arenapref.models.base import log_proba, soft_label_rows, softmax

SPACES = ("prob", "log")


def blend_proba(preds: np.ndarray, weights: np.ndarray, space: str = "prob") -> np.ndarray:
    """Weighted mixture (``prob``) or normalised weighted geometric mean (``log``) of (k, n, 3) predictions."""
    preds = np.asarray(preds, dtype=float)
    w = np.asarray(weights, dtype=float).reshape(-1, 1, 1)
    if space == "prob":
        return normalise_proba((w * preds).sum(axis=0))
    if space == "log":
        return normalise_proba(softmax((w * log_proba(preds)).sum(axis=0)))
    raise ValueError(f"unknown blend space {space!r}; use one of {SPACES}")


def check_weights(weights: list[float] | np.ndarray, k: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float).ravel()
    if len(w) != k:
        raise ValueError(f"{len(w)} fixed weight(s) given for {k} run(s); give one weight per --run")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"blend weights must be non-negative and not all zero, got {w.tolist()}")
    return w / w.sum()


class WeightedBlend:
    kind = "weighted"

    def __init__(self, space: str = "prob", weights: list[float] | None = None) -> None:
        if space not in SPACES:
            raise ValueError(f"unknown blend space {space!r}; use one of {SPACES}")
        self.space = space
        self.weights = weights

    def fit(self, preds: np.ndarray, targets: np.ndarray) -> WeightedBlend:
        k = preds.shape[0]
        if self.weights is not None:
            self.weights_ = check_weights(self.weights, k)
            return self
        if k == 1:
            self.weights_ = np.ones(1)
            return self

        def loss(w: np.ndarray) -> float:
            return log_loss(targets, blend_proba(preds, np.clip(w, 0, None), self.space))

        start = np.full(k, 1.0 / k)
        result = minimize(loss, start, method="SLSQP", bounds=[(0.0, 1.0)] * k,
                          constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
                          options={"ftol": 1e-10, "maxiter": 200})
        w = np.clip(result.x, 0, None)
        # SLSQP can stop at a worse point than its start on flat losses; never return worse than equal weights
        self.weights_ = w / w.sum() if loss(w) <= loss(start) else start
        return self

    def transform(self, preds: np.ndarray) -> np.ndarray:
        return blend_proba(preds, self.weights_, self.space)

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "space": self.space, "weights": self.weights_.tolist(),
                "fixed": self.weights is not None}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WeightedBlend:
        blend = cls(space=state["space"])
        blend.weights_ = np.asarray(state["weights"], dtype=float)
        return blend


def _stack_features(preds: np.ndarray) -> np.ndarray:
    """(n, 3k): each member's log-probabilities, member after member."""
    return np.concatenate(list(log_proba(preds)), axis=1)


class StackedBlend:
    kind = "stack"

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, preds: np.ndarray, targets: np.ndarray) -> StackedBlend:
        swapped = np.stack([swap_proba(p) for p in preds])
        x = np.vstack([_stack_features(preds), _stack_features(swapped)])
        t = np.vstack([targets, swap_proba(targets)])
        rows, y, w = soft_label_rows(t)
        model = LogisticRegression(C=self.C, max_iter=2000)
        model.fit(x[rows], y, sample_weight=w)
        coef = np.zeros((3, x.shape[1]))
        intercept = np.zeros(3)
        if len(model.classes_) > 2:
            coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
        else:  # binary: sklearn keeps one row, the logit of classes_[1] against classes_[0]
            coef[model.classes_[1]], intercept[model.classes_[1]] = model.coef_[0], model.intercept_[0]
        if len(model.classes_) < 3:
            missing = np.setdiff1d(np.arange(3), model.classes_)
            intercept[missing] = -30.0  # a class never seen in the labels gets ~zero probability
        self.coef_, self.intercept_ = coef, intercept
        return self

    def _raw(self, preds: np.ndarray) -> np.ndarray:
        return softmax(_stack_features(preds) @ self.coef_.T + self.intercept_)

    def transform(self, preds: np.ndarray) -> np.ndarray:
        # the swap-augmented fit is symmetric only approximately; averaging makes it exact
        swapped = np.stack([swap_proba(p) for p in preds])
        return normalise_proba(0.5 * (self._raw(preds) + swap_proba(self._raw(swapped))))

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "C": self.C, "coef": self.coef_.tolist(), "intercept": self.intercept_.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StackedBlend:
        blend = cls(C=state["C"])
        blend.coef_ = np.asarray(state["coef"], dtype=float)
        blend.intercept_ = np.asarray(state["intercept"], dtype=float)
        return blend


COMBINERS: dict[str, type[WeightedBlend] | type[StackedBlend]] = {"weighted": WeightedBlend, "stack": StackedBlend}


def combiner_from_state(state: dict[str, Any]) -> WeightedBlend | StackedBlend:
    if state["kind"] not in COMBINERS:
        raise ValueError(f"unknown combiner kind {state['kind']!r}")
    return COMBINERS[state["kind"]].from_state(state)
