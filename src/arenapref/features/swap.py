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

import re

import numpy as np
import pandas as pd

_ANTISYMMETRIC = re.compile(r"(_diff(_\d+)?|_rel)$")


def swap_feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    columns = set(frame.columns)
    for col in frame.columns:
        if col.endswith("_a") and f"{col[:-2]}_b" in columns:
            out[col] = frame[f"{col[:-2]}_b"]
            out[f"{col[:-2]}_b"] = frame[col]
        elif _ANTISYMMETRIC.search(col):
            out[col] = -frame[col]
    return out


def check_swap_convention(direct: pd.DataFrame, of_swapped: pd.DataFrame) -> list[str]:
    """Columns where deriving the swapped frame by convention disagrees with computing it."""
    derived = swap_feature_frame(direct)
    bad = []
    for col in direct.columns:
        a, b = derived[col].to_numpy(), of_swapped[col].to_numpy()
        if not np.array_equal(a, b, equal_nan=True):
            bad.append(col)
    return bad
