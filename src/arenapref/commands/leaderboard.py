"""arenapref leaderboard --run RUN --input answers.jsonl --out DIR [--baseline MODEL] [--style-control]
[--bootstrap N] [--seed S] [--force]

Each input line: ``{"prompt_id", "prompt", "model", "response"}`` (prompt and response: a string or a
list of turns). Writes ``leaderboard.csv``, ``leaderboard.json``, ``leaderboard.html`` (ratings with
intervals as an inline SVG plot) and ``pairs.csv`` (every judged pair) into DIR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="rate models from their answers to shared prompts (BT + bootstrap CIs)")
    p.add_argument("--run", required=True, help="run directory made by train, demo or blend (the judge)")
    p.add_argument("--input", required=True, help="answers JSONL: prompt_id, prompt, model, response per line")
    p.add_argument("--out", required=True, help="folder to create for the leaderboard files")
    p.add_argument("--baseline", default=None, help="judge every model against this one (rated 1000)")
    p.add_argument("--style-control", action="store_true",
                   help="length and markdown-count differences as covariates of the BT regression")
    p.add_argument("--bootstrap", type=int, default=100, help="bootstrap resamples of the prompts (default 100)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--no-consistency", dest="consistency", action="store_false",
                   help="skip judging both orders without swap TTA (flip rate, position bias): 3x fewer calls")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from arenapref.api import load
    from arenapref.ranking.leaderboard import (
        build_pairs,
        compute_leaderboard,
        read_answers,
        score_pairs,
        write_leaderboard,
    )
    from arenapref.runs import refuse_existing

    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap {args.bootstrap}: must be 0 or more")
    out = Path(args.out)
    refuse_existing(out, force=args.force, what="leaderboard folder")  # before any judging
    answers = read_answers(args.input)
    pairs = build_pairs(answers, args.baseline)
    judge = load(args.run)

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    scored = score_pairs(judge, pairs, consistency=args.consistency, log=log)
    board = compute_leaderboard(scored, baseline=args.baseline, style_control=args.style_control,
                                n_boot=args.bootstrap, seed=args.seed)
    board.summary.update({"input": str(args.input), "run": str(judge.run_dir),
                          "run_fingerprint": judge.fingerprint["run"]})
    page = write_leaderboard(board, out, title=f"Leaderboard: {Path(args.input).name}",
                             source=f"{args.input}, judged by {judge.run_dir}", force=args.force)
    for row in board.rows:
        print(f"{row['rank']:>3}  {row['model']:<30} {row['rating']:7.1f}  "
              f"[{row['ci_low']:7.1f}, {row['ci_high']:7.1f}]  win {row['win_rate']:.1%}")
    print(f"leaderboard: {page}")
    return 0
