"""The ``arenapref`` command line: thin; each sub-command lives in ``arenapref.commands.<name>``.

A command module exposes ``add_parser(subparsers)``, which registers its parser and sets
``func=run`` on it. Errors the user can fix (bad data, existing outputs, missing files) print one
clear line and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from arenapref.commands import run_command
from arenapref.version import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "arenapref.commands.train",
    "arenapref.commands.predict",
    "arenapref.commands.demo",
    "arenapref.commands.data",
    "arenapref.commands.pseudo_label",
    "arenapref.commands.compare",
    "arenapref.commands.batch",
    "arenapref.commands.serve",
    "arenapref.commands.blend",
    "arenapref.commands.report",
    "arenapref.commands.config",
    "arenapref.commands.rank",
    "arenapref.commands.leaderboard",
    "arenapref.commands.train_llm",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arenapref", description="Predict which of two chatbot answers a human prefers: P(A wins), P(B wins), P(tie).")
    parser.add_argument("--version", action="version", version=f"arenapref {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run_command(args, args.command)


if __name__ == "__main__":
    sys.exit(main())
