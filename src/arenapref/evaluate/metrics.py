"""Log loss, accuracy and the trivial baselines every number is printed next to."""

from __future__ import annotations

import math

import numpy as np

from arenapref.models.base import normalise_proba

UNIFORM_LOG_LOSS = math.log(3.0)


def log_loss(targets: np.ndarray, proba: np.ndarray) -> float:
    """Mean cross-entropy against (possibly soft) targets; probabilities are clipped like Kaggle's metric."""
    targets = np.asarray(targets, dtype=float)
    proba = normalise_proba(proba)
    if len(targets) == 0:
        return float("nan")
    return float(-(targets * np.log(proba)).sum(axis=1).mean())


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
