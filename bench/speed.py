"""Speed and memory at the real training-file size: the shared arena rows replicated to 57,477 rows.

    .venv/bin/python bench/speed.py [--rows 57477] [--config cpu-default] [--keep DIR]

Each replica gets a copy marker appended to every response turn, so no response repeats (per-text
feature caches and TF-IDF see as many distinct answers as the real file has); prompts stay as they are,
so the copies of one conversation share a prompt group and grouped CV / early stopping stay honest
(distinct prompts would put near-copies on both sides of every split). Prints one table:
  * train: `arenapref train` with grouped 5-fold CV + final fit, as a child process: wall time, peak RSS
  * predict: pairs/s of the trained model on all rows, with and without swap TTA (in this process)
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import arena_rows, machine

from arenapref.data.readers import write_pairs
from arenapref.features.handmade import clear_cache
from arenapref.judge import load as load_judge

KAGGLE_TRAIN_ROWS = 57_477


def replicate(pairs: pd.DataFrame, rows: int) -> pd.DataFrame:
    copies = []
    k = 0
    while sum(len(c) for c in copies) < rows:
        copy = pairs.copy()
        copy["id"] = copy["id"].astype(str) + f"-r{k}"
        for col in ("response_a", "response_b"):
            copy[col] = [[f"{t} (copy {k})" for t in turns] for turns in copy[col]]
        copies.append(copy)
        k += 1
    return pd.concat(copies, ignore_index=True).iloc[:rows].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--rows", type=int, default=KAGGLE_TRAIN_ROWS)
    parser.add_argument("--config", default="cpu-default")
    parser.add_argument("--keep", default=None, help="folder to keep the data and run in (default: temp)")
    parser.add_argument("--predict-only", action="store_true",
                        help="reuse the run in --keep from an earlier call; time prediction only")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="arenapref-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    pairs = replicate(arena_rows(args.data), args.rows)
    data = work / "replicated.parquet"
    write_pairs(pairs, data)
    run_dir = work / "run"

    train_s = peak_gib = train_cpu = float("nan")
    if not args.predict_only:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "arenapref.cli", "train", "--data", str(data), "--config",
                        args.config, "--out", str(run_dir), "--force"], check=True)
        train_s = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_gib = usage.ru_maxrss / 2**20  # KiB -> GiB
        train_cpu = usage.ru_utime + usage.ru_stime

    results = []
    for tta in (True, False):
        clear_cache()  # each pass pays for its own features, as a fresh scorer would
        start = time.perf_counter()
        proba = load_judge(run_dir).predict_pairs(pairs, swap_tta=tta)
        secs = time.perf_counter() - start
        assert proba.shape == (len(pairs), 3)
        results.append((tta, len(pairs) / secs, secs, time.process_time()))
    predict_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    print(f"bench/speed.py: {len(pairs):,} rows (shared arena rows replicated), config {args.config}; {machine()}")
    print(f"{'step':<38} {'wall s':>8} {'CPU s':>8} {'peak GiB':>9} {'pairs/s':>9}")
    print(f"{'train: 5-fold CV + final fit':<38} {train_s:>8.1f} {train_cpu:>8.1f} {peak_gib:>9.2f} {'-':>9}")
    for tta, rate, secs, _ in results:
        label = "predict, swap TTA" if tta else "predict, no TTA"
        print(f"{label:<38} {secs:>8.1f} {'-':>8} {predict_peak:>9.2f} {rate:>9.0f}")


if __name__ == "__main__":
    main()
