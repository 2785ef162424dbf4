"""Auto-J pairwise test set (``testdata_pairwise.jsonl``): ``scenario, label, prompt, response 1, response 2``.

``label``: 0 = response 1 is better, 1 = response 2, 2 = tie (human labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow
from arenapref.data.sources.common import check_keys, collect, json_records, one_hot, require, text_of
from arenapref.data.validation import BadRow, RowError

REQUIRED = ("label", "prompt", "response 1", "response 2")
LABEL_CLASS = {0: 0, 1: 1, 2: 2}


def read_autoj(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
               source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    def convert(raw: dict[str, Any], line: int) -> dict[str, Any]:
        label = raw.get("label")
        if isinstance(label, bool) or not isinstance(label, int) or label not in LABEL_CLASS:
            raise RowError("label", f"expected 0, 1 or 2, got {label!r}")
        return {"id": f"autoj-{line}", "prompt": [require(raw, "prompt")],
                "response_a": [text_of(raw.get("response 1"), "response 1")],
                "response_b": [text_of(raw.get("response 2"), "response 2")], **one_hot(LABEL_CLASS[label])}

    records = check_keys(path, json_records(path), REQUIRED, "autoj")
    return collect(path, records, convert, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                   source=source or "auto-j")
