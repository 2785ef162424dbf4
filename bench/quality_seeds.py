"""How much the model's own seed moves the grouped CV of cpu-best, and what averaging seeds buys.

    .venv/bin/python bench/quality_seeds.py [--folds-seed 42] [--models 3] [--override PATH=VALUE ...]

The folds stay fixed (``grouped_folds`` of the 1,091 arena rows with ``--folds-seed``, as in
bench/quality_ablation.py); the recipe's ``seed`` goes through folds-seed, folds-seed + 1, ...: it
draws the inner early-stopping split (15% of the arena prompts), LightGBM's bagging and feature
sampling and the TF-IDF SVD. Each line prints that seed's CV log loss and the CV of the average of the
first k seeds' out-of-fold probabilities (= a bag of k models per fold). ``--override`` changes one
model parameter for every seed (same syntax as bench/quality_ablation.py).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import arena_rows, machine
from quality_ablation import overridden, with_params

from arenapref.config import load_config
from arenapref.data import public
from arenapref.data.folds import grouped_folds
from arenapref.data.locate import find_arena_dir
from arenapref.data.readers import concat_pairs, read_pairs
from arenapref.data.schema import targets_of
from arenapref.evaluate.cv import cross_validate
from arenapref.metrics import log_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="arena folder (default: shared/data/arena-55k)")
    parser.add_argument("--folds-seed", type=int, default=42)
    parser.add_argument("--models", type=int, default=3, help="model seeds to train and average")
    parser.add_argument("--override", nargs="*", default=[], metavar="PATH=VALUE")
    args = parser.parse_args()

    arena = arena_rows(args.data).assign(source=public.ARENA_SOURCE)
    shared = find_arena_dir(args.data).parent
    config = load_config("cpu-best")
    names = [e[len(public.PREFIX):] for e in config["data"].get("extra", []) if e.startswith(public.PREFIX)]
    extra = concat_pairs([read_pairs(public.resolve_extra([public.PREFIX + s.name], shared, log=lambda _: None)[0])
                          for s in public.available(shared) if s.name in names], what="extra")
    targets, folds = targets_of(arena), grouped_folds(arena, n_folds=5, seed=args.folds_seed)
    print(f"cpu-best {' '.join(args.override)}; grouped 5-fold CV on {len(arena):,} arena rows, folds seed "
          f"{args.folds_seed}, {len(extra):,} extra rows; {machine()}")
    print(f"{'model seed':>10} {'log loss':>9} {'bag of k':>9} {'s':>5}")
    oofs: list[np.ndarray] = []
    for seed in range(args.folds_seed, args.folds_seed + args.models):
        spec = with_params(config["model"], seed=seed, n_jobs=1)
        for override in args.override:
            spec = overridden(spec, override)
        t0 = time.perf_counter()
        oofs.append(cross_validate(arena, spec, folds, swap_tta=True, progress=False, extra=extra).oof)
        print(f"{seed:>10} {log_loss(targets, oofs[-1]):>9.4f} {log_loss(targets, np.mean(oofs, axis=0)):>9.4f} "
              f"{time.perf_counter() - t0:>5.0f}", flush=True)
    singles = [log_loss(targets, oof) for oof in oofs]
    print(f"single seeds: mean {np.mean(singles):.4f}, range {min(singles):.4f}-{max(singles):.4f}; "
          f"bag of {len(oofs)}: {log_loss(targets, np.mean(oofs, axis=0)):.4f}")


if __name__ == "__main__":
    main()
