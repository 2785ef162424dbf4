"""arenapref data convert | stats | dedup: bring public data sets in, describe them, check them for leaks.

    arenapref data convert --from FORMAT IN [IN ...] --out OUT [--source NAME] [--seed N] [--force]
    arenapref data stats PATH [PATH ...] [--json]
    arenapref data dedup PATH [--against TEST] [--threshold 0.8] [--out CLEAN] [--report CSV] [--force]
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.readers import FORMAT_READERS, concat_pairs, load_pairs, summarize_bad_rows, write_pairs
from arenapref.data.rows import OnBadRow
from arenapref.data.schema import has_labels
from arenapref.data.validation import DataError
from arenapref.runs import atomic_path, refuse_existing

AUTO = "auto"


def add_parser(dsub: argparse._SubParsersAction) -> None:
    formats = sorted(FORMAT_READERS)
    cv = dsub.add_parser("convert", help="read a public data set's own format, write canonical JSONL/Parquet",
                         description=f"FORMAT: {AUTO} (by columns, then extension) or one of {', '.join(formats)}")
    cv.add_argument("inputs", nargs="+", metavar="IN", help="input file(s); several are stacked")
    cv.add_argument("--from", dest="fmt", default=AUTO, choices=[AUTO, *formats], metavar="FORMAT",
                    help=f"input format (default {AUTO}); one of {', '.join(formats)}")
    cv.add_argument("--out", required=True, help="output file: .jsonl (canonical JSONL) or .parquet")
    cv.add_argument("--source", default=None, help="value of the source column (default: the data set's name)")
    cv.add_argument("--seed", type=int, default=None,
                    help="seed of the A/B coin for chosen/rejected formats (hh-rlhf, dpo, ultrafeedback)")
    cv.add_argument("--on-bad-row", choices=["error", "skip"], default="error")
    cv.add_argument("--force", action="store_true", help="replace an existing output file")
    cv.set_defaults(func=run_convert)

    st = dsub.add_parser("stats", help="rows, labels, tie rate, turns, lengths, languages, sources")
    st.add_argument("paths", nargs="+", metavar="PATH")
    st.add_argument("--format", dest="fmt", default=None)
    st.add_argument("--json", action="store_true", help="print JSON instead of text")
    st.set_defaults(func=run_stats)

    dd = dsub.add_parser("dedup", help="exact / near-duplicate rows, or leaks of PATH into --against",
                         description="Without --against: duplicates inside PATH (--out keeps the first row of "
                                     "each cluster). With --against TEST: rows of TEST whose comparison or "
                                     "prompt occurs in PATH (--out writes PATH without the leaking rows).")
    dd.add_argument("path", metavar="PATH")
    dd.add_argument("--against", default=None, metavar="TEST", help="the held-out / test file to check")
    dd.add_argument("--format", dest="fmt", default=None, help="format of PATH and TEST (default: detect)")
    dd.add_argument("--threshold", type=float, default=0.8, help="Jaccard of word 3-shingles (default 0.8)")
    dd.add_argument("--drop-same-prompt", action="store_true",
                    help="with --against and --out: also drop PATH rows that share a prompt with TEST")
    dd.add_argument("--out", default=None, help="write the de-duplicated / leak-free PATH here")
    dd.add_argument("--report", default=None, help="write the duplicate / leak pairs as CSV here")
    dd.add_argument("--force", action="store_true", help="replace existing --out / --report files")
    dd.set_defaults(func=run_dedup)


def read_any(path: str | Path, fmt: str | None, *, on_bad_row: OnBadRow = "error", source: str | None = None,
             seed: int | None = None) -> pd.DataFrame:
    """One file in any registered format (``None``/``auto``: detect); soft labels are accepted."""
    path = Path(path)
    if fmt in (None, AUTO):
        frame, bad = load_pairs(path, on_bad_row=on_bad_row, allow_soft_labels=True)
    else:
        if not path.is_file():
            raise DataError(path, "no such file")
        if fmt not in FORMAT_READERS:
            raise DataError(path, f"unknown format {fmt!r}; known: {sorted(FORMAT_READERS)}")
        reader = FORMAT_READERS[fmt]
        kwargs: dict[str, Any] = {"on_bad_row": on_bad_row, "allow_soft_labels": True}
        if seed is not None:
            if "seed" not in inspect.signature(reader).parameters:
                raise ValueError(f"--seed applies to the chosen/rejected formats, not to {fmt!r}")
            kwargs["seed"] = seed
        frame, bad = reader(path, **kwargs)
    if source:
        frame["source"] = source
    frame.attrs["bad_rows"] = bad
    return frame


def run_convert(args: argparse.Namespace) -> int:
    out = Path(args.out)
    refuse_existing(out, force=args.force, what="output file")
    if not out.name.endswith((".jsonl", ".parquet", ".pq")):
        raise ValueError(f"{out}: the output must end in .jsonl (canonical JSONL) or .parquet")
    frames, skipped = [], 0
    for path in args.inputs:
        frame = read_any(path, args.fmt, on_bad_row=args.on_bad_row, source=args.source, seed=args.seed)
        bad = frame.attrs.get("bad_rows", [])
        if bad:
            print(f"{path}: {summarize_bad_rows(bad)}")
            skipped += len(bad)
        frames.append(frame)
    table = concat_pairs(frames, what=" + ".join(args.inputs))
    write_pairs(table, out)
    y = table[["winner_model_a", "winner_model_b", "winner_tie"]].sum()
    unlabelled = int((~has_labels(table)).sum())
    print(f"wrote {len(table):,} rows to {out} (A/B/tie = {y.iloc[0]:,.0f}/{y.iloc[1]:,.0f}/{y.iloc[2]:,.0f}, "
          f"{unlabelled:,} unlabelled; {skipped} skipped; sources: "
          f"{', '.join(sorted(table['source'].astype(str).unique()))})")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from arenapref.data.stats import format_stats, pair_stats

    results = {}
    for path in args.paths:
        frame = read_any(path, args.fmt)
        stats = pair_stats(frame)
        if args.json:
            results[path] = stats.as_dict()
        else:
            print(format_stats(stats, name=str(path)))
            print()
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    return 0


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def run_dedup(args: argparse.Namespace) -> int:
    from arenapref.data.dedup import DedupConfig, find_duplicates, find_leaks

    config = DedupConfig(threshold=args.threshold)
    outputs = [Path(p) for p in (args.out, args.report) if p]
    for path in outputs:
        refuse_existing(path, force=args.force, what="output file")
    train = read_any(args.path, args.fmt)
    if args.against is None:
        report = find_duplicates(train, config)
        kept = int(report.keep.sum())
        print(f"{args.path}: {report.n_rows:,} rows; {report.exact_rows:,} exact duplicates (either A/B order), "
              f"{report.near_rows:,} more near duplicates (Jaccard >= {config.threshold}); {kept:,} rows "
              f"after de-duplication; {report.label_conflicts:,} exact-duplicate groups with different labels")
        if args.report:
            ids = train["id"].astype(str).to_numpy()
            rows = [(ids[i], ids[c], report.kind[i]) for i, c in enumerate(report.cluster) if c != i]
            _write_csv(pd.DataFrame(rows, columns=["id", "duplicate_of", "kind"]), Path(args.report))
        if args.out:
            write_pairs(train.loc[report.keep], args.out)
            print(f"wrote {kept:,} rows to {args.out}")
        return 0
    test = read_any(args.against, args.fmt)
    leaks = find_leaks(train, test, config)
    n = leaks.n_test
    print(f"{args.against}: {n:,} rows checked against {args.path} ({leaks.n_train:,} rows)")
    for kind, what in (("exact", "same prompt and responses"),
                       ("near", f"near duplicate (Jaccard >= {config.threshold}), no exact match"),
                       ("prompt", "only the prompt is shared")):
        k = leaks.test_rows(kind)
        print(f"  {kind:<7}{k:>8,} test rows ({k / max(n, 1):.1%})  {what}")
    kinds = ("exact", "near", "prompt") if args.drop_same_prompt else ("exact", "near")
    drop = leaks.leaking_train_rows(kinds)
    print(f"  {len(drop):,} rows of {args.path} take part in these leaks ({', '.join(kinds)})")
    if args.report:
        _write_csv(leaks.leaks, Path(args.report))
    if args.out:
        keep = ~train["id"].astype(str).isin(drop)
        write_pairs(train.loc[keep], args.out)
        print(f"wrote {int(keep.sum()):,} rows to {args.out}")
    return 0

