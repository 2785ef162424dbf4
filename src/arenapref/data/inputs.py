"""Pairs given as arguments (the Python API, the HTTP service, ``arenapref compare``/``rank``) rather than
read from a file: each checked like a file row, into the canonical pairs table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from arenapref.data.schema import COLUMNS, LABEL_COLUMNS
from arenapref.data.validation import RowError, clean_row


class InputError(ValueError):
    """A pair that cannot be scored; ``field`` names the offending argument, ``row`` the row if any."""

    def __init__(self, field: str | None, message: str, *, row: int | str | None = None) -> None:
        self.field, self.row, self.reason = field, row, message
        where = [] if row is None else [f"row {row}"]
        if field:
            where.append(f"field '{field}'")
        super().__init__(": ".join([", ".join(where), message]) if where else message)


def clean_pair(prompt: Any, response_a: Any, response_b: Any, *, row_id: str = "0") -> dict[str, Any]:
    """One pair in canonical form (see :mod:`arenapref.data.schema`), or :class:`InputError`."""
    raw = {"id": row_id, "prompt": _as_list(prompt), "response_a": _as_list(response_a),
           "response_b": _as_list(response_b)}
    try:
        return clean_row(raw, json_encoded=False, labelled=False, allow_soft_labels=False, source="api")
    except RowError as err:
        raise InputError(err.field, str(err)) from None


def _as_list(value: Any) -> Any:
    # tuples (and other non-string sequences) are as good as lists; everything else is left to clean_row
    if isinstance(value, tuple):
        return list(value)
    return value


def pairs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Canonical rows (from :func:`clean_pair` / ``clean_row``) as a canonical pairs table."""
    # column lists, not a list of dicts: pandas infers a record list's keys row by row
    columns: dict[str, Any] = {c: [r.get(c, math.nan) for r in rows] for c in COLUMNS}
    for col in LABEL_COLUMNS:
        columns[col] = np.asarray(columns[col], dtype=float)
    return pd.DataFrame(columns, columns=list(COLUMNS))
