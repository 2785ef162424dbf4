"""Grouped-CV log loss of the best single run, blends, and blends + calibration on the shared arena rows.

    .venv/bin/python bench/quality_blend.py [--data DIR] [--folds 5] [--seed 42] [--work DIR]
    .venv/bin/python bench/quality_blend.py --run RUN_A --run RUN_B ...   # blend existing runs instead
    .venv/bin/python bench/quality_blend.py --speed-rows 57477            # fit time at competition scale

Without --run it trains three members with the same folds (length; gbdt cpu-default; gbdt without
TF-IDF) into --work (a temporary folder by default). Every blend and calibrator is fitted in nested CV on
the members' out-of-fold predictions (``ensemble.pipeline.nested_oof``), so each row is an honest
held-out number. "Δ best" is the mean per-row log-loss difference against the best single run with its
standard error (paired over rows): on ~1,100 rows, differences inside ±2 s.e. are noise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine

from arenapref.config import load_config
from arenapref.data.locate import find_arena_dir, train_files
from arenapref.ensemble.members import load_members
from arenapref.ensemble.pipeline import BlendSpec, nested_oof
from arenapref.ensemble.run import member_config, training_masks
from arenapref.metrics import normalise_proba, score
from arenapref.training import train_run

# name -> (recipe the override is merged over, override)
MEMBERS: dict[str, tuple[str | None, dict]] = {
    "length": (None, {"model": {"type": "length", "params": {}}}),
    "gbdt": ("cpu-default", {}),
    "gbdt_no_tfidf": ("cpu-default", {"model": {"params": {"use_tfidf": False}}}),
}


def train_members(data: str | None, folds: int, seed: int, work: Path) -> list[Path]:
    arena = find_arena_dir(data)
    if arena is None:
        raise SystemExit("arena data not found: pass --data or set ARENAPREF_DATA")
    runs = []
    for name, (recipe, override) in MEMBERS.items():
        out = work / name
        if not out.exists():
            config = load_config(recipe, {**override, "cv": {"n_folds": folds}, "seed": seed})
            start = time.perf_counter()
            train_run(train_files(arena), config, out, progress=False, log=lambda *_: None)
            print(f"trained {name} in {time.perf_counter() - start:.0f} s")
        runs.append(out)
    return runs


def row_losses(targets: np.ndarray, proba: np.ndarray) -> np.ndarray:
    return -(targets * np.log(normalise_proba(proba))).sum(axis=1)


def speed(n: int, seed: int) -> None:
    """Seconds to fit each recipe in nested CV on n rows: random members, labels drawn from their mean."""
    rng = np.random.default_rng(seed)
    preds = np.stack([rng.dirichlet(np.full(3, 2.0), size=n) for _ in range(3)])
    mean = preds.mean(axis=0)
    y = np.minimum((rng.random(n)[:, None] > np.cumsum(mean, axis=1)).sum(axis=1), 2)
    targets, folds = np.eye(3)[y], rng.permutation(n) % 5
    print(f"nested 5-fold CV fit time on {n:,} synthetic rows, 3 members; {machine()}")
    recipes = [("simplex, prob", BlendSpec()),
               ("simplex, prob + temperature", BlendSpec(calibrate="temperature")),
               ("simplex, log + vector", BlendSpec(space="log", calibrate="vector")),
               ("stack", BlendSpec(method="stack")),
               ("stack + temperature", BlendSpec(method="stack", calibrate="temperature"))]
    for label, spec in recipes:
        start = time.perf_counter()
        nested_oof(spec, preds, targets, folds)
        print(f"{label:<30} {time.perf_counter() - start:>7.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default=None, help="folder for the member runs (reused when present)")
    parser.add_argument("--run", action="append", default=None, help="blend these runs instead of training")
    parser.add_argument("--speed-rows", type=int, default=0,
                        help="only time the nested-CV fits on this many synthetic rows (3 members, 5 folds)")
    args = parser.parse_args()
    if args.speed_rows:
        speed(args.speed_rows, args.seed)
        return

    if args.run:
        runs = [Path(r) for r in args.run]
    else:
        work = Path(args.work or tempfile.mkdtemp(prefix="arenapref-blend-bench-"))
        runs = train_members(args.data, args.folds, args.seed, work)
    members = load_members(runs)
    t, f, p = members.targets, members.folds, members.preds
    masks = training_masks(members, member_config(runs[0]), log=lambda *_: None)

    rows: list[tuple[str, np.ndarray, float]] = []
    for i, name in enumerate(members.names):
        rows.append((f"run {name}", p[i], 0.0))
    best = int(np.argmin([score(t, p[i], f)["log_loss"] for i in range(len(runs))]))
    variants: list[tuple[str, BlendSpec, np.ndarray]] = [
        (f"best single ({members.names[best]}) + temperature", BlendSpec(calibrate="temperature"), p[best:best + 1]),
        (f"best single ({members.names[best]}) + vector", BlendSpec(calibrate="vector"), p[best:best + 1]),
    ]
    for label, spec in [("equal weights, prob", BlendSpec(method="fixed", weights=[1.0] * len(runs))),
                        ("simplex weights, prob", BlendSpec(space="prob")),
                        ("simplex weights, log", BlendSpec(space="log")),
                        ("stack (LR on log-probs)", BlendSpec(method="stack"))]:
        for cal in ("none", "temperature", "vector"):
            spec_cal = BlendSpec(**{**spec.to_dict(), "calibrate": cal})
            variants.append((label + ("" if cal == "none" else f" + {cal}"), spec_cal, p))
    variants.append(("simplex weights, prob + temperature + rules",
                     BlendSpec(calibrate="temperature", postprocess=True), p))
    for label, spec, preds in variants:
        start = time.perf_counter()
        oof = nested_oof(spec, preds, t, f, masks if spec.postprocess else None)
        rows.append((label, oof, time.perf_counter() - start))

    base = score(t, p[best], f)["baselines"]
    best_rows = row_losses(t, p[best])
    print(f"grouped {len(np.unique(f))}-fold CV on {len(t):,} real arena rows; blends/calibrators fitted in "
          f"nested CV; {machine()}")
    print(f"{'':<50} {'log loss':>9} {'Δ best ± s.e.':>17} {'accuracy':>9} {'ECE':>7} {'fit s':>6}")
    for label, proba, secs in rows:
        s = score(t, proba, f)
        diff = row_losses(t, proba) - best_rows
        delta = f"{diff.mean():+.4f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.4f}"
        print(f"{label:<50} {s['log_loss']:>9.4f} {delta:>17} {s['accuracy']:>9.3f} {s['ece']:>7.4f} {secs:>6.1f}")
    print(f"{'class prior (other folds)':<50} {base['prior']:>9.4f} {'':>17} {base['prior_accuracy']:>9.3f}")
    print(f"{'uniform':<50} {base['uniform']:>9.4f}")
    print(f"rules matched: {int(masks['identical'].sum())} identical-response pairs, "
          f"{int((masks['empty_a'] | masks['empty_b']).sum())} one-empty-response pairs")


if __name__ == "__main__":
    main()
