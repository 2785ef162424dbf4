"""Calibration of (n, 3) probabilities, and how calibration is measured.

* :class:`TemperatureScaling`: ``softmax(log p / T)``, one parameter.
* :class:`VectorScaling`: ``softmax(log p * [a, a, c] + [0, 0, b])``: a per-class scale and bias with the
  A and B parameters tied, so that the calibrated output stays exactly swap-symmetric (an untied A/B
  bias would re-introduce the position bias swap TTA removes). A shared bias on A and B cancels in the
  softmax, which leaves the tie bias ``b`` as the only free bias.

Both are fitted by minimising log loss; ``ensemble.pipeline`` fits them on nested out-of-fold
predictions so they never see the rows they are scored on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from arenapref.metrics import log_loss, normalise_proba
from arenapref.models.base import log_proba, softmax

CALIBRATIONS = ("none", "temperature", "vector")


class TemperatureScaling:
    kind = "temperature"

    def fit(self, proba: np.ndarray, targets: np.ndarray) -> TemperatureScaling:
        z = log_proba(proba)
        result = minimize_scalar(lambda lt: log_loss(targets, softmax(z / np.exp(lt))),
                                 bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-6})
        self.temperature_ = float(np.exp(result.x))
        return self

    def transform(self, proba: np.ndarray) -> np.ndarray:
        return normalise_proba(softmax(log_proba(proba) / self.temperature_))

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "temperature": self.temperature_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TemperatureScaling:
        cal = cls()
        cal.temperature_ = float(state["temperature"])
        return cal


class VectorScaling:
    kind = "vector"

    def __init__(self, l2: float = 1e-4) -> None:
        self.l2 = l2

    @staticmethod
    def _apply(z: np.ndarray, params: np.ndarray) -> np.ndarray:
        a, c, b = params
        return softmax(z * np.array([a, a, c]) + np.array([0.0, 0.0, b]))

    def fit(self, proba: np.ndarray, targets: np.ndarray) -> VectorScaling:
        z = log_proba(proba)
        start = np.array([1.0, 1.0, 0.0])

        def loss(params: np.ndarray) -> float:
            # a small pull towards the identity keeps the fit finite on tiny or separable folds
            return log_loss(targets, self._apply(z, params)) + self.l2 * float(((params - start) ** 2).sum())

        result = minimize(loss, start, method="L-BFGS-B", bounds=[(1e-3, 20.0), (1e-3, 20.0), (-10.0, 10.0)])
        self.params_ = result.x if loss(result.x) <= loss(start) else start
        return self

    def transform(self, proba: np.ndarray) -> np.ndarray:
        return normalise_proba(self._apply(log_proba(proba), self.params_))

    def state(self) -> dict[str, Any]:
        a, c, b = self.params_
        return {"kind": self.kind, "l2": self.l2, "scale_ab": float(a), "scale_tie": float(c), "bias_tie": float(b)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VectorScaling:
        cal = cls(l2=float(state.get("l2", 1e-4)))
        cal.params_ = np.array([state["scale_ab"], state["scale_tie"], state["bias_tie"]], dtype=float)
        return cal


def make_calibrator(kind: str) -> TemperatureScaling | VectorScaling | None:
    if kind not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {kind!r}; use one of {CALIBRATIONS}")
    if kind == "temperature":
        return TemperatureScaling()
    return VectorScaling() if kind == "vector" else None


def calibrator_from_state(state: dict[str, Any] | None) -> TemperatureScaling | VectorScaling | None:
    if state is None:
        return None
    classes: dict[str, type[TemperatureScaling] | type[VectorScaling]] = {"temperature": TemperatureScaling,
                                                                         "vector": VectorScaling}
    if state["kind"] not in classes:
        raise ValueError(f"unknown calibrator kind {state['kind']!r}")
    return classes[state["kind"]].from_state(state)


