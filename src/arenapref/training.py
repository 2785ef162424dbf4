"""``arenapref train``: read data, grouped CV, out-of-fold table, final fit, one run directory."""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from arenapref.data.folds import grouped_folds
from arenapref.data.public import PREFIX as PUBLIC_PREFIX
from arenapref.data.readers import concat_pairs
from arenapref.data.schema import oof_table, targets_of
from arenapref.data.training import read_training_data
from arenapref.evaluate.cv import cross_validate, format_cv_table
from arenapref.models.registry import build_model, save_model
from arenapref.runs import atomic_dir, check_writable, refuse_existing, write_json, write_manifest, write_yaml
from arenapref.version import __version__


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    table: str


def train_run(data_paths: Sequence[str | Path], config: dict[str, Any], out_dir: str | Path, *,
              force: bool = False, fmt: str | None = None, progress: bool = True,
              log: Any = print) -> TrainResult:
    """Cross-validate the configured model, fit it on all rows, and write the run directory."""
    out_dir = Path(out_dir)
    if (config.get("model") or {}).get("type") == "blend":
        raise ValueError("model.type blend is fitted from member runs' out-of-fold predictions: use "
                         "`arenapref blend`, not `arenapref train`")
    refuse_existing(out_dir, force=force, what="run directory")
    check_writable(out_dir)  # before the CV, not after it
    extra_paths = list(config.get("data", {}).get("extra") or [])
    unresolved = [e for e in extra_paths if str(e).startswith(PUBLIC_PREFIX)]
    if unresolved:  # before any file is read
        raise ValueError(f"data.extra: {unresolved[0]} is a public set name, not a file; resolve it with "
                         f"arenapref.data.training.resolve_recipe_data (as `arenapref train` does)")
    start = time.perf_counter()
    pairs = read_training_data(data_paths, config, fmt=fmt, log=log)
    log(f"read {len(pairs):,} labelled pairs from {len(data_paths)} file(s)")
    # data.extra: other data sets that train every fold and the final model but are never validated on
    extra = read_training_data(extra_paths, config, log=log) if extra_paths else None
    if extra is not None:
        log(f"read {len(extra):,} extra training pairs from {len(extra_paths)} file(s) (never validated on)")
    seed = int(config.get("seed", 42))
    n_folds = int(config.get("cv", {}).get("n_folds", 5))
    model_spec = dict(config["model"])
    params = dict(model_spec.get("params") or {})
    if "seed" in _init_params(model_spec["type"]) and "seed" not in params:
        params["seed"] = seed
    model_spec["params"] = params
    swap_tta = bool(config.get("predict", {}).get("swap_tta", True))

    folds = grouped_folds(pairs, n_folds=n_folds, seed=seed)
    targets = targets_of(pairs)
    cv = cross_validate(pairs, model_spec, folds, swap_tta=swap_tta, progress=progress, extra=extra)
    summary = cv.summary(targets)
    table = format_cv_table(model_spec["type"], summary)
    cv_seconds = time.perf_counter() - start

    log("fitting the final model on all rows")
    final = build_model(model_spec).fit(pairs if extra is None else concat_pairs([pairs, extra], what="data + extra"))
    resolved = {**config, "model": model_spec, "data_paths": [str(Path(p).resolve()) for p in data_paths]}
    if extra_paths:
        resolved["data"] = {**config["data"], "extra": [str(Path(p).resolve()) for p in extra_paths]}
    metrics = {"model": model_spec["type"], "swap_tta": swap_tta, "seed": seed, **summary}
    with atomic_dir(out_dir, force=force) as tmp:
        write_yaml(tmp / "config.yaml", resolved)
        write_json(tmp / "metrics.json", metrics)
        oof_table(pairs["id"], folds, targets, cv.oof).to_parquet(tmp / "oof.parquet", index=False)
        save_model(final, tmp / "model")
        write_json(tmp / "run.json", {
            "kind": "train", "arenapref_version": __version__, "python": sys.version.split()[0],
            "platform": platform.platform(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds_cv": round(cv_seconds, 2), "seconds_total": round(time.perf_counter() - start, 2),
            "n_rows": len(pairs), "label_counts": np.bincount(targets.argmax(axis=1), minlength=3).tolist(),
            "sources": pairs["source"].value_counts().to_dict(),
            "recipe": resolved,
        })
        write_manifest(tmp)  # last: it lists every file above
    return TrainResult(out_dir, metrics, table)


def _init_params(kind: str) -> list[str]:
    import inspect

    from arenapref.models.registry import model_class

    return list(inspect.signature(model_class(kind)).parameters)
