"""arenapref blend --run R1 [--run R2 ...] --out BLEND_DIR [--method ...] [--calibrate ...] [--config YAML]"""

from __future__ import annotations

import argparse
from typing import Any

from arenapref.config import load_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("blend", help="blend and/or calibrate runs on their out-of-fold predictions (nested CV)")
    p.add_argument("--run", action="append", default=None, help="member run directory (repeatable)")
    p.add_argument("--out", required=True, help="blend run directory to create")
    p.add_argument("--config", default=None, help="blend YAML (a `blend:` section and optionally `runs:`)")
    p.add_argument("--method", choices=["simplex", "fixed", "stack"], default=None,
                   help="simplex: weights fitted to minimise log loss (default); fixed: --weights; "
                        "stack: logistic regression on the members' log-probabilities")
    p.add_argument("--space", choices=["prob", "log"], default=None,
                   help="blend probabilities (prob, default) or log-probabilities (log)")
    p.add_argument("--weights", type=float, nargs="+", default=None, help="fixed weights, one per --run")
    p.add_argument("--calibrate", choices=["none", "temperature", "vector"], default=None,
                   help="calibrate the blend (or a single run) with nested-CV temperature or vector scaling")
    p.add_argument("--postprocess", action="store_true", default=None,
                   help="apply the identical / one-empty-response rules (off by default; measured)")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.set_defaults(func=run)


def blend_settings(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """Runs and spec fields: the config file first, command-line flags over it."""
    # the recipe schema checks the `blend:` section (names, types, method/weights) like any recipe
    config: dict[str, Any] = load_config(args.config) if args.config else {}
    fields = dict(config.get("blend") or {})
    for name in ("method", "space", "weights", "calibrate", "postprocess"):
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    if args.weights is not None and args.method is None:
        fields["method"] = "fixed"
    runs = args.run or [str(r) for r in config.get("runs") or []]
    if not runs:
        raise ValueError("no runs to blend: pass --run RUN_DIR (repeatable) or list `runs:` in --config")
    return runs, fields


def run(args: argparse.Namespace) -> int:
    from arenapref.ensemble.pipeline import BlendSpec
    from arenapref.ensemble.run import blend_run

    runs, fields = blend_settings(args)
    try:
        spec = BlendSpec(**fields)
    except TypeError as err:
        raise ValueError(f"bad `blend:` settings: {err}") from None
    result = blend_run(runs, spec, args.out, force=args.force)
    print(result.table)
    fitted = result.metrics["fitted"]
    if fitted["combiner"]["kind"] == "weighted" and len(runs) > 1:
        weights = ", ".join(f"{n}={w:.3f}" for n, w in zip(result.metrics["members"], fitted["combiner"]["weights"]))
        print(f"weights ({fitted['combiner']['space']} space, fitted on all rows): {weights}")
    if fitted["calibrator"]:
        print("calibrator (fitted on all rows): " + ", ".join(
            f"{k}={v:.3f}" for k, v in fitted["calibrator"].items() if isinstance(v, float)))
    print(f"run directory: {result.run_dir}")
    return 0
