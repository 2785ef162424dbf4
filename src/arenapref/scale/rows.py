"""One input row to score, parsed and checked the same way by every scoring door (batch, Ray workers).

Each function returns ``(original id, canonical row)`` or raises a :class:`DataError` naming the file,
the line (the row number for Parquet), the id and the field. ``skipped_record`` turns such an error into
the line written to ``*.skipped.jsonl`` under ``--on-bad-row skip``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from arenapref.data.schema import CLASS_NAMES, LABEL_COLUMNS, TEXT_COLUMNS
from arenapref.data.validation import DataError, RowError, clean_row, has_bad_bytes

ON_BAD_ROW = ("error", "skip")
# rows per model call of `batch` and of each Ray worker: bench/batch_speed.py on 57,477 rows, 2 cores:
# 512 -> 1,646 rows/s, 2,048 -> 2,227, 4,096 -> 2,677 (peak RSS 369 -> 430 MiB, still flat in the input size)
DEFAULT_CHUNK = 4096


def parse_jsonl_line(path: Path | str, line_no: int, text: str) -> tuple[Any, dict[str, Any]]:
    """A JSONL line read with ``errors='surrogateescape'``: one object with id, prompt, response_a/b."""
    if has_bad_bytes(text):
        raise DataError(path, "invalid UTF-8 bytes on this line", line=line_no)
    if line_no == 1:
        text = text.removeprefix("\ufeff")  # a byte-order mark some editors put at the start of a file
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON ({err.msg} at char {err.pos})", line=line_no) from None
    except RecursionError:
        raise DataError(path, "not usable JSON (nested too deeply)", line=line_no) from None
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object per line, got {type(obj).__name__}", line=line_no)
    return parse_record(path, line_no, obj, json_encoded=False)


def parse_record(path: Path | str, line_no: int, obj: dict[str, Any], *,
                 json_encoded: bool) -> tuple[Any, dict[str, Any]]:
    """A row already split into cells (a JSON object, a Parquet row, or a Kaggle CSV record)."""
    raw_id = obj.get("id")
    shown = None if raw_id is None else str(raw_id)
    for key in ("id", *TEXT_COLUMNS):
        if key not in obj:
            raise DataError(path, f"missing key '{key}'", line=line_no, row_id=shown, field=key)
    if isinstance(raw_id, (dict, list, bool)):
        raise DataError(path, f"id must be a string or a number, got {type(raw_id).__name__}",
                        line=line_no, field="id")
    try:
        row = clean_row(obj, json_encoded=json_encoded, labelled=False, allow_soft_labels=False,
                        source=Path(str(path)).name)
    except RowError as err:
        raise DataError(path, str(err), line=line_no, row_id=shown, field=err.field) from None
    except RecursionError:
        raise DataError(path, "a cell is nested too deeply", line=line_no, row_id=shown) from None
    return raw_id, row


def skipped_record(err: DataError) -> dict[str, Any]:
    """One line of ``*.skipped.jsonl``: where the bad row is and why it was left out."""
    return {"file": err.path, "line": err.line, "id": err.row_id, "field": err.field,
            "reason": getattr(err, "reason", str(err))}


def check_on_bad_row(value: str) -> str:
    if value not in ON_BAD_ROW:
        raise ValueError(f"--on-bad-row must be one of {list(ON_BAD_ROW)}, got {value!r}")
    return value


def id_key(row_id: str) -> int:
    """8 bytes per id: what the duplicate checks keep, however long the ids are."""
    return int.from_bytes(hashlib.blake2b(row_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def score_line(raw_id: Any, proba: Any) -> str:
    """One output line: the input's id (as it was) + the three probabilities + the verdict."""
    out = {"id": raw_id, **{col: float(p) for col, p in zip(LABEL_COLUMNS, proba)},
           "verdict": CLASS_NAMES[int(proba.argmax())]}
    # ASCII escapes keep the output valid UTF-8 whatever the ids contain
    return json.dumps(out, ensure_ascii=True) + "\n"
