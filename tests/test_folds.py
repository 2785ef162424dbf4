"""Grouped, stratified, deterministic folds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from arenapref.data.folds import grouped_folds, normalise_prompt, prompt_groups
from arenapref.data.schema import labels_of


def test_no_prompt_group_in_two_folds(arena_pairs: pd.DataFrame) -> None:
    folds = grouped_folds(arena_pairs, n_folds=5, seed=7)
    assert set(folds) == {0, 1, 2, 3, 4}
    groups = prompt_groups(arena_pairs)
    per_group = pd.Series(folds).groupby(groups).nunique()
    assert (per_group == 1).all()
    # the real data has repeated prompts, so the grouping is actually exercised
    assert (pd.Series(groups).value_counts() > 1).any()


def test_repeated_prompt_variants_share_a_group() -> None:
    assert normalise_prompt(["Hello   World\n"]) == normalise_prompt(["hello world"])
    assert normalise_prompt(["ｈｅｌｌｏ"]) == normalise_prompt(["hello"])  # NFKC


def test_folds_are_deterministic_and_stratified(arena_pairs: pd.DataFrame) -> None:
    a = grouped_folds(arena_pairs, n_folds=5, seed=1)
    b = grouped_folds(arena_pairs.copy(), n_folds=5, seed=1)
    c = grouped_folds(arena_pairs, n_folds=5, seed=2)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    y = labels_of(arena_pairs)
    overall = np.bincount(y, minlength=3) / len(y)
    for k in range(5):
        share = np.bincount(y[a == k], minlength=3) / (a == k).sum()
        assert np.abs(share - overall).max() < 0.06
