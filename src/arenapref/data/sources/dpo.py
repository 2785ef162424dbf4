"""Generic preference JSONL in the DPO layout: ``prompt, chosen, rejected`` (TRL, UltraFeedback-binarized ...).

``chosen`` / ``rejected`` are either answer strings (with ``prompt`` a string) or role/content message
lists; a list that starts with a user message is the whole conversation (the prompt turns are read from
it), one that holds only the answer uses ``prompt``. Optional keys: ``id`` or ``prompt_id``,
``chosen_model`` / ``rejected_model``, ``score_chosen`` / ``score_rejected`` (equal scores make a tie).
Sides are assigned by a seeded coin per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow
from arenapref.data.sources.common import (
    DEFAULT_SEED,
    check_keys,
    coin,
    collect,
    json_records,
    one_hot,
    unique_id,
)
from arenapref.data.sources.conversation import messages_of, turns_of
from arenapref.data.validation import BadRow, RowError

REQUIRED = ("chosen", "rejected")


def _prompt_turns(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for role, text in messages_of(value, "prompt") if role == "user"]
    raise RowError("prompt", f"expected a string or a message list, got {type(value).__name__}")


def _side(value: Any, field: str, prompt: Any) -> tuple[list[str], list[str]]:
    """(prompt turns, answers) of one side."""
    if isinstance(value, str):
        if prompt is None:
            raise RowError("prompt", f"missing ({field} is a plain answer string)")
        turns = _prompt_turns(prompt)
        if len(turns) != 1:
            raise RowError(field, f"a plain answer string, but the prompt has {len(turns)} user turns")
        return turns, [value]
    messages = messages_of(value, field)
    if messages[0][0] == "user":
        return turns_of(messages, field)
    if prompt is None:
        raise RowError("prompt", f"missing ({field} holds only the answer)")
    turns = _prompt_turns(prompt)
    answers = [text for role, text in messages if role == "assistant"]
    if len(turns) != 1 or len(answers) != 1:
        raise RowError(field, f"{len(turns)} prompt turns for {len(answers)} answers")
    return turns, answers


def _score(raw: dict[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RowError(key, f"not a number: {value!r}") from None


def read_dpo(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
             source: str | None = None, seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, list[BadRow]]:
    seen: dict[str, int] = {}

    def convert(raw: dict[str, Any], line: int) -> dict[str, Any]:
        prompt_c, answers_c = _side(raw.get("chosen"), "chosen", raw.get("prompt"))
        prompt_r, answers_r = _side(raw.get("rejected"), "rejected", raw.get("prompt"))
        if [p.strip() for p in prompt_c] != [p.strip() for p in prompt_r]:
            raise RowError("rejected", "its prompt turns differ from those of chosen")
        key = raw.get("id", raw.get("prompt_id"))
        row_id = unique_id(seen, f"dpo-{key}" if key not in (None, "") else f"dpo-{line}")
        chosen_is_a = coin(seed, row_id)
        score_c, score_r = _score(raw, "score_chosen"), _score(raw, "score_rejected")
        tie = score_c is not None and score_r is not None and score_c == score_r
        cls = 2 if tie else (0 if chosen_is_a else 1)
        models = (raw.get("chosen_model"), raw.get("rejected_model"))
        side_a, side_b = (0, 1) if chosen_is_a else (1, 0)
        answers = (answers_c, answers_r)
        return {"id": row_id, "model_a": models[side_a], "model_b": models[side_b], "prompt": prompt_c,
                "response_a": answers[side_a], "response_b": answers[side_b], **one_hot(cls)}

    records = check_keys(path, json_records(path), REQUIRED, "dpo")
    return collect(path, records, convert, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                   source=source or "dpo")
