"""arenapref predict --run RUN_DIR --data PATH --out submission.csv [--no-swap-tta] [--force]"""

from __future__ import annotations

import argparse

from arenapref.data.readers import load_pairs, summarize_bad_rows
from arenapref.predicting import submission_frame, write_submission
from arenapref.runs import check_writable, refuse_existing


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="write a Kaggle submission from a run's model")
    p.add_argument("--run", required=True, help="run directory made by train or blend")
    p.add_argument("--data", required=True, help="pairs to score (e.g. Kaggle test.csv)")
    p.add_argument("--out", required=True, help="submission CSV to write")
    p.add_argument("--format", dest="fmt", default=None, help="input format (default: by extension)")
    p.add_argument("--on-bad-row", choices=["error", "skip"], default="error")
    p.add_argument("--no-swap-tta", dest="swap_tta", action="store_const", const=False, default=None,
                   help="do not average with the A/B-swapped prediction (default: the run's predict.swap_tta)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arenapref.judge import load

    refuse_existing(Path(args.out), force=args.force, what="submission file")
    check_writable(Path(args.out))
    judge = load(args.run, swap_tta=args.swap_tta)
    pairs, bad = load_pairs(args.data, fmt=args.fmt, on_bad_row=args.on_bad_row)
    if bad:
        print(f"{args.data}: {summarize_bad_rows(bad)}")
    proba = judge.predict_pairs(pairs)
    path = write_submission(submission_frame(pairs["id"], proba), args.out, force=args.force)
    print(f"wrote {len(pairs):,} rows to {path}")
    return 0
