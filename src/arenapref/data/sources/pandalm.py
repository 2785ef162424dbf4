"""PandaLM human test set (``testset-v1.json``): a JSON list with three annotators per pair.

Fields: ``idx, instruction, input, response1, response2, annotator1..3`` where a vote is 0 = tie,
1 = response1, 2 = response2. Six upstream answers are JSON booleans (``true``): read as the text
``True``. The prompt is the instruction followed by the input (when there is one).
``pandalm`` gives the majority vote (a three-way split counts as a tie: the annotators did not agree);
``pandalm-soft`` gives the vote shares as soft labels (read them with ``allow_soft_labels``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow
from arenapref.data.sources.common import check_keys, collect, json_records, one_hot, require, soft, text_of
from arenapref.data.validation import BadRow, RowError


def answer_text(raw: dict[str, Any], key: str) -> str:
    """A response cell; a few upstream answers were stored as JSON booleans (the model said "True")."""
    value = raw.get(key)
    if isinstance(value, bool):
        return str(value)
    return text_of(value, key)


REQUIRED = ("instruction", "response1", "response2", "annotator1")
ANNOTATORS = ("annotator1", "annotator2", "annotator3")
# PandaLM vote -> class index (A, B, tie)
VOTE_CLASS = {1: 0, 2: 1, 0: 2}


def votes_of(raw: dict[str, Any]) -> list[int]:
    votes = []
    for key in ANNOTATORS:
        if key not in raw or raw[key] is None:
            continue
        try:
            vote = int(raw[key])
        except (TypeError, ValueError):
            raise RowError(key, f"expected 0, 1 or 2, got {raw[key]!r}") from None
        if vote not in VOTE_CLASS:
            raise RowError(key, f"expected 0, 1 or 2, got {vote}")
        votes.append(VOTE_CLASS[vote])
    if not votes:
        raise RowError("annotator1", "no annotator votes")
    return votes


def _reader(soft_labels: bool):
    def read(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
             source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
        def convert(raw: dict[str, Any], line: int) -> dict[str, Any]:
            instruction = require(raw, "instruction")
            extra = text_of(raw.get("input"), "input")
            prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
            votes = votes_of(raw)
            counts = [votes.count(k) for k in range(3)]
            if soft_labels:
                labels = soft([c / len(votes) for c in counts])
            else:
                top = max(counts)
                labels = one_hot(counts.index(top) if counts.count(top) == 1 else 2)
            models = str(raw.get("cmp_key") or "").split("_", 1)
            return {"id": f"pandalm-{raw.get('idx', line - 1)}",
                    "model_a": models[0] if len(models) == 2 else None,
                    "model_b": models[1] if len(models) == 2 else None,
                    "prompt": [prompt], "response_a": [answer_text(raw, "response1")],
                    "response_b": [answer_text(raw, "response2")], **labels}

        records = check_keys(path, json_records(path), REQUIRED, "pandalm")
        return collect(path, records, convert, on_bad_row=on_bad_row,
                       allow_soft_labels=allow_soft_labels or soft_labels, source=source or "pandalm")

    return read


read_pandalm = _reader(soft_labels=False)
read_pandalm_soft = _reader(soft_labels=True)
