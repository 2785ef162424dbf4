"""arenapref report RUN_DIR [--out DIR] [--data PATH ...] [--position-rows N] [--force]"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="self-contained HTML evaluation report (+ PNGs) of a train or blend run")
    p.add_argument("run_dir", help="run directory made by train or blend")
    p.add_argument("--out", default=None, help="report folder to create (default: RUN_DIR/report)")
    p.add_argument("--data", action="append", default=None,
                   help="training file(s) with the texts (default: data_paths from RUN_DIR/config.yaml)")
    p.add_argument("--position-rows", type=int, default=2000,
                   help="pairs scored twice (as shown, swapped) for the position-bias check; 0 skips it")
    p.add_argument("--force", action="store_true", help="replace an existing report folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("the report needs matplotlib: pip install 'arenapref[report]'") from None
    from arenapref.evaluate.report import write_report

    if args.position_rows < 0:
        raise ValueError("--position-rows must be >= 0")
    path = write_report(args.run_dir, args.out, data_paths=args.data, position_rows=args.position_rows,
                        force=args.force)
    print(f"wrote {path} (and the figures as PNG beside it)")
    return 0
