"""arenapref train-llm --config RECIPE --data FILE [FILE ...] --out MODEL_DIR [--eval-data FILE ...]

Fits one LLM recipe (``model.type: llm``) on files and saves the model folder, without CV: the entry
point for multi-GPU runs, which a launcher starts once per process::

    accelerate launch --config_file configs/accelerate/ddp.yaml -m arenapref.commands.train_llm ...
    torchrun --nproc_per_node 2 -m arenapref.commands.train_llm ...

Only the process of rank 0 writes the folder.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from arenapref.commands import run_command
from arenapref.commands.config import add_set_argument
from arenapref.config import load_config
from arenapref.data.training import read_training_data
from arenapref.runs import refuse_existing

PROG = "python -m arenapref.commands.train_llm"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="recipe YAML (model.type: llm)")
    p.add_argument("--data", required=True, nargs="+", help="training file(s)")
    p.add_argument("--eval-data", nargs="*", default=None, help="validation file(s) for early stopping")
    p.add_argument("--out", required=True, help="model folder to write (arenapref predict-ready)")
    p.add_argument("--resume", action="store_true", help="continue from train.checkpoint_dir")
    add_set_argument(p)
    p.add_argument("--force", action="store_true")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-llm", help="fit one LLM recipe on files (no CV) and save the model folder; "
                                         "the entry point under accelerate / torchrun")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from arenapref.models.registry import model_class, save_model

    llm_classifier = model_class("llm")  # a one-line hint when the llm extra is not installed

    config = load_config(args.config, sets=list(getattr(args, "sets", None) or []))
    if config["model"].get("type") != "llm":
        raise ValueError(f"{args.config}: model.type must be llm for train-llm")
    params = dict(config["model"].get("params") or {})
    params.setdefault("seed", config.get("seed", 42))
    if args.resume:
        params.setdefault("train", {})["resume"] = True
    out = Path(args.out)
    refuse_existing(out, force=args.force or args.resume, what="model folder")
    pairs = read_training_data(args.data, config)
    eval_pairs = read_training_data(args.eval_data, config) if args.eval_data else None
    model = llm_classifier(**params).fit(pairs, eval_pairs=eval_pairs)
    if int(os.environ.get("RANK", "0")) == 0:
        save_model(model, out)
        print(f"saved {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m arenapref.commands.train_llm``: the same command with the CLI's one-line errors."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1])
    add_arguments(parser)
    parser.set_defaults(func=run)
    return run_command(parser.parse_args(argv), "train-llm")


if __name__ == "__main__":
    raise SystemExit(main())
