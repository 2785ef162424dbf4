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

from arenapref import __version__
from arenapref.data.readers import write_pairs
from arenapref.data.schema import LABEL_COLUMNS, has_labels
from arenapref.runs import check_run_dir, read_json, refuse_existing, write_json

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
    proba = proba / proba.sum(axis=1, keepdims=True)
    out = pool.copy()
    for j, col in enumerate(LABEL_COLUMNS):
        out[col] = proba[:, j]
    if tag_source:
        out["source"] = [s if str(s).startswith(PSEUDO_PREFIX) else f"{PSEUDO_PREFIX}{s}" for s in out["source"]]
    keep = proba.max(axis=1) >= min_confidence
    return out.loc[keep].reset_index(drop=True)


def pseudo_label_run(run_dir: str | Path, pool: pd.DataFrame, *, swap_tta: bool = True,
                     min_confidence: float = 0.0) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Soft labels for ``pool`` from the run's final model; returns the table and its provenance."""
    from arenapref.predicting import predict_pairs

    run_dir = check_run_dir(run_dir)
    if len(pool) == 0:
        raise ValueError("the pool has no rows to label")
    proba = predict_pairs(run_dir, pool, swap_tta=swap_tta)
    labelled = apply_soft_labels(pool, proba, min_confidence=min_confidence)
    model_type = read_json(run_dir / "model" / "model.json").get("type")
    metrics = read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").exists() else {}
    provenance = {
        "kind": "pseudo-labels",
        "run_dir": str(run_dir.resolve()),
        "model": model_type,
        "teacher_cv_log_loss": metrics.get("log_loss"),
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
