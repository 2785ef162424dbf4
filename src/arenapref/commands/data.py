"""arenapref data ...: data-set utilities (download, validate)."""

from __future__ import annotations

import argparse

from arenapref.data.readers import load_pairs, summarize_bad_rows
from arenapref.data.schema import labels_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="data utilities: download, validate")
    dsub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    dl = dsub.add_parser("download", help="fetch arena-human-preference-55k from the Hugging Face hub")
    dl.add_argument("--out", default="data/arena-55k", help="folder to write train.csv into")
    dl.add_argument("--force", action="store_true")
    dl.set_defaults(func=run_download)
    va = dsub.add_parser("validate", help="read a file, report bad rows and a short summary")
    va.add_argument("path")
    va.add_argument("--format", dest="fmt", default=None)
    va.add_argument("--on-bad-row", choices=["error", "skip"], default="error")
    va.set_defaults(func=run_validate)
    for module in DATA_COMMAND_MODULES:
        __import__(module, fromlist=["add_parser"]).add_parser(dsub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


# more `data` sub-commands register here (module with add_parser(dsub))
DATA_COMMAND_MODULES: tuple[str, ...] = ("arenapref.commands.data_extra",)


def run_download(args: argparse.Namespace) -> int:
    from arenapref.data.download import download_arena

    for path in download_arena(args.out, force=args.force):
        print(f"wrote {path}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    pairs, bad = load_pairs(args.path, fmt=args.fmt, on_bad_row=args.on_bad_row)
    y = labels_of(pairs)
    print(f"{args.path}: {len(pairs):,} valid rows; labels A/B/tie/none = "
          f"{(y == 0).sum()}/{(y == 1).sum()}/{(y == 2).sum()}/{(y < 0).sum()}")
    if bad:
        print(summarize_bad_rows(bad))
        return 1
    return 0
