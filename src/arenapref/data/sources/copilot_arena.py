"""Copilot Arena code-completion votes (``copilot_arena_examples_v1.csv``).

Columns ``prefix, suffix, model_a, model_b, acceptedIndex, completion_a, completion_b``; the user
accepted completion ``acceptedIndex`` (0 = A, 1 = B): two classes, no ties. The prompt is the code
around the cursor, with the cursor shown as ``<CURSOR>`` between prefix and suffix. The first
completion shown was accepted far more often (position bias): train with swap augmentation. Rows
without an ``acceptedIndex`` (no vote) are bad rows (skip them with ``on_bad_row='skip'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow
from arenapref.data.sources.common import Records, check_keys, collect, one_hot
from arenapref.data.validation import BadRow, DataError, RowError

REQUIRED = ("prefix", "suffix", "acceptedIndex", "completion_a", "completion_b")
CURSOR = "<CURSOR>"


def csv_records(path: Path) -> Records:
    """Rows of the CSV. pandas' parser, because code cells hold bare carriage returns outside quotes,
    which Python's csv module reads as line ends; the "line" of a row is its 1-based record number."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(path, f"not a readable CSV ({err})") from None
    yield from enumerate(table.to_dict(orient="records"), start=1)


def read_copilot_arena(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                       source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    def convert(raw: dict[str, Any], line: int) -> dict[str, Any]:
        index = str(raw.get("acceptedIndex", "")).strip()
        if index not in ("0", "1", "0.0", "1.0"):
            raise RowError("acceptedIndex", f"expected 0 or 1, got {index!r}")
        return {"id": f"copilot-{line}", "model_a": raw.get("model_a"), "model_b": raw.get("model_b"),
                "prompt": [f"{raw.get('prefix') or ''}{CURSOR}{raw.get('suffix') or ''}"],
                "response_a": [raw.get("completion_a") or ""], "response_b": [raw.get("completion_b") or ""],
                **one_hot(int(float(index)))}

    records = check_keys(path, csv_records(path), REQUIRED, "copilot-arena")
    return collect(path, records, convert, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                   source=source or "copilot-arena")
