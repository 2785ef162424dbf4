"""MT-Bench human judgments (``lmsys/mt_bench_human_judgments``), public schema or canonical JSONL.

The public schema has ``question_id, model_a, model_b, winner, judge, conversation_a,
conversation_b, turn``: both conversations hold the two turns of the question, and ``turn`` says which
turn the expert judged, so a turn-1 vote keeps only the first exchange and a turn-2 vote both.
The canonical JSONL in ``shared/data/mt-bench-human`` is read as it is, with ``source`` set to the
domain name (``--from canonical`` keeps its per-row provenance string instead). Several experts often judge the same pair: the rows stay separate
(ids get ``~2``, ``~3`` ...), their disagreement is real signal for the tie class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data.rows import OnBadRow
from arenapref.data.sources.arena_conversations import battle_row
from arenapref.data.sources.common import check_keys, collect, json_records, unique_id
from arenapref.data.validation import BadRow, DataError, RowError

REQUIRED = ("question_id", "model_a", "model_b", "winner", "conversation_a", "conversation_b", "turn")


def _turn(raw: dict[str, Any]) -> int:
    try:
        turn = int(raw.get("turn"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RowError("turn", f"expected 1 or 2, got {raw.get('turn')!r}") from None
    if turn < 1:
        raise RowError("turn", f"expected 1 or 2, got {turn}")
    return turn


def read_mt_bench(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                  source: str | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    records = json_records(path)
    first = next(records, None)
    if first is None:
        raise DataError(path, "empty file: no records")
    if isinstance(first[1], RowError):
        raise DataError(path, str(first[1]), line=first[0])

    def chained():
        yield first
        yield from records

    if {"prompt", "response_a", "response_b"} <= set(first[1]):
        def canonical(raw: dict[str, Any], line: int) -> dict[str, Any]:
            # the domain name replaces the per-row provenance string (read it with --from canonical to keep it)
            return {**raw, "source": source or "mt-bench-human"}

        return collect(path, chained(), canonical, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                       source=source or "mt-bench-human")
    seen: dict[str, int] = {}

    def convert(raw: dict[str, Any], line: int) -> dict[str, Any]:
        turn = _turn(raw)
        base = f"mtb-{raw.get('question_id')}-{raw.get('model_a')}-{raw.get('model_b')}-t{turn}"
        return battle_row(raw, unique_id(seen, base), max_turns=turn)

    return collect(path, check_keys(path, chained(), REQUIRED, "mt-bench"), convert, on_bad_row=on_bad_row,
                   allow_soft_labels=allow_soft_labels, source=source or "mt-bench-human")
