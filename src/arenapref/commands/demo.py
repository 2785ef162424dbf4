"""arenapref demo: the README's main job on the arena data found on this machine."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from arenapref.config import load_config
from arenapref.data.locate import HOW_TO_GET_DATA, TEST_FILE, find_arena_dir, train_files
from arenapref.data.readers import load_pairs
from arenapref.predicting import submission_frame, write_submission
from arenapref.training import train_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train the default recipe on the arena data, CV table, submission.csv")
    p.add_argument("--data", default=None, help="arena data folder (default: $ARENAPREF_DATA or ../shared)")
    p.add_argument("--config", default="cpu-default")
    p.add_argument("--out", default=None, help="run directory (default: runs/demo-<time>)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data_dir = find_arena_dir(args.data)
    files = train_files(data_dir) if data_dir else []
    if not files:
        print(HOW_TO_GET_DATA)
        return 2
    out = Path(args.out or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    start = time.perf_counter()
    print(f"arena data: {data_dir} ({', '.join(f.name for f in files)})")
    result = train_run(files, load_config(args.config), out, force=args.force)
    print(result.table)
    test_path = data_dir / TEST_FILE
    lines = [f"run directory:    {out}  (config.yaml, metrics.json, oof.parquet, model/)"]
    if test_path.exists():
        test, _ = load_pairs(test_path)
        from arenapref.judge import load

        proba = load(out).predict_pairs(test)
        sub = write_submission(submission_frame(test["id"], proba), out / "submission.csv", force=args.force)
        lines.append(f"submission:       {sub}  ({len(test)} rows of {test_path.name})")
    m = result.metrics
    lines.append(f"CV log loss:      {m['log_loss']:.4f}  (prior {m['baselines']['prior']:.4f}, "
                 f"uniform {m['baselines']['uniform']:.4f}); accuracy {m['accuracy']:.3f}")
    lines.append(f"took {time.perf_counter() - start:.0f} s")
    print("\n".join(lines))
    return 0
