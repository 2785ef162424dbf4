"""Pseudo-labels: a trained run's swap-averaged probabilities as soft labels for unlabelled pairs.

The output is a canonical table whose label columns hold the teacher's probabilities (soft labels,
read back with ``data.allow_soft_labels: true``), and whose ``source`` is ``pseudo:<original source>``
so that a student can weight them apart (``source_weights``). Where the labels came from (run, model,
time, teacher's CV log loss) is written next to the table as ``<out>.provenance.json``.

The teacher must not have seen the pairs it labels, nor the pairs a student is later validated on:
label a pool of *other* pairs, and in cross-validation fit the teacher inside each fold (see
``bench/quality_extra_data.py``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arenapref.data.readers import write_pairs
from arenapref.data.schema import LABEL_COLUMNS, has_labels
from arenapref.runs import refuse_existing, write_json
from arenapref.version import __version__

PSEUDO_PREFIX = "pseudo:"


def provenance_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".provenance.json")


def apply_soft_labels(pool: pd.DataFrame, proba: np.ndarray, *, min_confidence: float = 0.0,
                      tag_source: bool = True) -> pd.DataFrame:
    """``pool`` with its label columns replaced by ``proba`` (rows below ``min_confidence`` dropped)."""
    proba = np.asarray(proba, dtype=float)
    if proba.shape != (len(pool), 3):
        raise ValueError(f"expected ({len(pool)}, 3) probabilities, got {proba.shape}")
    if (proba < 0).any() or not np.isfinite(proba).all():
        raise ValueError("pseudo-labels must be non-negative, finite probabilities")
    if not np.allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12):
        # a judge's rows already sum to 1 and are kept bit for bit; anything else is normalised
        proba = proba / proba.sum(axis=1, keepdims=True)
    out = pool.copy()
    for j, col in enumerate(LABEL_COLUMNS):
        out[col] = proba[:, j]
    if tag_source:
        out["source"] = [s if str(s).startswith(PSEUDO_PREFIX) else f"{PSEUDO_PREFIX}{s}" for s in out["source"]]
    keep = proba.max(axis=1) >= min_confidence
    return out.loc[keep].reset_index(drop=True)


def pseudo_label_run(run_dir: str | Path, pool: pd.DataFrame, *, swap_tta: bool | None = None,
                     min_confidence: float = 0.0) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Soft labels for ``pool`` from the run's final model; returns the table and its provenance."""
    from arenapref.judge import load

    judge = load(run_dir, swap_tta=swap_tta)
    if len(pool) == 0:
        raise ValueError("the pool has no rows to label")
    proba = judge.predict_pairs(pool)
    swap_tta = judge.swap_tta
    labelled = apply_soft_labels(pool, proba, min_confidence=min_confidence)
    run = judge.run
    assert run is not None
    provenance = {
        "kind": "pseudo-labels",
        "run_dir": str(run.path.resolve()),
        "run_fingerprint": run.fingerprint,
        "model": judge.info.get("model"),
        "teacher_cv_log_loss": run.metrics.get("log_loss"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "arenapref_version": __version__,
        "swap_tta": swap_tta,
        "min_confidence": min_confidence,
        "n_pool": len(pool),
        "n_labelled": len(labelled),
        "n_pool_rows_with_labels_replaced": int(has_labels(pool).sum()),
        "label_mass": {c: float(labelled[c].sum()) for c in LABEL_COLUMNS},
        "mean_confidence": float(np.max(proba, axis=1).mean()),
        "sources": labelled["source"].value_counts().to_dict(),
    }
    return labelled, provenance


def write_pseudo_labels(table: pd.DataFrame, provenance: dict[str, Any], out: str | Path, *,
                        force: bool = False, inputs: list[str] | None = None) -> Path:
    """The soft-labelled table (JSONL or Parquet by extension) and its provenance file beside it."""
    out = Path(out)
    side = provenance_path(out)
    refuse_existing(out, force=force, what="output file")
    refuse_existing(side, force=force, what="provenance file")
    if inputs is not None:
        provenance = {**provenance, "pool_paths": [str(Path(p).resolve()) for p in inputs]}
    write_pairs(table, out)
    write_json(side, provenance)
    return out
