"""Feature frames of the A/B-swapped pairs, derived from the original frame by column convention.

Naming convention every pair-feature block follows (so that swapping never needs a second pass over
the text):

* ``*_a`` / ``*_b``: per-side values, exchanged by a swap
* ``*_diff`` or ``*_diff_<j>`` and ``*_rel``: antisymmetric (A minus B), negated by a swap
* anything else (``prompt_*``, ``*_ab``, ``turns``, ``identical``, ...): symmetric, unchanged

Negation and exchange are exact in floating point, so ``swap_feature_frame(features(x))`` equals
``features(swap(x))`` bit for bit when every block follows the convention; models check that on a
sample at fit time (``check_swap_convention``) and fall back to recomputing features otherwise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

_ANTISYMMETRIC = re.compile(r"(_diff(_\d+)?|_rel)$")


@functools.cache
def swap_permutation(columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The swap as column arithmetic: ``swapped[:, j] = sign[j] * frame[:, source[j]]`` (cached per columns;
    do not modify the arrays)."""
    index = {col: j for j, col in enumerate(columns)}
    source = np.arange(len(columns))
    sign = np.ones(len(columns))
    for j, col in enumerate(columns):
        stem = col[:-2]
        if col.endswith("_a") and f"{stem}_b" in index:
            source[j] = index[f"{stem}_b"]
        elif col.endswith("_b") and f"{stem}_a" in index:
            source[j] = index[f"{stem}_a"]
        elif _ANTISYMMETRIC.search(col):
            sign[j] = -1.0
    return source, sign


def swap_matrix(x: np.ndarray, columns: Sequence[str]) -> np.ndarray:
    """:func:`swap_feature_frame` on a float matrix whose columns are ``columns`` (exact: an exchange and a
    negation)."""
    source, sign = swap_permutation(tuple(columns))
    return x[:, source] * sign


def swap_feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    source, sign = swap_permutation(tuple(frame.columns))
    swapped = {}
    for j, col in enumerate(frame.columns):
        column = frame.iloc[:, source[j]]
        swapped[col] = -column if sign[j] < 0 else column
    return pd.DataFrame(swapped, index=frame.index)


def check_swap_convention(direct: pd.DataFrame, of_swapped: pd.DataFrame) -> list[str]:
    """Columns where deriving the swapped frame by convention disagrees with computing it."""
    derived = swap_feature_frame(direct)
    bad = []
    for col in direct.columns:
        a, b = derived[col].to_numpy(), of_swapped[col].to_numpy()
        if not np.array_equal(a, b, equal_nan=True):
            bad.append(col)
    return bad
