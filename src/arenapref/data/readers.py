"""Readers for the Kaggle CSV, canonical JSONL and Parquet into the canonical pairs table.

``read_pairs(path)`` picks the format by extension (``.csv`` Kaggle, ``.jsonl``/``.jsonl.gz``
canonical, ``.parquet``), or by ``fmt``. Every row goes through :func:`validation.clean_row`; the
first bad row raises :class:`DataError` (``on_bad_row='error'``) or is skipped and reported
(``on_bad_row='skip'``). The public formats of :mod:`arenapref.data.sources` are in :data:`FORMAT_READERS` too.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from arenapref.data.rows import (
    OnBadRow,
    RawRows,
    check_header,
    collect_rows,
    jsonl_rows,
    kaggle_rows,
    parquet_rows,
)
from arenapref.data.schema import COLUMNS, LABEL_COLUMNS, TEXT_COLUMNS
from arenapref.data.sources import SOURCE_READERS, sniff_format
from arenapref.data.validation import BadRow, DataError, RowError
from arenapref.runs import atomic_path
from arenapref.timing import stage

KAGGLE_TRAIN_COLUMNS = ("id", "model_a", "model_b", *TEXT_COLUMNS, *LABEL_COLUMNS)
KAGGLE_TEST_COLUMNS = ("id", *TEXT_COLUMNS)
KNOWN_EXTRA_COLUMNS = ("source",)


def read_kaggle_csv(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                    source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    """The competition's train.csv (labelled) or test.csv (unlabelled), byte-for-byte format."""
    header, records = kaggle_rows(path)
    labelled = any(c in header for c in LABEL_COLUMNS) or "model_a" in header
    if labelled:
        check_header(path, header, KAGGLE_TRAIN_COLUMNS, KAGGLE_TRAIN_COLUMNS + KNOWN_EXTRA_COLUMNS)
    else:
        check_header(path, header, KAGGLE_TEST_COLUMNS, KAGGLE_TEST_COLUMNS + ("model_a", "model_b")
                      + KNOWN_EXTRA_COLUMNS)
    return collect_rows(path, records, json_encoded=True, labelled=labelled, allow_soft_labels=allow_soft_labels,
                    on_bad_row=on_bad_row, source=source or path.name)


def _read_objects(path: Path, records: RawRows, *, on_bad_row: OnBadRow, allow_soft_labels: bool,
                  source: str) -> tuple[pd.DataFrame, list[BadRow]]:
    records = iter(records)
    first = next(records, None)
    if first is None:
        raise DataError(path, "empty file: no rows")
    if isinstance(first[1], RowError):
        raise DataError(path, str(first[1]), line=first[0])
    missing = [c for c in ("id", *TEXT_COLUMNS) if c not in first[1]]
    if missing:
        raise DataError(path, f"missing key(s) {missing}; the first row has {sorted(first[1])}", line=first[0])

    def chained() -> RawRows:
        yield first
        yield from records

    return collect_rows(path, chained(), json_encoded=False, labelled=None, allow_soft_labels=allow_soft_labels,
                    on_bad_row=on_bad_row, source=source)


def read_canonical_jsonl(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                         source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    """Canonical JSONL (see ``shared/data/README.md``): lists of turns, optional 0/1 label keys."""
    return _read_objects(path, jsonl_rows(path), on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                         source=source or path.name)


def read_parquet(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                 source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    """Parquet with the canonical columns."""
    return _read_objects(path, parquet_rows(path), on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                         source=source or path.name)


Reader = Callable[..., tuple[pd.DataFrame, list[BadRow]]]
FORMAT_READERS: dict[str, Reader] = {
    "kaggle": read_kaggle_csv,
    "canonical": read_canonical_jsonl,
    "jsonl": read_canonical_jsonl,
    "parquet": read_parquet,
    **SOURCE_READERS,
}


def detect_format(path: Path) -> str:
    # public schemas are recognised by their keys, the canonical ones by extension
    sniffed = sniff_format(path)
    if sniffed is not None:
        return sniffed
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "kaggle"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return "canonical"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise DataError(path, f"cannot tell the format from the extension; pass one of {sorted(FORMAT_READERS)}")


def load_pairs(path: str | Path, *, fmt: str | None = None, on_bad_row: OnBadRow = "error",
               allow_soft_labels: bool = False) -> tuple[pd.DataFrame, list[BadRow]]:
    """Read one file into the canonical table; returns the table and the rows that were skipped."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file")
    if path.is_dir():
        raise DataError(path, "is a folder, expected a file")
    fmt = fmt or detect_format(path)
    if fmt not in FORMAT_READERS:
        raise DataError(path, f"unknown format {fmt!r}; known: {sorted(FORMAT_READERS)}")
    with stage("read + validate"):
        return FORMAT_READERS[fmt](path, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels)


def read_pairs(path: str | Path, *, fmt: str | None = None, on_bad_row: OnBadRow = "error",
               allow_soft_labels: bool = False) -> pd.DataFrame:
    """Read one file into the canonical table (skipped rows, if any, are in ``frame.attrs['bad_rows']``)."""
    frame, bad = load_pairs(path, fmt=fmt, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels)
    frame.attrs["bad_rows"] = bad
    return frame


def concat_pairs(frames: list[pd.DataFrame], *, what: str = "inputs") -> pd.DataFrame:
    """Stack tables from several files; ids must stay unique across them."""
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    dupes = frame["id"][frame["id"].duplicated()]
    if len(dupes):
        raise DataError(what, f"id {dupes.iloc[0]!r} appears in more than one file "
                              f"({len(dupes)} duplicated ids in all)", row_id=str(dupes.iloc[0]), field="id")
    return frame


def summarize_bad_rows(bad: list[BadRow]) -> str:
    """One line per reason, e.g. ``3 rows skipped: 2 x field 'prompt': cell is not valid JSON``."""
    if not bad:
        return "0 rows skipped"
    reasons = Counter(f"field '{b.field}': {b.reason.split(' (')[0]}" if b.field else b.reason for b in bad)
    lines = [f"{len(bad)} rows skipped:"] + [f"  {n} x {reason}" for reason, n in reasons.most_common()]
    return "\n".join(lines)


def write_pairs(frame: pd.DataFrame, path: str | Path) -> None:
    """Write the canonical table as canonical JSONL or Parquet (by extension), atomically."""
    path = Path(path)
    out = frame[[c for c in COLUMNS if c in frame.columns]]
    with atomic_path(path) as tmp:
        if path.name.endswith((".parquet", ".pq")):
            out.to_parquet(tmp, index=False)
        else:
            with open(tmp, "w", encoding="utf-8") as handle:
                for rec in out.to_dict(orient="records"):
                    for col in LABEL_COLUMNS:
                        if rec.get(col) is not None and rec[col] != rec[col]:  # NaN -> absent
                            rec.pop(col)
                    handle.write(json.dumps(rec, ensure_ascii=False) + "\n")

