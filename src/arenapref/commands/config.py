"""arenapref config show RECIPE [--set KEY=VALUE ...] | arenapref config reference [--markdown]"""

from __future__ import annotations

import argparse


def add_set_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one recipe key, e.g. model.params.lgb_params.num_leaves=15 (repeatable; "
                        "the value is read as YAML)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show a resolved recipe, or every recipe key with its type and default")
    actions = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the resolved recipe (every default filled in) as YAML")
    show.add_argument("recipe", nargs="?", default="cpu-default", help="recipe YAML or bundled name (cpu-default)")
    add_set_argument(show)
    show.set_defaults(func=run_show)
    ref = actions.add_parser("reference", help="every recipe key: type, default, allowed values")
    ref.add_argument("--markdown", action="store_true", help="as docs/recipes.md (Markdown tables)")
    ref.set_defaults(func=run_reference)


def run_show(args: argparse.Namespace) -> int:
    from arenapref.config import load_config
    from arenapref.config.yaml_io import dump_yaml

    print(dump_yaml(load_config(args.recipe, sets=args.sets)), end="")
    return 0


def run_reference(args: argparse.Namespace) -> int:
    from arenapref.config.reference import markdown, text

    print(markdown() if args.markdown else text(), end="")
    return 0
