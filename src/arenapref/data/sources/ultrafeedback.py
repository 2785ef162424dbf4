"""UltraFeedback-style rated completions (``openbmb/UltraFeedback`` schema) into pairs.

A record: ``instruction`` and ``completions``, a list of ``{model, response, annotations,
fine-grained_score, overall_score, ...}``. Every two rated completions of a prompt make a pair; the
higher rating wins, equal ratings are a tie. The rating is ``fine-grained_score`` (the mean of the
aspect ratings), else the mean of the numeric ``annotations[*].Rating``, else ``overall_score``
(``rating=`` picks one explicitly). Sides are assigned by a seeded coin per pair.
"""

from __future__ import annotations

import math
from itertools import combinations
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
    require,
)
from arenapref.data.validation import BadRow, RowError

REQUIRED = ("instruction", "completions")
RATINGS = ("fine-grained_score", "annotations", "overall_score")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None  # "N/A" ratings exist upstream
    return number if math.isfinite(number) else None


def completion_rating(completion: dict[str, Any], rating: str | None = None) -> float | None:
    """The rating of one completion (``None`` when it has none)."""
    for key in ([rating] if rating else RATINGS):
        if key == "annotations":
            aspects = completion.get("annotations")
            if isinstance(aspects, dict):
                numbers = (_number(a.get("Rating")) for a in aspects.values() if isinstance(a, dict))
                values = [v for v in numbers if v is not None]
                if values:
                    return sum(values) / len(values)
        else:
            value = _number(completion.get(key))
            if value is not None:
                return value
    return None


def read_ultrafeedback(path: Path, *, on_bad_row: OnBadRow = "error", allow_soft_labels: bool = False,
                       source: str | None = None, seed: int = DEFAULT_SEED, rating: str | None = None
                       ) -> tuple[pd.DataFrame, list[BadRow]]:
    if rating is not None and rating not in RATINGS:
        raise ValueError(f"unknown rating {rating!r}; one of {list(RATINGS)}")

    def convert(raw: dict[str, Any], line: int) -> list[dict[str, Any]]:
        instruction = require(raw, "instruction")
        completions = require(raw, "completions", list)
        rated = []
        for i, comp in enumerate(completions):
            if not isinstance(comp, dict):
                raise RowError("completions", f"completion {i} is {type(comp).__name__}, expected an object")
            score = completion_rating(comp, rating)
            if score is not None and isinstance(comp.get("response"), str):
                rated.append((i, comp, score))
        if len(rated) < 2:
            raise RowError("completions", f"{len(rated)} rated completion(s); a pair needs two")
        key = raw.get("id", raw.get("prompt_id"))
        key = str(key) if key not in (None, "") else str(line)
        rows = []
        for (i, ci, si), (j, cj, sj) in combinations(rated, 2):
            row_id = f"uf-{key}-{i}-{j}"
            first, second, s1, s2 = (ci, cj, si, sj) if coin(seed, row_id) else (cj, ci, sj, si)
            cls = 2 if s1 == s2 else (0 if s1 > s2 else 1)
            rows.append({"id": row_id, "model_a": first.get("model"), "model_b": second.get("model"),
                         "prompt": [instruction], "response_a": [first["response"]],
                         "response_b": [second["response"]], **one_hot(cls)})
        return rows

    records = check_keys(path, json_records(path), REQUIRED, "ultrafeedback")
    return collect(path, records, convert, on_bad_row=on_bad_row, allow_soft_labels=allow_soft_labels,
                   source=source or "ultrafeedback")
