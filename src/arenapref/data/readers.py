"""Readers for the Kaggle CSV, canonical JSONL and Parquet into the canonical pairs table.

``read_pairs(path)`` picks the format by extension (``.csv`` Kaggle, ``.jsonl``/``.jsonl.gz``
canonical, ``.parquet``), or by ``fmt``. Every row goes through :func:`validation.clean_row`; the
first bad row raises :class:`DataError` (``on_bad_row='error'``) or is skipped and reported
(``on_bad_row='skip'``). Other public formats register themselves in :data:`FORMAT_READERS`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from tqdm.auto import tqdm

from arenapref.data.schema import COLUMNS, LABEL_COLUMNS, TEXT_COLUMNS, empty_pairs
from arenapref.data.validation import BadRow, DataError, RowError, clean_row, has_bad_bytes
from arenapref.timing import stage

OnBadRow = Literal["error", "skip"]
KAGGLE_TRAIN_COLUMNS = ("id", "model_a", "model_b", *TEXT_COLUMNS, *LABEL_COLUMNS)
KAGGLE_TEST_COLUMNS = ("id", *TEXT_COLUMNS)
KNOWN_EXTRA_COLUMNS = ("source",)

# A raw record: (line number, dict of raw cells), or (line number, RowError) for a line that cannot be parsed
RawRows = Iterator[tuple[int, "dict[str, Any] | RowError"]]


def _open_text(path: Path) -> io.TextIOBase:
    # surrogateescape keeps undecodable bytes visible so validation can name the row that has them
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="surrogateescape", newline="")
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _kaggle_rows(path: Path) -> tuple[list[str], RawRows]:
    csv.field_size_limit(sys.maxsize)
    handle = _open_text(path)
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


def _jsonl_rows(path: Path) -> RawRows:
    with _open_text(path) as handle:
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


def _parquet_rows(path: Path) -> RawRows:
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for corrupt files
        raise DataError(path, f"not a readable Parquet file ({err})") from None
    for i, rec in enumerate(table.to_dict(orient="records")):
        yield i + 1, rec


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


def _check_header(path: Path, header: list[str], required: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; the file has {header}")
    extra = [c for c in header if c not in allowed]
    if extra:
        raise DataError(path, f"unexpected column(s) {extra}; expected {list(allowed)}")
    dupes = [c for c, n in Counter(header).items() if n > 1]
    if dupes:
        raise DataError(path, f"duplicate column(s) {dupes}")


def _collect(path: Path, records: RawRows, *, json_encoded: bool, labelled: bool | None,
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
            is_labelled = labelled if labelled is not None else any(_present(raw.get(c)) for c in LABEL_COLUMNS)
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


def read_kaggle_csv(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                    source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    """The competition's train.csv (labelled) or test.csv (unlabelled), byte-for-byte format."""
    header, records = _kaggle_rows(path)
    labelled = any(c in header for c in LABEL_COLUMNS) or "model_a" in header
    if labelled:
        _check_header(path, header, KAGGLE_TRAIN_COLUMNS, KAGGLE_TRAIN_COLUMNS + KNOWN_EXTRA_COLUMNS)
    else:
        _check_header(path, header, KAGGLE_TEST_COLUMNS, KAGGLE_TEST_COLUMNS + ("model_a", "model_b")
                      + KNOWN_EXTRA_COLUMNS)
    return _collect(path, records, json_encoded=True, labelled=labelled, allow_soft_labels=allow_soft_labels,
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

    return _collect(path, chained(), json_encoded=False, labelled=None, allow_soft_labels=allow_soft_labels,
                    on_bad_row=on_bad_row, source=source)


def read_canonical_jsonl(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                         source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    """Canonical JSONL (see ``shared/data/README.md``): lists of turns, optional 0/1 label keys."""
    return _read_objects(path, _jsonl_rows(path), on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                         source=source or path.name)


def read_parquet(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                 source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    """Parquet with the canonical columns."""
    return _read_objects(path, _parquet_rows(path), on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                         source=source or path.name)


Reader = Callable[..., tuple[pd.DataFrame, list[BadRow]]]
FORMAT_READERS: dict[str, Reader] = {
    "kaggle": read_kaggle_csv,
    "canonical": read_canonical_jsonl,
    "jsonl": read_canonical_jsonl,
    "parquet": read_parquet,
}


def detect_format(path: Path) -> str:
    from arenapref.data.sources import sniff_format  # public schemas are recognised by their keys

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
    from arenapref.runs import atomic_path

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


# public data set adapters (arenapref.data.sources) import this module lazily, so registering last is safe
from arenapref.data.sources import SOURCE_READERS  # noqa: E402

FORMAT_READERS.update(SOURCE_READERS)
