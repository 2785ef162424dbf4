"""Grouped K-fold cross-validation of any model spec: out-of-fold predictions and per-fold metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from arenapref.data.schema import targets_of
from arenapref.metrics import UNIFORM_LOG_LOSS, accuracy, baselines, log_loss
from arenapref.models.registry import build_model


@dataclass
class CVResult:
    oof: np.ndarray                      # (n, 3) out-of-fold probabilities
    folds: np.ndarray                    # fold index per row
    per_fold: list[dict[str, float]] = field(default_factory=list)

    def summary(self, targets: np.ndarray) -> dict[str, Any]:
        prior_oof = np.zeros_like(targets)
        for k in np.unique(self.folds):
            valid = self.folds == k
            prior_oof[valid] = targets[~valid].mean(axis=0)
        return {
            "log_loss": log_loss(targets, self.oof),
            "accuracy": accuracy(targets, self.oof),
            "baselines": {"uniform": UNIFORM_LOG_LOSS, "prior": log_loss(targets, prior_oof),
                          "prior_accuracy": accuracy(targets, prior_oof)},
            "n_rows": int(len(targets)),
            "n_folds": int(len(np.unique(self.folds))),
            "per_fold": self.per_fold,
        }


def cross_validate(pairs: pd.DataFrame, model_spec: dict[str, Any], folds: np.ndarray, *,
                   swap_tta: bool = True, progress: bool = True, extra: pd.DataFrame | None = None) -> CVResult:
    """Fit ``model_spec`` on all folds but one, predict the held-out fold, for every fold.

    ``extra`` rows (other data sets) join the training rows of every fold and are never validated on;
    an extra row whose prompt is in the validation fold sits that fold out (it would leak the prompt).
    """
    targets = targets_of(pairs)
    oof = np.zeros((len(pairs), 3))
    result = CVResult(oof=oof, folds=folds)
    fold_ids = sorted(np.unique(folds))
    if extra is not None:
        from arenapref.data.folds import prompt_groups

        groups = prompt_groups(pd.concat([pairs[["prompt"]], extra[["prompt"]]], ignore_index=True))
        own_groups, extra_groups = groups[:len(pairs)], groups[len(pairs):]
    for k in tqdm(fold_ids, desc="cv folds", disable=not progress):
        valid = folds == k
        start = time.perf_counter()
        model = build_model(model_spec)
        if extra is None:
            train = pairs.loc[~valid]
        else:
            clean = ~np.isin(extra_groups, own_groups[valid])
            train = pd.concat([pairs.loc[~valid], extra.loc[clean]], ignore_index=True)
        model.fit(train)
        oof[valid] = model.predict_proba(pairs.loc[valid], swap_tta=swap_tta)
        base = baselines(targets[~valid], targets[valid])
        result.per_fold.append({
            "fold": int(k), "n_valid": int(valid.sum()),
            "log_loss": log_loss(targets[valid], oof[valid]),
            "accuracy": accuracy(targets[valid], oof[valid]),
            "prior_log_loss": base["prior"], "uniform_log_loss": base["uniform"],
            "seconds": round(time.perf_counter() - start, 2),
        })
    return result


def format_cv_table(name: str, summary: dict[str, Any]) -> str:
    """A plain-text table of per-fold and overall numbers next to the baselines."""
    lines = [f"{'fold':>6} {'rows':>6} {'log loss':>9} {'accuracy':>9} {'prior':>7} {'uniform':>8}"]
    for f in summary["per_fold"]:
        lines.append(f"{f['fold']:>6} {f['n_valid']:>6} {f['log_loss']:>9.4f} {f['accuracy']:>9.3f} "
                     f"{f['prior_log_loss']:>7.4f} {f['uniform_log_loss']:>8.4f}")
    b = summary["baselines"]
    lines.append(f"{'all':>6} {summary['n_rows']:>6} {summary['log_loss']:>9.4f} {summary['accuracy']:>9.3f} "
                 f"{b['prior']:>7.4f} {b['uniform']:>8.4f}")
    return f"grouped {summary['n_folds']}-fold CV of {name}\n" + "\n".join(lines)
