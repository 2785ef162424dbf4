"""Rows/s of `arenapref batch --engine ray` with 1 and 2 workers against single-process `arenapref batch`.

    .venv/bin/arenapref demo --out /tmp/serve_run          # once: the cpu-default gbdt run
    .venv/bin/python bench/ray_scale.py --run /tmp/serve_run [--rows 57477] [--workers 1 2]

The real arena rows are replicated with fresh ids to the size of Kaggle's train.csv (as in
bench/batch_speed.py) and written to one JSONL file; every configuration scores that same file in a
fresh process, so each wall time includes start-up (for Ray: starting a local Ray and one run load per
worker) and the validation pass. The Ray shards are checked against the `batch` output: same ids,
same floats. Numbers depend on free cores: on a shared machine they are noisy, compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from batch_speed import FULL_SIZE, write_replicated  # noqa: E402


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return time.perf_counter() - start


def same_as_batch(batch_out: Path, shards: Path) -> bool:
    import numpy as np
    import pandas as pd

    ref = [json.loads(line) for line in batch_out.read_text(encoding="utf-8").splitlines()]
    got = pd.concat([pd.read_parquet(p) for p in sorted(shards.glob("part-*.parquet"))], ignore_index=True)
    cols = ["winner_model_a", "winner_model_b", "winner_tie"]
    return (got["id"].tolist() == [str(r["id"]) for r in ref]
            and bool(np.array_equal(got[cols].to_numpy(), np.array([[r[c] for c in cols] for r in ref]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="run directory (e.g. from `arenapref demo`)")
    parser.add_argument("--rows", type=int, default=FULL_SIZE)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--block-rows", type=int, default=2048)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "arenapref.cli", "batch", "--run", args.run, "--quiet"]
    model = json.loads((Path(args.run) / "model" / "model.json").read_text())["type"]
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "pairs.jsonl"
        distinct = write_replicated(source, args.rows)
        batch_out = Path(tmp) / "batch.jsonl"
        seconds = timed([*cli, "--input", str(source), "--output", str(batch_out)])
        rows.append(("batch (1 process)", seconds, "reference"))
        for n in args.workers:
            out = Path(tmp) / f"ray_{n}"
            seconds = timed([*cli, "--engine", "ray", "--workers", str(n), "--block-rows", str(args.block_rows),
                             "--input", str(source), "--output", str(out)])
            rows.append((f"ray, {n} worker{'s' if n > 1 else ''}", seconds,
                         "identical" if same_as_batch(batch_out, out) else "DIFFERENT"))
    print(f"{args.rows:,} rows ({distinct:,} distinct real rows replicated), model {model}, swap TTA as the run "
          f"says; {os.cpu_count()} CPUs; wall time per process, start-up included")
    print(f"{'engine':<20} {'seconds':>8} {'rows/s':>8} {'vs batch':>9}  floats")
    base = rows[0][1]
    for name, seconds, check in rows:
        print(f"{name:<20} {seconds:>8.1f} {args.rows / seconds:>8.1f} {base / seconds:>8.2f}x  {check}")


if __name__ == "__main__":
    main()
