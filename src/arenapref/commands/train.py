"""arenapref train --data PATH [--data PATH ...] --config PATH --out RUN_DIR [--set KEY=VALUE ...] [--force]

A recipe's ``public:NAME`` extras are found under ``--public-dir`` (see :mod:`arenapref.data.training`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from arenapref.commands.config import add_set_argument
from arenapref.config import Override, flag, load_config
from arenapref.data.training import resolve_recipe_data
from arenapref.training import train_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="grouped K-fold CV + final fit; writes a run directory")
    p.add_argument("--data", action="append", required=True, help="training file (repeatable)")
    p.add_argument("--config", default="cpu-default", help="recipe YAML (default: cpu-default)")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--format", dest="fmt", default=None, help="input format (default: by extension)")
    p.add_argument("--on-bad-row", choices=["error", "skip"], default=None,
                   help="stop at the first bad row (default) or skip bad rows and report them")
    p.add_argument("--folds", type=int, default=None, help="override cv.n_folds")
    p.add_argument("--seed", type=int, default=None, help="override the seed")
    p.add_argument("--public-dir", default=None, metavar="DIR",
                   help="folder holding the public sets that data.extra names as public:NAME "
                        "(default: the folder above the first --data file's folder, as in ../shared/data)")
    add_set_argument(p)
    p.add_argument("--force", action="store_true", help="replace an existing run directory")
    p.set_defaults(func=run)


def overrides_from(args: argparse.Namespace) -> list[str | Override]:
    """--set values in order, then the shorthand flags (validated like the file; errors name the flag)."""
    over: list[str | Override] = list(getattr(args, "sets", None) or [])
    if getattr(args, "on_bad_row", None):
        over.append(flag("data.on_bad_row", args.on_bad_row, f"--on-bad-row {args.on_bad_row}"))
    if getattr(args, "folds", None) is not None:
        over.append(flag("cv.n_folds", args.folds, f"--folds {args.folds}"))
    if getattr(args, "seed", None) is not None:
        over.append(flag("seed", args.seed, f"--seed {args.seed}"))
    return over


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, sets=overrides_from(args))
    shared = Path(args.public_dir) if args.public_dir else Path(args.data[0]).resolve().parent.parent
    config, files = resolve_recipe_data(config, args.data, shared)
    result = train_run(files, config, args.out, force=args.force, fmt=args.fmt)
    print(result.table)
    print(f"run directory: {result.run_dir}")
    return 0
