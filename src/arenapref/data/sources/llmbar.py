"""LLMBar (Natural, Adversarial/*) and its processed FairEval / LLMEval² / MT-Bench sets.

A JSON list of ``{input, output_1, output_2, label}`` with label 1 or 2: a two-class set, no ties.
The file name (``LLMBar_Natural`` ...) becomes part of the row id, so several files stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow
from arenapref.data.sources.common import check_keys, collect, json_records, one_hot, require, text_of
from arenapref.data.validation import BadRow, RowError

REQUIRED = ("input", "output_1", "output_2", "label")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def read_llmbar(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    stem = _stem(path)

    def convert(raw: dict[str, Any], line: int) -> dict[str, Any]:
        label = raw.get("label")
        if isinstance(label, bool) or label not in (1, 2):
            raise RowError("label", f"expected 1 or 2, got {label!r}")
        return {"id": f"llmbar-{stem}-{line}", "prompt": [require(raw, "input")],
                "response_a": [text_of(raw.get("output_1"), "output_1")],
                "response_b": [text_of(raw.get("output_2"), "output_2")], **one_hot(label - 1)}

    records = check_keys(path, json_records(path), REQUIRED, "llmbar")
    return collect(path, records, convert, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                   source=source or "llmbar")
