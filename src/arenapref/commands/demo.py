"""arenapref demo: the README's main job on the arena data found on this machine.

Trains the best measured CPU recipe (``cpu-best``): the arena rows plus every public preference set
found beside the arena folder (``../<set>/``, converted once into the cache of
``arenapref.data.public``; absent sets are skipped, so only the Kaggle files are enough), prints the
arena-only CV table and writes a submission for the folder's ``test.csv`` or for ``--test FILE``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from arenapref.config import load_config
from arenapref.data.locate import HOW_TO_GET_DATA, TEST_FILE, find_arena_dir, train_files
from arenapref.data.readers import load_pairs
from arenapref.data.training import resolve_recipe_data
from arenapref.predicting import submission_frame, write_submission
from arenapref.training import train_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train the best CPU recipe on the arena data (+ public sets found beside it), "
                                    "CV table, submission.csv")
    p.add_argument("--data", default=None, help="arena data folder (default: $ARENAPREF_DATA or ../shared)")
    p.add_argument("--config", default="cpu-best")
    p.add_argument("--test", default=None, metavar="FILE",
                   help="predict FILE (Kaggle test format) instead of the folder's test.csv")
    p.add_argument("--out", default=None, help="run directory (default: runs/demo-<time>)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data_dir = find_arena_dir(args.data)
    files = train_files(data_dir) if data_dir else []
    if data_dir is None or not files:
        print(HOW_TO_GET_DATA)
        return 2
    # read the test file first: a bad one stops the demo before minutes of training
    test_path = Path(args.test) if args.test else data_dir / TEST_FILE
    test = load_pairs(test_path)[0] if args.test or test_path.exists() else None
    out = Path(args.out or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    start = time.perf_counter()
    print(f"arena data: {data_dir} ({', '.join(f.name for f in files)})")
    config, train_paths = resolve_recipe_data(load_config(args.config), files, data_dir.parent)
    extra = config.get("data", {}).get("extra") or []
    if extra:
        print(f"extra training data (never validated on): {', '.join(Path(p).name for p in extra)}")
    result = train_run(train_paths, config, out, force=args.force)
    print(result.table)
    lines = [f"run directory:    {out}  (config.yaml, metrics.json, oof.parquet, model/)"]
    if test is not None:
        from arenapref.judge import load

        proba = load(out).predict_pairs(test)  # the run's own predict.swap_tta, like `arenapref predict`
        sub = write_submission(submission_frame(test["id"], proba), out / "submission.csv", force=args.force)
        lines.append(f"submission:       {sub}  ({len(test)} rows of {test_path})")
    m = result.metrics
    lines.append(f"CV log loss:      {m['log_loss']:.4f}  (prior {m['baselines']['prior']:.4f}, "
                 f"uniform {m['baselines']['uniform']:.4f}); accuracy {m['accuracy']:.3f}")
    lines.append(f"took {time.perf_counter() - start:.0f} s")
    print("\n".join(lines))
    return 0
