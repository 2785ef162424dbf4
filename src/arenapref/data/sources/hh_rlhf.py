"""Anthropic HH-RLHF (``{chosen, rejected}`` transcripts; JSONL, often gzipped).

Both transcripts share the conversation and differ in the last assistant turn. The shared part becomes
the prompt turns (and the earlier assistant turns, identical on both sides); the two final answers
become A and B, sides assigned by a seeded coin per row so that "chosen" is not always A. Two classes,
no ties.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow
from arenapref.data.sources.common import DEFAULT_SEED, check_keys, coin, collect, json_records, one_hot
from arenapref.data.sources.conversation import transcript_messages, turns_of
from arenapref.data.validation import BadRow, RowError

REQUIRED = ("chosen", "rejected")


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def split_transcripts(chosen: Any, rejected: Any) -> tuple[list[str], list[str], list[str]]:
    """(prompt turns, answers ending in the chosen reply, answers ending in the rejected reply)."""
    msgs_c = transcript_messages(chosen, "chosen")
    msgs_r = transcript_messages(rejected, "rejected")
    for field, msgs in (("chosen", msgs_c), ("rejected", msgs_r)):
        if msgs[-1][0] != "assistant":
            raise RowError(field, "the transcript does not end with an Assistant turn")
    if msgs_c[:-1] != msgs_r[:-1]:
        raise RowError("rejected", "the transcripts differ before their last Assistant turn")
    prompt, answers_c = turns_of(msgs_c, "chosen")
    _, answers_r = turns_of(msgs_r, "rejected")
    return prompt, answers_c, answers_r


def read_hh_rlhf(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                 source: str | None = None, seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, list[BadRow]]:
    stem = _stem(path)

    def convert(raw: dict[str, Any], line: int) -> dict[str, Any]:
        prompt, answers_c, answers_r = split_transcripts(raw.get("chosen"), raw.get("rejected"))
        row_id = f"hh-{stem}-{line}"
        chosen_is_a = coin(seed, row_id)
        resp_a, resp_b = (answers_c, answers_r) if chosen_is_a else (answers_r, answers_c)
        return {"id": row_id, "prompt": prompt, "response_a": resp_a, "response_b": resp_b,
                **one_hot(0 if chosen_is_a else 1)}

    records = check_keys(path, json_records(path), REQUIRED, "hh-rlhf")
    return collect(path, records, convert, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                   source=source or "hh-rlhf")
