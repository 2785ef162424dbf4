"""The metrics every number of the project is measured with, in one place.

* :func:`log_loss` (the competition's metric, probabilities clipped like Kaggle's), :func:`accuracy`,
  :func:`baselines` (uniform and class prior: every figure is printed next to them);
* calibration: :func:`expected_calibration_error` (top-label), :func:`classwise_ece`, the reliability
  bins behind both and behind the report's plots;
* :func:`score`: all of the above overall and per fold, for out-of-fold predictions;
* :func:`swap_consistency`: how much a verdict depends on which answer is shown first (flip rate,
  position bias), measured on predictions made *without* swap averaging.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from arenapref.data.schema import swap_proba

EPS = 1e-7
UNIFORM_LOG_LOSS = math.log(3.0)
ECE_BINS = 15


def normalise_proba(proba: np.ndarray) -> np.ndarray:
    """Clip into (0, 1) and renormalise rows to sum to 1."""
    proba = np.clip(np.asarray(proba, dtype=np.float64), EPS, 1.0)
    return proba / proba.sum(axis=1, keepdims=True)


def log_loss(targets: np.ndarray, proba: np.ndarray) -> float:
    """Mean cross-entropy against (possibly soft) targets; probabilities are clipped like Kaggle's metric."""
    if len(targets) == 0:
        return float("nan")
    return float(row_log_loss(targets, proba).mean())


def row_log_loss(targets: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's cross-entropy (the terms :func:`log_loss` averages)."""
    return -(np.asarray(targets, dtype=float) * np.log(normalise_proba(proba))).sum(axis=1)


def paired_difference(targets: np.ndarray, proba: np.ndarray, reference: np.ndarray, *, n_boot: int = 2000,
                      seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Log loss of ``proba`` minus that of ``reference`` on the same rows, with a paired bootstrap
    interval over rows: (difference, low, high). Below zero: ``proba`` is better; an interval that holds
    zero means the rows cannot tell the two apart."""
    diff = row_log_loss(targets, proba) - row_log_loss(targets, reference)
    if len(diff) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    tail = (1.0 - level) / 2
    return float(diff.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def accuracy(targets: np.ndarray, proba: np.ndarray) -> float:
    targets = np.asarray(targets, dtype=float)
    if len(targets) == 0:
        return float("nan")
    return float((np.asarray(proba).argmax(axis=1) == targets.argmax(axis=1)).mean())


def baselines(train_targets: np.ndarray, eval_targets: np.ndarray) -> dict[str, float]:
    """Uniform and class-prior log loss on ``eval_targets`` (prior estimated on ``train_targets``)."""
    prior = np.asarray(train_targets, dtype=float).mean(axis=0)
    return {
        "uniform": log_loss(eval_targets, np.full((len(eval_targets), 3), 1 / 3)),
        "prior": log_loss(eval_targets, np.tile(prior, (len(eval_targets), 1))),
    }


def reliability_bins(confidence: np.ndarray, outcome: np.ndarray, n_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Equal-width bins of ``confidence``: mean confidence, mean outcome and count per bin (empty bins kept)."""
    confidence = np.asarray(confidence, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    idx = np.clip((confidence * n_bins).astype(int), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(float)
    safe = np.where(count > 0, count, 1.0)
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1),
        "confidence": np.bincount(idx, weights=confidence, minlength=n_bins) / safe,
        "observed": np.bincount(idx, weights=outcome, minlength=n_bins) / safe,
        "count": count,
    }


def binned_gap(confidence: np.ndarray, outcome: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Count-weighted mean |mean confidence − mean outcome| over the reliability bins."""
    bins = reliability_bins(confidence, outcome, n_bins)
    total = bins["count"].sum()
    return float((bins["count"] * np.abs(bins["confidence"] - bins["observed"])).sum() / total) if total else \
        float("nan")


def expected_calibration_error(targets: np.ndarray, proba: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE: |confidence of the argmax class − how often (how much) that class is the label|, binned."""
    targets = np.asarray(targets, dtype=float)
    proba = np.asarray(proba, dtype=float)
    top = proba.argmax(axis=1)
    rows = np.arange(len(proba))
    return binned_gap(proba[rows, top], targets[rows, top], n_bins)


def classwise_ece(targets: np.ndarray, proba: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Mean over the three classes of the binned |p(class) − frequency of the class|."""
    targets = np.asarray(targets, dtype=float)
    proba = np.asarray(proba, dtype=float)
    return float(np.mean([binned_gap(proba[:, j], targets[:, j], n_bins) for j in range(3)]))


def score(targets: np.ndarray, proba: np.ndarray, folds: np.ndarray) -> dict[str, Any]:
    """Log loss, accuracy and ECE overall and per fold, next to the prior (from the other folds) and uniform."""
    per_fold = []
    prior_oof = np.zeros_like(targets)
    for k in np.unique(folds):
        valid = folds == k
        prior_oof[valid] = targets[~valid].mean(axis=0) if (~valid).any() else targets.mean(axis=0)
        base = baselines(targets[~valid] if (~valid).any() else targets, targets[valid])
        per_fold.append({"fold": int(k), "n_valid": int(valid.sum()),
                         "log_loss": log_loss(targets[valid], proba[valid]),
                         "accuracy": accuracy(targets[valid], proba[valid]),
                         "prior_log_loss": base["prior"], "uniform_log_loss": base["uniform"]})
    return {
        "log_loss": log_loss(targets, proba),
        "accuracy": accuracy(targets, proba),
        "ece": expected_calibration_error(targets, proba),
        "classwise_ece": classwise_ece(targets, proba),
        "baselines": {"uniform": UNIFORM_LOG_LOSS, "prior": log_loss(targets, prior_oof),
                      "prior_accuracy": accuracy(targets, prior_oof)},
        "n_rows": int(len(targets)),
        "n_folds": int(len(np.unique(folds))),
        "per_fold": per_fold,
    }


def swap_consistency(direct: np.ndarray, swapped: np.ndarray) -> dict[str, Any]:
    """Flip rate, position bias and gap statistics of one set of pairs (see module doc).

    * ``flip_rate``: share of pairs whose verdict (argmax) changes when A and B are swapped
    * ``mean_first_position_advantage``: mean of P(first shown wins) − P(second shown wins), over both
      orders; > 0 means the judge favours whichever answer it reads first
    * ``first_shown_preferred``: among decisive verdicts (A or B) in both orders, the share that picks
      the first-shown answer (0.5 = no position bias)
    * ``mean_abs_gap`` / ``p95_abs_gap``: |P(A wins | x) − P(A wins | swapped x)|, per pair
    """
    direct = np.asarray(direct, dtype=float).reshape(-1, 3)
    swapped = np.asarray(swapped, dtype=float).reshape(-1, 3)
    back = swap_proba(swapped)
    gaps = np.abs(direct[:, 0] - swapped[:, 1])
    verdicts = np.concatenate([direct.argmax(axis=1), swapped.argmax(axis=1)])
    decisive = verdicts != 2
    n = len(direct)
    return {
        "n": int(n),
        "flip_rate": float((direct.argmax(axis=1) != back.argmax(axis=1)).mean()) if n else 0.0,
        "mean_abs_gap": float(gaps.mean()) if n else 0.0,
        "p95_abs_gap": float(np.quantile(gaps, 0.95)) if n else 0.0,
        "mean_first_position_advantage": float((0.5 * ((direct[:, 0] - direct[:, 1])
                                                       + (swapped[:, 0] - swapped[:, 1]))).mean()) if n else 0.0,
        "first_shown_preferred": float((verdicts[decisive] == 0).mean()) if decisive.any() else 0.5,
        "gaps": gaps,
    }
