"""A blend recipe (combiner → optional calibrator → optional rules), fitted with nested cross-validation.

``fit_blend`` fits the recipe on some rows: the combiner on the members' out-of-fold predictions, the
calibrator on *cross-fitted* combiner outputs (the combiner refitted without each fold in turn), so the
calibrator learns how the combiner behaves on rows it did not see. ``nested_oof`` repeats that once per
outer fold, leaving the fold out entirely: its output is an honest out-of-fold prediction of the whole
recipe, the number a blend's metrics report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from arenapref.ensemble.blending import StackedBlend, WeightedBlend, combiner_from_state
from arenapref.ensemble.calibration import CALIBRATIONS, calibrator_from_state, make_calibrator
from arenapref.ensemble.rules import PostRules

METHODS = ("simplex", "fixed", "stack")
Masks = dict[str, np.ndarray]


@dataclass
class BlendSpec:
    method: str = "simplex"          # simplex: fitted weights | fixed: weights below | stack: logistic regression
    space: str = "prob"              # prob | log (weighted methods only)
    weights: list[float] | None = None
    stack_C: float = 1.0
    calibrate: str = "none"          # none | temperature | vector
    postprocess: bool = False
    rule_strength: float = 10.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown blend method {self.method!r}; use one of {METHODS}")
        if self.method == "fixed" and not self.weights:
            raise ValueError("blend method 'fixed' needs weights (e.g. --weights 0.8 0.2)")
        if self.method != "fixed" and self.weights:
            raise ValueError(f"weights are only used with method 'fixed', not {self.method!r}")
        if self.calibrate not in CALIBRATIONS:
            raise ValueError(f"unknown calibration {self.calibrate!r}; use one of {CALIBRATIONS}")
        if self.space not in ("prob", "log"):
            raise ValueError(f"unknown blend space {self.space!r}; use prob or log")

    def combiner(self) -> WeightedBlend | StackedBlend:
        if self.method == "stack":
            return StackedBlend(C=self.stack_C)
        return WeightedBlend(space=self.space, weights=self.weights if self.method == "fixed" else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FittedBlend:
    combiner: WeightedBlend | StackedBlend
    calibrator: Any = None
    rules: PostRules | None = None
    notes: list[str] = field(default_factory=list)

    def transform(self, preds: np.ndarray, masks: Masks | None = None) -> np.ndarray:
        proba = self.combiner.transform(preds)
        if self.calibrator is not None:
            proba = self.calibrator.transform(proba)
        if self.rules is not None:
            if masks is None:
                raise ValueError("this blend applies post-processing rules and needs the pairs' texts")
            proba = self.rules.transform(proba, masks)
        return proba

    def state(self) -> dict[str, Any]:
        return {"combiner": self.combiner.state(),
                "calibrator": None if self.calibrator is None else self.calibrator.state(),
                "rules": None if self.rules is None else self.rules.state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FittedBlend:
        rules = PostRules.from_state(state["rules"]) if state.get("rules") else None
        return cls(combiner_from_state(state["combiner"]), calibrator_from_state(state.get("calibrator")), rules)


def _take(masks: Masks | None, rows: np.ndarray) -> Masks | None:
    return None if masks is None else {k: v[rows] for k, v in masks.items()}


def cross_fit_combiner(spec: BlendSpec, preds: np.ndarray, targets: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Combiner outputs where each fold is predicted by a combiner fitted on the other folds."""
    out = np.zeros((preds.shape[1], 3))
    for k in np.unique(folds):
        valid = folds == k
        out[valid] = spec.combiner().fit(preds[:, ~valid], targets[~valid]).transform(preds[:, valid])
    return out


def fit_blend(spec: BlendSpec, preds: np.ndarray, targets: np.ndarray, folds: np.ndarray,
              masks: Masks | None = None) -> FittedBlend:
    """Fit the recipe on these rows (see module doc); ``masks`` (from ``rules.rule_masks``) for rules."""
    fitted = FittedBlend(spec.combiner().fit(preds, targets))
    calibrator = make_calibrator(spec.calibrate)
    if calibrator is not None:
        if len(np.unique(folds)) < 2:
            raise ValueError("nested calibration needs at least 3 folds in the member runs (cv.n_folds >= 3)")
        calibrator.fit(cross_fit_combiner(spec, preds, targets, folds), targets)
        fitted.calibrator = calibrator
    if spec.postprocess:
        if masks is None:
            raise ValueError("post-processing rules need the training texts (config data_paths of the runs)")
        fitted.rules = PostRules(strength=spec.rule_strength).fit(masks, targets)
    return fitted


def nested_oof(spec: BlendSpec, preds: np.ndarray, targets: np.ndarray, folds: np.ndarray,
               masks: Masks | None = None) -> np.ndarray:
    """Out-of-fold predictions of the whole recipe: fitted without each outer fold, scored on it."""
    out = np.zeros((preds.shape[1], 3))
    for k in np.unique(folds):
        valid = folds == k
        train = ~valid
        fitted = fit_blend(spec, preds[:, train], targets[train], folds[train], _take(masks, train))
        out[valid] = fitted.transform(preds[:, valid], _take(masks, valid))
    return out


