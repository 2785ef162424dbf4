"""The canonical pairs table every reader produces and every model consumes.

One row is one vote: a prompt (one or more user turns) and two responses with the same number of
turns. Columns (a pandas DataFrame, one row per pair):

==================  =========  ==========================================================
column              dtype      meaning
==================  =========  ==========================================================
id                  str        unique row id (kept verbatim from the source)
model_a, model_b    str|None   model names where the source has them
prompt              list[str]  user turns
response_a          list[str]  answers of model A, one per prompt turn
response_b          list[str]  answers of model B, one per prompt turn
winner_model_a      float      P(A wins): 1/0 for hard votes, any probability for soft labels,
winner_model_b      float      P(B wins)      NaN on every label column for unlabelled rows
winner_tie          float      P(tie)
source              str        where the row came from (file name or dataset name)
==================  =========  ==========================================================

Class indices follow the column order of :data:`LABEL_COLUMNS`: 0 = A wins, 1 = B wins, 2 = tie.
Every ``predict_proba`` returns an ``(n, 3)`` array in that order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TEXT_COLUMNS: tuple[str, ...] = ("prompt", "response_a", "response_b")
LABEL_COLUMNS: tuple[str, ...] = ("winner_model_a", "winner_model_b", "winner_tie")
CLASS_NAMES: tuple[str, ...] = ("A", "B", "tie")
COLUMNS: tuple[str, ...] = ("id", "model_a", "model_b", *TEXT_COLUMNS, *LABEL_COLUMNS, "source")
A, B, TIE = 0, 1, 2


def empty_pairs() -> pd.DataFrame:
    """An empty canonical table with every column present."""
    return pd.DataFrame({c: pd.Series(dtype=object if c not in LABEL_COLUMNS else float) for c in COLUMNS})


def make_pairs(
    prompts: list[list[str]] | list[str],
    responses_a: list[list[str]] | list[str],
    responses_b: list[list[str]] | list[str],
    *,
    ids: list[str] | None = None,
    targets: np.ndarray | None = None,
    source: str = "inline",
) -> pd.DataFrame:
    """Build a canonical table from Python lists; plain strings count as one-turn conversations."""

    def as_turns(values: list) -> list[list[str]]:
        return [[v] if isinstance(v, str) else [("" if t is None else str(t)) for t in v] for v in values]

    n = len(prompts)
    frame = pd.DataFrame(
        {
            "id": [str(i) for i in (ids if ids is not None else range(n))],
            "model_a": [None] * n,
            "model_b": [None] * n,
            "prompt": as_turns(prompts),
            "response_a": as_turns(responses_a),
            "response_b": as_turns(responses_b),
            "source": [source] * n,
        }
    )
    probs = np.full((n, 3), np.nan) if targets is None else np.asarray(targets, dtype=float).reshape(n, 3)
    for j, col in enumerate(LABEL_COLUMNS):
        frame[col] = probs[:, j]
    return frame[list(COLUMNS)]


def has_labels(pairs: pd.DataFrame) -> np.ndarray:
    """Boolean mask of rows that carry a (hard or soft) label."""
    if not set(LABEL_COLUMNS) <= set(pairs.columns):
        return np.zeros(len(pairs), dtype=bool)
    return ~pairs[list(LABEL_COLUMNS)].isna().any(axis=1).to_numpy()


def targets_of(pairs: pd.DataFrame) -> np.ndarray:
    """The label probabilities as an ``(n, 3)`` float array (rows sum to 1)."""
    return pairs[list(LABEL_COLUMNS)].to_numpy(dtype=float)


def labels_of(pairs: pd.DataFrame) -> np.ndarray:
    """Hard class index per row (argmax of the label probabilities; -1 where unlabelled)."""
    y = np.full(len(pairs), -1, dtype=np.int64)
    mask = has_labels(pairs)
    if mask.any():
        y[mask] = targets_of(pairs.loc[mask]).argmax(axis=1)
    return y


def swap_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The same votes with A and B exchanged (responses, model names and the label columns)."""
    out = pairs.copy()
    out["response_a"], out["response_b"] = pairs["response_b"], pairs["response_a"]
    if "model_a" in pairs and "model_b" in pairs:
        out["model_a"], out["model_b"] = pairs["model_b"], pairs["model_a"]
    if set(LABEL_COLUMNS) <= set(pairs.columns):
        out["winner_model_a"], out["winner_model_b"] = pairs["winner_model_b"], pairs["winner_model_a"]
    return out


def swap_proba(proba: np.ndarray) -> np.ndarray:
    """Exchange the A and B columns of an ``(n, 3)`` probability array."""
    return np.asarray(proba)[:, [B, A, TIE]]


def class_prior(pairs: pd.DataFrame) -> np.ndarray:
    """Mean label probabilities over the labelled rows."""
    mask = has_labels(pairs)
    if not mask.any():
        return np.full(3, 1.0 / 3.0)
    return targets_of(pairs.loc[mask]).mean(axis=0)


# the out-of-fold table of a run (``oof.parquet``): id, fold, the label columns and these predictions
PRED_COLUMNS = ("pred_a", "pred_b", "pred_tie")


def oof_table(ids: pd.Series, folds: np.ndarray, targets: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """The out-of-fold table saved as ``oof.parquet``: one row per training pair."""
    table = pd.DataFrame({"id": ids.astype(str).to_numpy(), "fold": np.asarray(folds, dtype=np.int64)})
    for j, col in enumerate(LABEL_COLUMNS):
        table[col] = targets[:, j]
    for j, col in enumerate(PRED_COLUMNS):
        table[col] = proba[:, j]
    return table
