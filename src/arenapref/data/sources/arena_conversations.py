"""``lmsys/chatbot_arena_conversations`` (the 33k crowd votes) in its published schema.

One JSON object per line (JSONL, or the same objects as one JSON list): ``question_id, model_a,
model_b, winner, judge, conversation_a, conversation_b, turn, language, ...``. ``winner`` is
``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``; both ties map to the tie class, as in the
Kaggle 55k set. Conversations are role/content lists holding every turn of the battle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow
from arenapref.data.sources.common import check_keys, collect, json_records, one_hot, unique_id
from arenapref.data.sources.conversation import conversation_pair
from arenapref.data.validation import BadRow, RowError

REQUIRED = ("question_id", "model_a", "model_b", "winner", "conversation_a", "conversation_b")
WINNERS = {"model_a": 0, "model_b": 1, "tie": 2, "tie (bothbad)": 2}


def winner_class(value: Any) -> int:
    key = str(value).strip().lower() if value is not None else ""
    if key not in WINNERS:
        raise RowError("winner", f"unknown winner {value!r}; expected one of {sorted(WINNERS)}")
    return WINNERS[key]


def battle_row(raw: dict[str, Any], row_id: str, *, max_turns: int | None) -> dict[str, Any]:
    """One battle (arena or MT-Bench human judgment schema) as a canonical raw row."""
    cls = winner_class(raw.get("winner"))
    prompt, resp_a, resp_b = conversation_pair(raw.get("conversation_a"), raw.get("conversation_b"),
                                               max_turns=max_turns)
    return {"id": row_id, "model_a": raw.get("model_a"), "model_b": raw.get("model_b"), "prompt": prompt,
            "response_a": resp_a, "response_b": resp_b, **one_hot(cls)}


def read_arena_conversations(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                             source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    seen: dict[str, int] = {}

    def convert(raw: dict[str, Any], line: int) -> dict[str, Any]:
        qid = raw.get("question_id")
        if qid is None or str(qid).strip() == "":
            raise RowError("question_id", "missing")
        return battle_row(raw, unique_id(seen, f"arena33k-{qid}"), max_turns=None)

    records = check_keys(path, json_records(path), REQUIRED, "arena-conversations")
    return collect(path, records, convert, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                   source=source or "arena-conversations")
