"""arenapref pseudo-label --run RUN_DIR --data POOL [--data POOL ...] --out LABELS [--force]"""

from __future__ import annotations

import argparse
from pathlib import Path

from arenapref.runs import refuse_existing


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pseudo-label", help="soft labels for unlabelled pairs from a run's model (with provenance)")
    p.add_argument("--run", required=True, help="run directory of the teacher (made by train)")
    p.add_argument("--data", action="append", required=True, metavar="POOL",
                   help="pairs to label, any readable format (repeatable); existing labels are replaced")
    p.add_argument("--out", required=True, help="LABELS: canonical .jsonl or .parquet with soft labels")
    p.add_argument("--format", dest="fmt", default=None, help="pool format (default: detect)")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="keep rows whose largest probability is at least this (default 0: keep all)")
    p.add_argument("--no-swap-tta", dest="swap_tta", action="store_const", const=False, default=None,
                   help="do not average with the A/B-swapped prediction (default: the run's predict.swap_tta)")
    p.add_argument("--on-bad-row", choices=["error", "skip"], default="error")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from arenapref.commands.data_extra import read_any
    from arenapref.data.readers import concat_pairs, summarize_bad_rows
    from arenapref.pseudo import provenance_path, pseudo_label_run, write_pseudo_labels

    out = Path(args.out)
    if not out.name.endswith((".jsonl", ".parquet", ".pq")):
        raise ValueError(f"{out}: the output must end in .jsonl (canonical JSONL) or .parquet")
    refuse_existing(out, force=args.force, what="output file")
    refuse_existing(provenance_path(out), force=args.force, what="provenance file")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise ValueError(f"--min-confidence must be in [0, 1], got {args.min_confidence}")
    frames = []
    for path in args.data:
        frame = read_any(path, args.fmt, on_bad_row=args.on_bad_row)
        if frame.attrs.get("bad_rows"):
            print(f"{path}: {summarize_bad_rows(frame.attrs['bad_rows'])}")
        frames.append(frame)
    pool = concat_pairs(frames, what=" + ".join(args.data))
    table, provenance = pseudo_label_run(args.run, pool, swap_tta=args.swap_tta,
                                         min_confidence=args.min_confidence)
    write_pseudo_labels(table, provenance, out, force=args.force, inputs=args.data)
    mass = provenance["label_mass"]
    print(f"wrote {len(table):,} soft-labelled rows to {out} (of {len(pool):,}; label mass A/B/tie = "
          f"{mass['winner_model_a']:,.1f}/{mass['winner_model_b']:,.1f}/{mass['winner_tie']:,.1f}; "
          f"mean confidence {provenance['mean_confidence']:.3f})")
    print(f"provenance: {provenance_path(out)}")
    return 0
