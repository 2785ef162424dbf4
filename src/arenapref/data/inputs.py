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
    """Canonical rows (from :func:`clean_pair` / ``clean_row``) as a canonical pairs table: the text
    columns (id, models, turns, source) as Python objects, the label columns as float."""
    n = len(rows)
    # fromiter keeps each cell one object (assigning a list would unpack equal-length lists of turns)
    texts = np.stack([np.fromiter((r.get(col) for r in rows), dtype=object, count=n) for col in _OBJECT_COLUMNS])
    labels = np.array([[r.get(col, math.nan) for r in rows] for col in LABEL_COLUMNS],
                      dtype=float).reshape(len(LABEL_COLUMNS), n)
    if _from_blocks is None:
        return pd.DataFrame({**dict(zip(_OBJECT_COLUMNS, texts)), **dict(zip(LABEL_COLUMNS, labels))},
                            columns=list(COLUMNS))
    # the two blocks as they are: pandas' constructor infers a type for every column, which for the few
    # rows of a service request cost more than scoring one of them (about 1 ms)
    return _from_blocks([(texts, _OBJECT_AT), (labels, _LABEL_AT)], index=pd.RangeIndex(n), columns=_COLUMN_INDEX)


_OBJECT_COLUMNS = tuple(c for c in COLUMNS if c not in LABEL_COLUMNS)
_OBJECT_AT = np.array([COLUMNS.index(c) for c in _OBJECT_COLUMNS], dtype=np.intp)
_LABEL_AT = np.array([COLUMNS.index(c) for c in LABEL_COLUMNS], dtype=np.intp)
_COLUMN_INDEX = pd.Index(list(COLUMNS))
try:  # pandas >= 3
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:  # pragma: no cover (older pandas: the plain constructor)
    _from_blocks = None
