"""Row primitives every reader shares: open a text file, iterate the raw records of a CSV, JSONL or
Parquet file (with their line numbers), and validate raw records into a canonical pairs table.

Both the canonical readers (:mod:`arenapref.data.readers`) and the public-format converters
(:mod:`arenapref.data.sources`) build on these, so neither has to import the other's internals.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from tqdm.auto import tqdm

from arenapref.data.schema import COLUMNS, LABEL_COLUMNS, empty_pairs
from arenapref.data.validation import BadRow, DataError, RowError, clean_row, has_bad_bytes

OnBadRow = Literal["error", "skip"]

# A raw record: (line number, dict of raw cells), or (line number, RowError) for a line that cannot be parsed
RawRows = Iterator[tuple[int, "dict[str, Any] | RowError"]]


def open_text(path: Path) -> io.TextIOBase:
    # surrogateescape keeps undecodable bytes visible so validation can name the row that has them
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="surrogateescape", newline="")
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def kaggle_rows(path: Path) -> tuple[list[str], RawRows]:
    csv.field_size_limit(sys.maxsize)
    handle = open_text(path)
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        handle.close()
        raise DataError(path, "empty file: no header row") from None
    except csv.Error as err:
        handle.close()
        raise DataError(path, f"not a readable CSV ({err})", line=1) from None
    header = [h.strip().lstrip("\ufeff") for h in header]

    def rows() -> RawRows:
        try:
            line = reader.line_num + 1
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as err:
                    raise DataError(path, f"broken CSV record ({err})", line=line) from None
                if cells:
                    if len(cells) != len(header):
                        yield line, RowError(None, f"{len(cells)} cells, the header has {len(header)}")
                    else:
                        yield line, dict(zip(header, cells))
                line = reader.line_num + 1
        finally:
            handle.close()

    return header, rows()


def jsonl_rows(path: Path) -> RawRows:
    with open_text(path) as handle:
        for line_no, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            if has_bad_bytes(text):  # a JSON escape like \udc80 is fine; a raw byte is not UTF-8
                raise DataError(path, "invalid UTF-8 bytes on this line", line=line_no)
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                yield line_no, RowError(None, f"not valid JSON ({err.msg} at char {err.pos})")
                continue
            except RecursionError:
                yield line_no, RowError(None, "JSON nested too deeply")
                continue
            if not isinstance(obj, dict):
                yield line_no, RowError(None, f"expected a JSON object per line, got {type(obj).__name__}")
                continue
            yield line_no, obj


def parquet_rows(path: Path) -> RawRows:
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for corrupt files
        raise DataError(path, f"not a readable Parquet file ({err})") from None
    for i, rec in enumerate(table.to_dict(orient="records")):
        yield i + 1, rec


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


def check_header(path: Path, header: list[str], required: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; the file has {header}")
    extra = [c for c in header if c not in allowed]
    if extra:
        raise DataError(path, f"unexpected column(s) {extra}; expected {list(allowed)}")
    dupes = [c for c, n in Counter(header).items() if n > 1]
    if dupes:
        raise DataError(path, f"duplicate column(s) {dupes}")


def collect_rows(path: Path, records: RawRows, *, json_encoded: bool, labelled: bool | None,
             allow_soft_labels: bool, on_bad_row: OnBadRow, source: str) -> tuple[pd.DataFrame, list[BadRow]]:
    rows: list[dict[str, Any]] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    # the bar shows only on a terminal; a 57k-row Kaggle file takes a few seconds to validate
    for line, raw in tqdm(records, desc=f"read {path.name}", unit=" rows", disable=None, leave=False,
                          mininterval=1.0):
        raw_id = None if isinstance(raw, RowError) else raw.get("id")
        row_id = None if raw_id is None else str(raw_id)
        try:
            if isinstance(raw, RowError):
                raise raw
            is_labelled = labelled if labelled is not None else any(present(raw.get(c)) for c in LABEL_COLUMNS)
            row = clean_row(raw, json_encoded=json_encoded, labelled=is_labelled,
                            allow_soft_labels=allow_soft_labels, source=source)
            if row["id"] in seen:
                raise RowError("id", f"duplicate id (first seen on line {seen[row['id']]})")
        except RowError as err:
            if on_bad_row == "error":
                raise DataError(path, str(err), line=line, row_id=row_id, field=err.field) from None
            bad.append(BadRow(str(path), line, row_id, err.field, str(err)))
            continue
        seen[row["id"]] = line
        rows.append(row)
    if not rows and not bad:
        raise DataError(path, "no rows")
    frame = pd.DataFrame(rows, columns=list(COLUMNS)) if rows else empty_pairs()
    for col in LABEL_COLUMNS:
        frame[col] = frame[col].astype(float)
    return frame, bad
