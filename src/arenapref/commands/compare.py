"""arenapref compare --run RUN_DIR --prompt TEXT --a TEXT --b TEXT: one pair, JSON on stdout.

Repeat ``--prompt``/``--a``/``--b`` once per turn for a multi-turn conversation; ``@PATH`` reads a
turn from a UTF-8 file (``@-`` from stdin), which is handier than shell quoting for long answers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="score one pair (prompt, answer A, answer B); prints JSON")
    p.add_argument("--run", required=True, help="run directory made by train, demo or blend")
    p.add_argument("--prompt", action="append", required=True, help="user turn (repeat for more turns)")
    p.add_argument("--a", action="append", required=True, dest="response_a", help="answer A (one per turn)")
    p.add_argument("--b", action="append", required=True, dest="response_b", help="answer B (one per turn)")
    p.add_argument("--no-swap-tta", dest="swap_tta", action="store_const", const=False, default=None,
                   help="do not average with the A/B-swapped prediction")
    p.add_argument("--explain", action="store_true",
                   help="add the top reasons behind the verdict (gbdt runs; others say they cannot)")
    p.set_defaults(func=run)


def read_turn(value: str, flag: str) -> str:
    """A turn given on the command line, or the content of ``@PATH`` / ``@-``."""
    if not value.startswith("@") or value == "@":
        return value
    source = value[1:]
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{flag} {value}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{flag} {value}: not UTF-8 text (byte {err.start})") from None


def run(args: argparse.Namespace) -> int:
    from arenapref.api import load

    prompt = [read_turn(t, "--prompt") for t in args.prompt]
    resp_a = [read_turn(t, "--a") for t in args.response_a]
    resp_b = [read_turn(t, "--b") for t in args.response_b]
    judge = load(args.run, swap_tta=args.swap_tta)
    result = judge.compare(prompt, resp_a, resp_b)
    out = {**result.to_dict(), "swap_tta": judge.swap_tta}
    if args.explain:
        from arenapref.explain import explain_pair

        out["explanation"] = explain_pair(judge, prompt, resp_a, resp_b).to_dict()
    print(json.dumps(out))
    return 0
