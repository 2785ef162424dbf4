"""Does extra preference data help on arena rows? Grouped 5-fold CV evaluated on the arena rows only.

    .venv/bin/python bench/quality_extra_data.py [--max-extra 600] [--only NAME ...] [--config cpu-default]

Every condition uses the same folds of the 1,091 arena rows (train.csv + extra_first_turn.jsonl) and
the cpu-default GBDT; extra rows join the training side of every fold and are never validated on
(``evaluate.cv.cross_validate(extra=...)``, which also keeps out extra rows whose prompt is in the
validation fold). Extra sets are first cleaned of exact / near duplicates of arena rows
(``data.dedup.find_leaks``) and subsampled to ``--max-extra`` rows each (seeded) to bound the time.

Conditions: arena only; + each source pooled naively; + all sources pooled naively; + all sources,
domain-aware (source as a feature set to "arena" at prediction time, early stopping on arena rows,
optionally down-weighted); pseudo-labels: in each fold the arena-only model of that fold (which never
saw the validation fold) labels the other sources' pairs (their own labels dropped), and a student
trains on the fold's arena rows + those soft-labelled pairs.

LightGBM runs with one thread (``n_jobs=1``): identical predictions to two threads, and much faster on a
loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import arena_rows, machine

from arenapref.config import load_config
from arenapref.data.dedup import find_leaks
from arenapref.data.folds import grouped_folds, prompt_groups
from arenapref.data.locate import find_arena_dir
from arenapref.data.readers import concat_pairs, read_pairs
from arenapref.data.schema import LABEL_COLUMNS, targets_of
from arenapref.evaluate.cv import cross_validate
from arenapref.metrics import UNIFORM_LOG_LOSS, accuracy, log_loss
from arenapref.models.registry import build_model
from arenapref.pseudo import apply_soft_labels

TARGET = "arena"
# (name, files under shared/data, format) -- formats are the adapters of arenapref.data.sources
SOURCES: list[tuple[str, list[str], str | None]] = [
    ("mt-bench-human", ["mt-bench-human/mt_bench_human.jsonl"], "mt-bench"),
    ("pandalm", ["pandalm/testset-v1.json"], "pandalm"),
    ("auto-j", ["auto-j/testdata_pairwise.jsonl"], "autoj"),
    ("llmbar", ["llmbar/LLMBar_Natural.json", "llmbar/LLMBar_Adversarial_GPTInst.json",
                "llmbar/LLMBar_Adversarial_GPTOut.json", "llmbar/LLMBar_Adversarial_Manual.json",
                "llmbar/LLMBar_Adversarial_Neighbor.json", "llmbar/Processed_FairEval.json",
                "llmbar/Processed_LLMEval_2.json", "llmbar/Processed_MT-Bench.json"], "llmbar"),
    ("llmeval2", ["llmeval2/llmeval2_with_ties.jsonl"], "canonical"),
    ("hh-rlhf", ["hh-rlhf/harmless-base-test.jsonl.gz"], "hh-rlhf"),
    ("copilot-arena", ["copilot-arena/copilot_arena_examples_v1.csv"], "copilot-arena"),
]


def load_extra(shared: Path, arena: pd.DataFrame, max_rows: int, seed: int) -> dict[str, pd.DataFrame]:
    out = {}
    for name, files, fmt in SOURCES:
        frames = [read_pairs(shared / f, fmt=fmt, on_bad_row="skip") for f in files]
        frame = concat_pairs(frames, what=name).assign(source=name)
        leaks = find_leaks(frame, arena)  # extra rows that copy an arena comparison
        frame = frame.loc[~frame["id"].astype(str).isin(leaks.leaking_train_rows())]
        if len(frame) > max_rows:
            frame = frame.sample(n=max_rows, random_state=seed)
        out[name] = frame.reset_index(drop=True)
    return out


def with_params(spec: dict, **params) -> dict:
    return {**spec, "params": {**(spec.get("params") or {}), **params}}


def pseudo_cv(arena: pd.DataFrame, folds: np.ndarray, teacher_spec: dict, student_spec: dict,
              pool: pd.DataFrame) -> np.ndarray:
    """OOF predictions of students trained on fold rows + pool rows soft-labelled by the fold's teacher."""
    oof = np.zeros((len(arena), 3))
    groups = prompt_groups(pd.concat([arena[["prompt"]], pool[["prompt"]]], ignore_index=True))
    own, pool_groups = groups[:len(arena)], groups[len(arena):]
    unlabelled = pool.copy()
    for col in LABEL_COLUMNS:
        unlabelled[col] = np.nan
    for k in sorted(np.unique(folds)):
        valid = folds == k
        train = arena.loc[~valid]
        teacher = build_model(teacher_spec).fit(train)
        fold_pool = unlabelled.loc[~np.isin(pool_groups, own[valid])]
        pseudo = apply_soft_labels(fold_pool, teacher.predict_proba(fold_pool, swap_tta=True))
        student = build_model(student_spec).fit(pd.concat([train, pseudo], ignore_index=True))
        oof[valid] = student.predict_proba(arena.loc[valid], swap_tta=True)
    return oof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="arena folder (default: shared/data/arena-55k)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config", default="cpu-default")
    parser.add_argument("--max-extra", type=int, default=600, help="rows per extra source (subsampled)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these condition names")
    args = parser.parse_args()

    arena = arena_rows(args.data).assign(source=TARGET)
    shared = find_arena_dir(args.data).parent
    targets = targets_of(arena)
    folds = grouped_folds(arena, n_folds=args.folds, seed=args.seed)
    base = with_params(load_config(args.config)["model"], seed=args.seed, n_jobs=1)
    aware = with_params(base, source_feature=TARGET)
    start = time.perf_counter()
    extra = load_extra(shared, arena, args.max_extra, args.seed)
    print(f"extra sources loaded and checked for leaks in {time.perf_counter() - start:.0f}s: "
          + ", ".join(f"{n} {len(f)}" for n, f in extra.items()), flush=True)
    everything = concat_pairs(list(extra.values()), what="extra")
    down = {name: 0.3 for name in extra}

    conditions: list[tuple[str, dict, pd.DataFrame | None]] = [("arena only", base, None)]
    conditions += [(f"+ {name} (naive)", base, frame) for name, frame in extra.items()]
    conditions += [
        ("+ all (naive)", base, everything),
        ("+ all, source feature", aware, everything),
        ("+ all, source feature, weight 0.3", with_params(aware, source_weights=down), everything),
        ("+ all, weight 0.3", with_params(base, source_weights=down), everything),
    ]
    rows = []
    prior_oof = np.zeros_like(targets)
    for k in np.unique(folds):
        prior_oof[folds == k] = targets[folds != k].mean(axis=0)
    print(f"grouped {args.folds}-fold CV on {len(arena):,} arena rows (seed {args.seed}); {machine()}")
    header = f"{'condition':<40} {'extra':>6} {'log loss':>9} {'vs arena':>9} {'accuracy':>9} {'seconds':>8}"
    print(header, flush=True)
    print(f"{'uniform':<40} {0:>6} {UNIFORM_LOG_LOSS:>9.4f} {'':>9} {'-':>9} {'':>8}")
    print(f"{'class prior (of the training folds)':<40} {0:>6} {log_loss(targets, prior_oof):>9.4f} {'':>9} "
          f"{accuracy(targets, prior_oof):>9.3f} {'':>8}", flush=True)
    reference = None

    def report(name: str, n_extra: int, oof: np.ndarray, seconds: float) -> None:
        nonlocal reference
        loss = log_loss(targets, oof)
        if reference is None and name == "arena only":
            reference = loss
        delta = f"{loss - reference:>+9.4f}" if reference is not None else f"{'':>9}"
        rows.append((name, n_extra, loss, accuracy(targets, oof), seconds))
        print(f"{name:<40} {n_extra:>6} {loss:>9.4f} {delta} {accuracy(targets, oof):>9.3f} {seconds:>8.0f}",
              flush=True)

    for name, spec, frame in conditions:
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        cv = cross_validate(arena, spec, folds, swap_tta=True, progress=False, extra=frame)
        report(name, 0 if frame is None else len(frame), cv.oof, time.perf_counter() - t0)
    for name, student in (("pseudo-labels (all pools), naive", base),
                          ("pseudo-labels (all pools), source feature", aware)):
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        oof = pseudo_cv(arena, folds, base, student, everything)
        report(name, len(everything), oof, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
