"""Grouped 5-fold CV log loss and accuracy on the shared arena rows: uniform, prior, length, gbdt.

    .venv/bin/python bench/quality.py [--data DIR] [--folds 5] [--seed 42] [--config cpu-default]

Every model sees the same folds (grouped by prompt, stratified by label). More quality tables:
bench/quality_blend.py (blends, calibration), bench/quality_embed.py (sentence-encoder features),
bench/quality_extra_data.py (extra data sources).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import arena_rows, machine

from arenapref.config import load_config
from arenapref.data.folds import grouped_folds
from arenapref.data.schema import targets_of
from arenapref.evaluate.cv import cross_validate
from arenapref.metrics import UNIFORM_LOG_LOSS, accuracy, log_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config", default="cpu-default")
    args = parser.parse_args()

    pairs = arena_rows(args.data)
    targets = targets_of(pairs)
    folds = grouped_folds(pairs, n_folds=args.folds, seed=args.seed)
    gbdt_spec = load_config(args.config)["model"]
    gbdt_spec = {**gbdt_spec, "params": {**(gbdt_spec.get("params") or {}), "seed": args.seed}}
    rows = [("uniform", UNIFORM_LOG_LOSS, float("nan"), 0.0)]
    for name, spec in [("prior", {"type": "prior"}), ("length", {"type": "length"}), ("gbdt", gbdt_spec)]:
        start = time.perf_counter()
        cv = cross_validate(pairs, spec, folds, swap_tta=True, progress=False)
        rows.append((name, log_loss(targets, cv.oof), accuracy(targets, cv.oof), time.perf_counter() - start))
        per_fold = [f["log_loss"] for f in cv.per_fold]
        rows[-1] = (*rows[-1], float(np.std(per_fold)))
    print(f"grouped {args.folds}-fold CV on {len(pairs):,} real arena rows (seed {args.seed}); {machine()}")
    print(f"{'model':<10} {'log loss':>9} {'± fold sd':>9} {'accuracy':>9} {'seconds':>8}")
    for row in rows:
        name, loss, acc, secs = row[:4]
        sd = row[4] if len(row) > 4 else float("nan")
        acc_s = f"{acc:>9.3f}" if acc == acc else f"{'-':>9}"
        sd_s = f"{sd:>9.4f}" if sd == sd else f"{'-':>9}"
        print(f"{name:<10} {loss:>9.4f} {sd_s} {acc_s} {secs:>8.1f}")


if __name__ == "__main__":
    main()
