"""arenapref rank --run RUN --prompt TEXT --answer TEXT --answer TEXT [...]: best of N, JSON on stdout.

``@PATH`` reads a text from a UTF-8 file (``@-`` from stdin). Multi-turn conversations come as a JSON
file: ``--input FILE`` with ``{"prompt": [turns], "answers": [[turns], [turns], ...]}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from arenapref.commands.compare import read_turn


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rank", help="rank N answers to one prompt (all pairs, Bradley-Terry); prints JSON")
    p.add_argument("--run", required=True, help="run directory made by train, demo or blend")
    p.add_argument("--prompt", action="append", help="user turn (repeat for more turns)")
    p.add_argument("--answer", action="append", dest="answers", help="one answer (repeat: at least 2)")
    p.add_argument("--input", help='JSON file {"prompt": ..., "answers": [...]} instead of --prompt/--answer')
    p.set_defaults(func=run)


def read_input(path: str) -> tuple[Any, list[Any]]:
    """Prompt and answers from a ``--input`` JSON file; errors name the file and the field."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--input {path}: no such file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with 'prompt' and 'answers'")
    for key in ("prompt", "answers"):
        if key not in data:
            raise ValueError(f"{path}: field '{key}': missing")
    if not isinstance(data["answers"], list):
        raise ValueError(f"{path}: field 'answers': expected a list of answers")
    return data["prompt"], data["answers"]


def run(args: argparse.Namespace) -> int:
    from arenapref.api import load
    from arenapref.ranking.rank import rank_answers

    if args.input and (args.prompt or args.answers):
        raise ValueError("give either --input or --prompt/--answer, not both")
    if args.input:
        prompt, answers = read_input(args.input)
    else:
        if not args.prompt:
            raise ValueError("--prompt is required (or --input FILE)")
        if len(args.answers or []) < 2:
            raise ValueError(f"need at least 2 --answer, got {len(args.answers or [])}")
        prompt = [read_turn(t, "--prompt") for t in args.prompt]
        answers = [read_turn(a, "--answer") for a in args.answers]
        if len(prompt) > 1:
            raise ValueError("a multi-turn prompt needs multi-turn answers: use --input FILE (see --help)")
    judge = load(args.run)
    result = rank_answers(judge, prompt, answers)  # a bad answer is an InputError (a ValueError): exit 2
    print(json.dumps(result.to_dict()))
    return 0
