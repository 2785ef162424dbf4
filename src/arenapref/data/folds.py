"""Grouped, stratified K-fold: the same prompt never sits in both train and validation."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from arenapref.data.schema import labels_of

_SPACE = re.compile(r"\s+")


def normalise_prompt(turns: list[str]) -> str:
    """Prompt text for grouping: NFKC, case-folded, whitespace collapsed, turns joined."""
    text = "\n".join(turns)
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def prompt_groups(pairs: pd.DataFrame) -> np.ndarray:
    """A stable integer group per distinct normalised prompt (hash-based, so it does not depend on order)."""
    keys = [hashlib.blake2b(normalise_prompt(p).encode("utf-8"), digest_size=8).hexdigest()
            for p in pairs["prompt"]]
    return pd.factorize(pd.Series(keys), sort=True)[0]


def grouped_folds(pairs: pd.DataFrame, n_folds: int = 5, seed: int = 42) -> np.ndarray:
    """Fold index (0..n_folds-1) per row; stratified by label, grouped by prompt, deterministic in ``seed``."""
    if n_folds < 2:
        raise ValueError("n_folds must be at least 2")
    groups = prompt_groups(pairs)
    if len(np.unique(groups)) < n_folds:
        raise ValueError(f"only {len(np.unique(groups))} distinct prompts; cannot make {n_folds} folds")
    y = labels_of(pairs)
    y = np.where(y < 0, 0, y)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = np.full(len(pairs), -1, dtype=np.int64)
    for k, (_, valid) in enumerate(splitter.split(np.zeros(len(pairs)), y, groups)):
        folds[valid] = k
    return folds
