"""Throughput and memory of `arenapref batch` on the shared arena rows replicated to the full Kaggle size.

    .venv/bin/arenapref demo --out /tmp/serve_run          # once: the cpu-default gbdt run
    .venv/bin/python bench/batch_speed.py --run /tmp/serve_run

The 1,091 real rows of ../shared/data/arena-55k (train.csv + extra_first_turn.jsonl) are written again and
again with fresh ids to a temporary JSONL of 57,477 rows (the size of Kaggle's train.csv) and of a small
size; each is scored by a separate `arenapref batch` process. Peak RSS of that process for both sizes shows
whether memory grows with the input (it should not: the command streams).
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from arenapref.data.locate import find_arena_dir, train_files  # noqa: E402
from arenapref.data.readers import read_pairs  # noqa: E402
from arenapref.scale.rows import DEFAULT_CHUNK  # noqa: E402

FULL_SIZE = 57_477


def write_replicated(path: Path, n_rows: int) -> int:
    import pandas as pd

    data_dir = find_arena_dir()
    if data_dir is None:
        raise SystemExit("arena data not found (../shared/data/arena-55k)")
    pairs = pd.concat([read_pairs(f) for f in train_files(data_dir)], ignore_index=True)
    cols = ["id", "prompt", "response_a", "response_b"]
    records = pairs[cols].to_dict(orient="records")
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n_rows):
            rec = dict(records[i % len(records)])
            rec["id"] = f"{rec['id']}-{i // len(records)}"
            handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return len(records)


def run_batch(run_dir: str, source: Path, out: Path, chunk: int) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one `arenapref batch` process."""
    cmd = [sys.executable, "-m", "arenapref.cli", "batch", "--run", run_dir, "--input", str(source),
           "--output", str(out), "--chunk-size", str(chunk), "--quiet"]
    start = time.perf_counter()
    # a fresh interpreter per size, so each peak RSS (RUSAGE_CHILDREN keeps the max) is measured alone
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return seconds, int(proc.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="run directory (e.g. from `arenapref demo`)")
    parser.add_argument("--rows", type=int, default=FULL_SIZE)
    parser.add_argument("--small", type=int, default=5_000, help="the small size, for the memory comparison")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK)
    args = parser.parse_args()
    model = json.loads((Path(args.run) / "model" / "model.json").read_text())["type"]
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.small, args.rows):
            source = Path(tmp) / f"pairs_{n}.jsonl"
            distinct = write_replicated(source, n)
            size_mb = source.stat().st_size / 1e6
            seconds, peak = run_batch(args.run, source, Path(tmp) / f"scores_{n}.jsonl", args.chunk_size)
            lines = sum(1 for _ in open(Path(tmp) / f"scores_{n}.jsonl", encoding="utf-8"))
            assert lines == n, (lines, n)
            rows_out.append((n, size_mb, seconds, n / seconds, peak))
    print(f"arenapref batch, model {model}, chunk {args.chunk_size}, swap TTA on; {distinct:,} distinct real "
          f"rows replicated; process wall time includes start-up and the validation pass")
    print(f"{'rows':>8} {'input MB':>9} {'seconds':>8} {'rows/s':>8} {'peak RSS MiB':>13}")
    for n, size_mb, seconds, rate, peak in rows_out:
        print(f"{n:>8,} {size_mb:>9.1f} {seconds:>8.1f} {rate:>8.1f} {peak:>13.0f}")
    print(f"(this bench process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
