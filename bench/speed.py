"""Speed and memory at the real training-file size: the shared arena rows replicated to 57,477 rows.

    .venv/bin/python bench/speed.py [--rows 57477] [--train-rows N] [--config cpu-default] [--keep DIR]

Each replica gets a copy marker appended to every response turn, so no response repeats (per-text
feature caches and TF-IDF see as many distinct answers as the real file has); prompts stay as they are,
so the copies of one conversation share a prompt group and grouped CV / early stopping stay honest
(distinct prompts would put near-copies on both sides of every split). Prints one table of seconds per
stage (``arenapref.timing``) and end to end:
  * train: `arenapref train` (grouped 5-fold CV + final fit) in a child process: wall, CPU, peak RSS;
    its stages are summed over all folds and the final fit
  * predict: read + validate the file, the trained model on all rows, write a submission, with and
    without swap TTA (in this process, feature caches cleared before each pass)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import arena_rows, machine

from arenapref.data.readers import read_pairs, write_pairs
from arenapref.features.handmade import clear_cache
from arenapref.judge import load as load_judge
from arenapref.predicting import submission_frame, write_submission
from arenapref.timing import reset_stages, stage, stage_times

KAGGLE_TRAIN_ROWS = 57_477
STAGES = ("read + validate", "hand-made features", "tfidf fit", "tfidf transform", "svd fit",
          "lightgbm fit", "lightgbm predict", "write")


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


def train_child(data: str, run_dir: str, config_name: str, times_path: str) -> None:
    """The child process of the train step: `arenapref train` in-process, stage seconds to a JSON file."""
    from arenapref.config import load_config
    from arenapref.training import train_run

    start = time.perf_counter()
    train_run([data], load_config(config_name), run_dir, force=True, progress=False, log=lambda *_: None)
    times = {"wall": time.perf_counter() - start, **stage_times()}
    Path(times_path).write_text(json.dumps(times))


def predict_pass(data: Path, run_dir: Path, out: Path, tta: bool) -> dict[str, float]:
    clear_cache()  # each pass pays for its own features, as a fresh scorer would
    reset_stages()
    start = time.perf_counter()
    pairs = read_pairs(data)
    proba = load_judge(run_dir).predict_pairs(pairs, swap_tta=tta)
    with stage("write"):
        write_submission(submission_frame(pairs["id"], proba), out, force=True)
    assert proba.shape == (len(pairs), 3)
    return {"wall": time.perf_counter() - start, "rows": len(pairs), **stage_times()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--rows", type=int, default=KAGGLE_TRAIN_ROWS, help="rows to predict (and train)")
    parser.add_argument("--train-rows", type=int, default=None,
                        help="train on the first N of those rows (default: all; a 57k train takes minutes)")
    parser.add_argument("--config", default="cpu-default")
    parser.add_argument("--keep", default=None, help="folder to keep the data and run in (default: temp)")
    parser.add_argument("--predict-only", action="store_true",
                        help="reuse the run in --keep from an earlier call; time prediction only")
    parser.add_argument("--train-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_child:
        train_child(*args.train_child)
        return

    work = Path(args.keep or tempfile.mkdtemp(prefix="arenapref-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    pairs = replicate(arena_rows(args.data), args.rows)
    data = work / "replicated.parquet"
    write_pairs(pairs, data)
    train_rows = min(args.train_rows or args.rows, args.rows)
    train_data = data
    if train_rows < args.rows:
        train_data = work / "replicated-train.parquet"
        write_pairs(pairs.iloc[:train_rows], train_data)
    run_dir = work / "run"

    train: dict[str, float] = {}
    peak_gib = train_cpu = float("nan")
    if not args.predict_only:
        times_path = work / "train-stages.json"
        subprocess.run([sys.executable, __file__, "--train-child", str(train_data), str(run_dir), args.config,
                        str(times_path)], check=True)
        train = json.loads(times_path.read_text())
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_gib = usage.ru_maxrss / 2**20  # KiB -> GiB
        train_cpu = usage.ru_utime + usage.ru_stime

    cpu0 = time.process_time()
    tta = predict_pass(data, run_dir, work / "submission.csv", tta=True)
    cpu1 = time.process_time()
    plain = predict_pass(data, run_dir, work / "submission.csv", tta=False)
    cpu2 = time.process_time()
    predict_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    print(f"bench/speed.py: {len(pairs):,} rows predicted, {train_rows:,} trained (shared arena rows "
          f"replicated), config {args.config}; {machine()}")
    print(f"{'stage (seconds)':<34} {'train':>9} {'predict TTA':>12} {'predict':>9}")
    columns = (train, tta, plain)
    for name in STAGES:
        cells = [f"{c[name]:.2f}" if name in c else "-" for c in columns]
        print(f"{name:<34} {cells[0]:>9} {cells[1]:>12} {cells[2]:>9}")
    other = [c["wall"] - sum(c.get(n, 0.0) for n in STAGES) if c else float("nan") for c in columns]
    # prediction runs two batches at once: stages overlap, so "other" can be negative there
    print(f"{'other (wall - stages; <0: overlap)':<34} {other[0]:>9.2f} {other[1]:>12.2f} {other[2]:>9.2f}")
    walls = [c.get("wall", float("nan")) for c in columns]
    print(f"{'end to end, wall':<34} {walls[0]:>9.2f} {walls[1]:>12.2f} {walls[2]:>9.2f}")
    print(f"{'end to end, CPU':<34} {train_cpu:>9.1f} {cpu1 - cpu0:>12.1f} {cpu2 - cpu1:>9.1f}")
    print(f"{'peak RSS, GiB':<34} {peak_gib:>9.2f} {predict_peak:>12.2f} {'':>9}")
    print(f"{'pairs/s':<34} {train_rows / walls[0]:>9.0f} {len(pairs) / walls[1]:>12.0f} "
          f"{len(pairs) / walls[2]:>9.0f}")


if __name__ == "__main__":
    main()
