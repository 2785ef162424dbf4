"""Does the sentence-encoder block help the CPU default? Grouped 5-fold CV of gbdt vs gbdt + embed.

    .venv/bin/python bench/quality_embed.py [--data DIR] [--folds 5] [--seed 42] [--max-length 256]
                                            [--cache DIR] [--speed-texts 96]

Same folds for both (grouped by prompt, stratified), both with swap TTA. Embeddings are computed once
(disk cache) and their cost is reported separately: encoder texts/s in fp32 and bf16 on a sample, and
the wall time of embedding every text of the data set (a cold cache unless --cache points at a warm one).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

import numpy as np
import torch
from _common import arena_rows, machine

from arenapref.config import load_config
from arenapref.data.folds import grouped_folds
from arenapref.data.schema import targets_of
from arenapref.evaluate.cv import cross_validate
from arenapref.features.embed import EmbedFeatures, SentenceEncoder, side_text
from arenapref.metrics import UNIFORM_LOG_LOSS, accuracy, log_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--directions", type=int, default=16)
    parser.add_argument("--cache", default=None, help="embedding cache folder (default: a fresh temporary one)")
    parser.add_argument("--speed-texts", type=int, default=96)
    args = parser.parse_args()
    torch.set_num_threads(2)
    cache = args.cache or tempfile.mkdtemp(prefix="embed-cache-")

    pairs = arena_rows(args.data)
    targets = targets_of(pairs)
    folds = grouped_folds(pairs, n_folds=args.folds, seed=args.seed)

    sample = [side_text(t) for t in pairs["response_a"]][:args.speed_texts]
    speed = {}
    for dtype in ("fp32", "bf16"):
        enc = SentenceEncoder(max_length=args.max_length, dtype=dtype)
        enc.encode(sample[:4])  # load + warm up
        start = time.perf_counter()
        vectors = enc.encode(sample)
        speed[dtype] = (len(sample) / (time.perf_counter() - start), vectors)
    agreement = float((speed["fp32"][1] * speed["bf16"][1]).sum(axis=1).min())

    embed = {"max_length": args.max_length, "directions": args.directions, "cache_dir": cache}
    start = time.perf_counter()
    EmbedFeatures(**embed).fit(pairs)  # fills the cache: every prompt and response once
    embed_seconds = time.perf_counter() - start

    base = load_config("cpu-default")["model"]
    base = {**base, "params": {**(base.get("params") or {}), "seed": args.seed}}
    with_embed = copy.deepcopy(base)
    with_embed["params"]["embed"] = embed
    rows = []
    for name, spec in (("gbdt (cpu-default)", base), ("gbdt + embed", with_embed)):
        start = time.perf_counter()
        cv = cross_validate(pairs, spec, folds, swap_tta=True, progress=False)
        per_fold = [f["log_loss"] for f in cv.per_fold]
        rows.append((name, log_loss(targets, cv.oof), float(np.std(per_fold)), accuracy(targets, cv.oof),
                     time.perf_counter() - start, per_fold))
    prior = cross_validate(pairs, {"type": "prior"}, folds, swap_tta=True, progress=False)

    print(f"grouped {args.folds}-fold CV on {len(pairs):,} real arena rows (seed {args.seed}); {machine()}")
    print(f"{'model':<20} {'log loss':>9} {'± fold sd':>9} {'accuracy':>9} {'seconds':>8}  per fold")
    print(f"{'uniform':<20} {UNIFORM_LOG_LOSS:>9.4f} {'-':>9} {'-':>9} {'-':>8}")
    print(f"{'prior':<20} {log_loss(targets, prior.oof):>9.4f} {'-':>9} {accuracy(targets, prior.oof):>9.3f} {'-':>8}")
    for name, loss, sd, acc, secs, per_fold in rows:
        print(f"{name:<20} {loss:>9.4f} {sd:>9.4f} {acc:>9.3f} {secs:>8.1f}  "
              + " ".join(f"{v:.4f}" for v in per_fold))
    diffs = np.array(rows[1][5]) - np.array(rows[0][5])
    print(f"embed - default per fold: {' '.join(f'{d:+.4f}' for d in diffs)} (better in {int((diffs < 0).sum())}"
          f"/{len(diffs)} folds)")
    n_texts = 3 * len(pairs)
    print(f"\nall-MiniLM-L6-v2, max_length {args.max_length}, torch threads 2: fp32 {speed['fp32'][0]:.1f} texts/s, "
          f"bf16 {speed['bf16'][0]:.1f} texts/s on {len(sample)} responses (min cosine fp32 vs bf16 "
          f"{agreement:.5f}); embedding all {n_texts:,} texts (dtype auto) took {embed_seconds:.0f}s "
          f"(the GBDT columns above then read the cache)")


if __name__ == "__main__":
    main()
