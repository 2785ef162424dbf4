"""``arenapref blend``: member runs → nested-CV blend → one run directory (predictable like any run)."""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from arenapref.data.schema import oof_table
from arenapref.ensemble.members import Members, load_members
from arenapref.ensemble.model import BlendModel
from arenapref.ensemble.pipeline import BlendSpec, fit_blend, nested_oof
from arenapref.ensemble.rules import rule_masks
from arenapref.metrics import score
from arenapref.models.registry import save_model
from arenapref.runs import (
    Run,
    atomic_dir,
    check_writable,
    refuse_existing,
    write_json,
    write_manifest,
    write_yaml,
)
from arenapref.version import __version__


@dataclass
class BlendResult:
    run_dir: Path
    metrics: dict[str, Any]
    table: str


def member_config(run_dir: Path) -> dict[str, Any]:
    return Run.open(run_dir).config


def training_masks(members: Members, config: dict[str, Any], log: Any = print) -> dict[str, np.ndarray]:
    """Rule masks of the members' training rows, read from the first run's ``data_paths``, in oof order."""
    from arenapref.data.training import read_training_data

    paths = config.get("data_paths") or []
    missing = [p for p in paths if not Path(p).exists()]
    if not paths or missing:
        raise FileNotFoundError(f"{members.run_dirs[0]}/config.yaml: training data {missing or 'data_paths'} not "
                                f"found; post-processing rules need the texts of the training rows")
    pairs = read_training_data(paths, config, log=log).set_index("id", drop=False)
    pairs.index = pairs.index.astype(str)
    absent = np.setdiff1d(members.ids, pairs.index.to_numpy())
    if len(absent):
        raise ValueError(f"{paths}: id {absent[0]!r} of the runs' oof table is not in the training data")
    return rule_masks(pairs.loc[members.ids])


def _row(name: str, s: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "log_loss": s["log_loss"], "accuracy": s["accuracy"], "ece": s["ece"]}


def format_blend_table(metrics: dict[str, Any]) -> str:
    lines = [f"{'':<48} {'log loss':>9} {'accuracy':>9} {'ECE':>7}"]
    for r in metrics["compare"]:
        lines.append(f"{r['name']:<48} {r['log_loss']:>9.4f} {r['accuracy']:>9.3f} {r['ece']:>7.4f}")
    b = metrics["baselines"]
    lines.append(f"{'class prior (other folds)':<48} {b['prior']:>9.4f} {b['prior_accuracy']:>9.3f}")
    lines.append(f"{'uniform':<48} {b['uniform']:>9.4f}")
    return (f"grouped {metrics['n_folds']}-fold CV, {metrics['n_rows']:,} rows (blend/calibration fitted in "
            f"nested CV)\n" + "\n".join(lines))


def spec_label(spec: BlendSpec, names: list[str]) -> str:
    if len(names) == 1 and spec.method != "stack":
        base = f"run {names[0]}"
    elif spec.method == "stack":
        base = "stack (LR on log-probabilities)"
    else:
        base = f"{spec.method} weights, {spec.space} space"
    if spec.calibrate != "none":
        base += f" + {spec.calibrate}"
    return base + (" + rules" if spec.postprocess else "")


def blend_run(run_dirs: Sequence[str | Path], spec: BlendSpec, out_dir: str | Path, *, force: bool = False,
              log: Any = print) -> BlendResult:
    """Fit ``spec`` on the runs' out-of-fold predictions, measure it in nested CV, write the blend run."""
    out_dir = Path(out_dir)
    refuse_existing(out_dir, force=force, what="run directory")
    check_writable(out_dir)
    start = time.perf_counter()
    members = load_members(run_dirs)
    config = member_config(members.run_dirs[0])
    masks = training_masks(members, config, log=log) if spec.postprocess else None
    log(f"blending {len(members.run_dirs)} run(s) on {len(members.ids):,} out-of-fold rows")

    t, f, p = members.targets, members.folds, members.preds
    oof = nested_oof(spec, p, t, f, masks)
    summary = score(t, oof, f)
    compare = [_row(f"run {name}", score(t, p[i], f)) for i, name in enumerate(members.names)]
    variants = []  # the spec without its post-processing / calibration, to show what each step adds
    if spec.postprocess:
        variants.append(replace(spec, postprocess=False))
    if spec.calibrate != "none":
        variants.append(replace(spec, calibrate="none", postprocess=False))
    for variant in variants:
        name = spec_label(variant, members.names)
        if not any(r["name"] == name for r in compare):  # one run uncalibrated is that run itself, listed already
            compare.append(_row(name, score(t, nested_oof(variant, p, t, f), f)))
    label = spec_label(spec, members.names)
    if not any(r["name"] == label for r in compare):
        compare.append(_row(label, summary))

    fitted = fit_blend(spec, p, t, f, masks)
    seed = config.get("seed", 42)
    swap_tta = bool(config.get("predict", {}).get("swap_tta", True))
    resolved = {
        "seed": seed, "cv": config.get("cv", {}), "model": {"type": "blend"},
        "blend": spec.to_dict(), "runs": [str(p.resolve()) for p in members.run_dirs],
        "data_paths": config.get("data_paths", []), "data": config.get("data", {}),
        "predict": {"swap_tta": swap_tta},
    }
    metrics = {"model": "blend", "spec": spec.to_dict(), "fitted": fitted.state(), "swap_tta": swap_tta,
               "members": members.names, **summary, "compare": compare}
    with atomic_dir(out_dir, force=force) as tmp:
        write_yaml(tmp / "config.yaml", resolved)
        write_json(tmp / "metrics.json", metrics)
        oof_table(members.ids_series(), f, t, oof).to_parquet(tmp / "oof.parquet", index=False)
        save_model(BlendModel.from_runs(spec, fitted, members.run_dirs), tmp / "model")
        write_json(tmp / "run.json", {
            "kind": "blend", "arenapref_version": __version__, "python": sys.version.split()[0],
            "platform": platform.platform(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds_total": round(time.perf_counter() - start, 2), "n_rows": int(len(t)),
            "members": [str(p.resolve()) for p in members.run_dirs],
        })
        write_manifest(tmp)  # last: it lists every file above
    return BlendResult(out_dir, metrics, format_blend_table(metrics))
