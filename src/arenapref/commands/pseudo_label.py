"""arenapref pseudo-label --run RUN_DIR --data POOL [--data POOL ...] --out LABELS [--force]

With ``--engine ray`` the pools (files or globs of JSONL / Parquet / Kaggle CSV) are labelled by Ray Data
workers and ``--out`` is a folder of soft-labelled shards plus ``provenance.json`` (docs/scale.md).
"""

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
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="ray: label on Ray Data workers; --out is then a folder of shards (docs/scale.md)")
    p.add_argument("--resume", action="store_true", help="--engine ray: continue an interrupted job")
    p.add_argument("--address", default=None, help="--engine ray: the Ray cluster to join (default: local)")
    p.add_argument("--workers", type=int, default=None, help="--engine ray: scoring actors (default: one per CPU)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0, help="--engine ray: GPUs per worker (LLM runs)")
    p.add_argument("--block-rows", type=int, default=None, help="--engine ray: input rows per shard")
    p.add_argument("--shard-format", choices=["parquet", "jsonl"], default="parquet",
                   help="--engine ray: canonical Parquet or JSONL shards")
    p.add_argument("--quiet", action="store_true", help="--engine ray: no progress bar")
    p.set_defaults(func=run)


def _run_ray(args: argparse.Namespace) -> int:
    import json

    from arenapref.scale.ray_batch import RayJob, pseudo_provenance, run_ray_job, write_text

    if args.fmt not in (None, "auto"):
        raise ValueError("--engine ray reads .jsonl, .csv (Kaggle) and .parquet by extension; drop --format")
    if args.resume and args.force:
        raise ValueError("--resume and --force exclude each other")
    job = RayJob(run=args.run, inputs=args.data, output=args.out, mode="pseudo", swap_tta=args.swap_tta,
                 resume=args.resume, force=args.force, on_bad_row=args.on_bad_row, block_rows=args.block_rows,
                 workers=args.workers, gpus_per_worker=args.gpus_per_worker, address=args.address,
                 shard_format=args.shard_format, min_confidence=args.min_confidence, progress=not args.quiet)
    if not 0.0 <= args.min_confidence <= 1.0:
        raise ValueError(f"--min-confidence must be in [0, 1], got {args.min_confidence}")
    result = run_ray_job(job)
    provenance = pseudo_provenance(job, result)
    write_text(f"{args.out.rstrip('/')}/provenance.json", json.dumps(provenance, indent=2) + "\n")
    mass = provenance["label_mass"]
    print(f"wrote {result.kept:,} soft-labelled rows in {result.blocks} shards to {args.out} (of {result.total:,}; "
          f"label mass A/B/tie = {mass['winner_model_a']:,.1f}/{mass['winner_model_b']:,.1f}/"
          f"{mass['winner_tie']:,.1f}; {result.workers} Ray workers, {result.seconds:.1f} s)")
    return 0


def run(args: argparse.Namespace) -> int:
    from arenapref.commands.data_extra import read_any
    from arenapref.data.readers import concat_pairs, summarize_bad_rows
    from arenapref.pseudo import provenance_path, pseudo_label_run, write_pseudo_labels

    if args.engine == "ray":
        return _run_ray(args)
    if args.resume:
        raise ValueError("--resume applies to --engine ray only")
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
