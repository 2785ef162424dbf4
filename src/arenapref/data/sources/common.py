"""Helpers the public-format adapters share: record iteration, conversion with row errors, labels, coins.

An adapter turns one raw record of its public schema into a canonical raw row (lists of turns, label
floats) with a ``convert(raw, line)`` function and hands the records to :func:`collect`, which runs the
same validation as the canonical readers (:func:`arenapref.data.validation.clean_row`). A problem in
a record raises :class:`RowError`; it becomes a :class:`DataError` naming file, line/record and field,
or a skipped row under ``on_bad_row='skip'``.

``arenapref.data.readers`` is imported inside functions because it registers these adapters when it
is imported itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow, RawRows, collect_rows, jsonl_rows, kaggle_rows, open_text
from arenapref.data.schema import LABEL_COLUMNS, empty_pairs
from arenapref.data.validation import BadRow, DataError, RowError

# one canonical raw row per record, or several (UltraFeedback makes every rated pair of a prompt a row)
Convert = Callable[[dict[str, Any], int], "dict[str, Any] | list[dict[str, Any]]"]
# a record that could not even be parsed (a broken JSON line, a CSV row of the wrong width) is a RowError
Records = RawRows
DEFAULT_SEED = 0


def one_hot(cls: int) -> dict[str, float]:
    """Label columns for class ``cls`` (0 = A, 1 = B, 2 = tie)."""
    return {col: float(j == cls) for j, col in enumerate(LABEL_COLUMNS)}


def soft(probs: list[float]) -> dict[str, float]:
    return {col: float(p) for col, p in zip(LABEL_COLUMNS, probs)}


def coin(seed: int, key: str) -> bool:
    """A deterministic fair coin per row: the same row gets the same side whatever the file order."""
    return hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()[0] & 1 == 1


def require(raw: dict[str, Any], key: str, kind: type | tuple[type, ...] = str) -> Any:
    """``raw[key]``, or a :class:`RowError` naming the field when it is missing or of the wrong type."""
    if key not in raw or raw[key] is None:
        raise RowError(key, "missing")
    value = raw[key]
    if not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise RowError(key, f"expected {want}, got {type(value).__name__}")
    return value


def text_of(value: Any, field: str) -> str:
    """A text cell: strings verbatim, JSON null as an empty string."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowError(field, f"expected a string, got {type(value).__name__}")
    return value


def jsonl_records(path: Path) -> Records:
    return jsonl_rows(path)


def json_list_records(path: Path) -> Records:
    """Records of a file holding one JSON list of objects; the "line" of a record is its 1-based index."""
    with open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as err:
            raise DataError(path, f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
        except RecursionError:
            raise DataError(path, "JSON nested too deeply") from None
    if isinstance(data, dict):
        # some releases wrap the list: {"data": [...]} or similar, with exactly one list inside
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError(path, "expected a JSON list of records")
        data = lists[0]
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON list of records, got {type(data).__name__}")
    for i, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            raise DataError(path, f"record {i} is {type(obj).__name__}, expected a JSON object", line=i)
        yield i, obj


def json_records(path: Path) -> Records:
    """JSONL (``.jsonl``, ``.jsonl.gz``, ``.ndjson``) or one JSON list (anything else), by the first character."""
    with open_text(path) as handle:
        first_line = ""
        while not first_line.strip():
            first_line = handle.readline()
            if first_line == "":
                break
    head = first_line.lstrip()
    if head.startswith("["):
        return json_list_records(path)
    if head.startswith("{"):
        try:
            json.loads(head)
        except (json.JSONDecodeError, RecursionError):
            return json_list_records(path)  # one pretty-printed object, e.g. {"data": [...]}
        return jsonl_records(path)
    raise DataError(path, "neither JSON Lines nor a JSON list (the file does not start with '{' or '[')")


def csv_records(path: Path) -> Records:
    _, rows = kaggle_rows(path)
    return rows


def check_keys(path: Path, records: Records, required: tuple[str, ...], fmt: str) -> Records:
    """Fail early, naming the format, when the first record lacks the keys of the public schema."""
    first = next(records, None)
    if first is None:
        raise DataError(path, "empty file: no records")
    if isinstance(first[1], RowError):
        raise DataError(path, str(first[1]), line=first[0])
    missing = [k for k in required if k not in first[1]]
    if missing:
        raise DataError(path, f"not the {fmt} format: missing key(s) {missing}; the first record has "
                              f"{sorted(first[1])[:20]}", line=first[0])

    def chained() -> Records:
        yield first
        yield from records

    return chained()


def collect(path: Path, records: Records, convert: Convert, *, on_bad_row: OnBadRow, allow_soft_labels: bool,
            source: str) -> tuple[pd.DataFrame, list[BadRow]]:
    """Convert every record and validate it like the canonical readers; the table has a ``source`` column."""
    bad: list[BadRow] = []

    def converted() -> Records:
        for line, raw in records:
            try:
                if isinstance(raw, RowError):  # broken before any format could read it
                    raise raw
                out = convert(raw, line)
            except RowError as err:
                row_id = None if isinstance(raw, RowError) or raw.get("id") is None else str(raw.get("id"))
                if on_bad_row == "error":
                    raise DataError(path, str(err), line=line, row_id=row_id, field=err.field) from None
                bad.append(BadRow(str(path), line, row_id, err.field, str(err)))
                continue
            for row in out if isinstance(out, list) else [out]:
                row.setdefault("source", source)
                yield line, row

    rows = converted()
    first = next(rows, None)
    if first is None:
        if not bad:
            raise DataError(path, "no rows")
        return empty_pairs(), bad

    def chained() -> Records:
        yield first
        yield from rows

    frame, more = collect_rows(path, chained(), json_encoded=False, labelled=None,
                                   allow_soft_labels=allow_soft_labels, on_bad_row=on_bad_row, source=source)
    return frame, sorted(bad + more, key=lambda b: b.line or 0)


def unique_id(seen: dict[str, int], base: str) -> str:
    """``base``, or ``base~2``, ``base~3`` ... when a public set repeats a key (e.g. one question, many judges)."""
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}~{seen[base]}"
