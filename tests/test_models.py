"""The model interface: swap symmetry, save/load identity, soft labels, learning something real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenapref.data.folds import grouped_folds
from arenapref.data.schema import make_pairs, swap_pairs, swap_proba, targets_of
from arenapref.metrics import log_loss
from arenapref.models.base import soft_label_rows
from arenapref.models.registry import build_model, load_model, save_model

FAST_GBDT = {"type": "gbdt", "params": {"n_estimators": 60, "early_stopping_rounds": 20, "n_jobs": 1,
                                        "tfidf": {"max_features": 3000, "svd_components": 4}}}
SPECS = {"prior": {"type": "prior"}, "length": {"type": "length"}, "gbdt": FAST_GBDT}


@pytest.fixture(scope="module")
def fitted(small_pairs: pd.DataFrame) -> dict:
    train = small_pairs.iloc[:240]
    return {name: build_model(spec).fit(train) for name, spec in SPECS.items()}


@pytest.mark.parametrize("name", list(SPECS))
def test_predict_proba_shape_and_range(fitted: dict, small_pairs: pd.DataFrame, name: str) -> None:
    proba = fitted[name].predict_proba(small_pairs.iloc[240:], swap_tta=False)
    assert proba.shape == (60, 3)
    assert np.all(proba > 0) and np.all(proba < 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("name", list(SPECS))
def test_swap_tta_is_exactly_symmetric(fitted: dict, small_pairs: pd.DataFrame, name: str) -> None:
    test = small_pairs.iloc[240:]
    direct = fitted[name].predict_proba(test, swap_tta=True)
    swapped = fitted[name].predict_proba(swap_pairs(test), swap_tta=True)
    assert np.array_equal(swapped, swap_proba(direct))


def test_without_tta_the_gbdt_is_not_trivially_symmetric(fitted: dict, small_pairs: pd.DataFrame) -> None:
    test = small_pairs.iloc[240:]
    direct = fitted["gbdt"].predict_proba(test)
    swapped = fitted["gbdt"].predict_proba(swap_pairs(test))
    assert not np.array_equal(swapped, swap_proba(direct))  # so the TTA test above tests something


@pytest.mark.parametrize("name", list(SPECS))
def test_save_load_identity(fitted: dict, small_pairs: pd.DataFrame, tmp_path: Path, name: str) -> None:
    save_model(fitted[name], tmp_path / name)
    loaded = load_model(tmp_path / name)
    test = small_pairs.iloc[240:]
    for tta in (False, True):
        assert np.array_equal(loaded.predict_proba(test, swap_tta=tta), fitted[name].predict_proba(test, swap_tta=tta))


def test_soft_label_rows() -> None:
    rows, cls, w = soft_label_rows(np.array([[1.0, 0, 0], [0.2, 0.3, 0.5], [0, 0, 1.0]]))
    assert list(zip(rows.tolist(), cls.tolist())) == [(0, 0), (2, 2), (1, 0), (1, 1), (1, 2)]
    np.testing.assert_allclose(w, [1, 1, 0.2, 0.3, 0.5])


def test_gbdt_trains_on_soft_labels(small_pairs: pd.DataFrame) -> None:
    t = targets_of(small_pairs)
    soft = 0.7 * t + 0.1  # label smoothing: every row soft
    pairs = small_pairs.copy()
    pairs[["winner_model_a", "winner_model_b", "winner_tie"]] = soft
    model = build_model(FAST_GBDT).fit(pairs)
    assert model.predict_proba(pairs.iloc[:5]).shape == (5, 3)


def test_gbdt_learns_a_length_signal() -> None:
    """On synthetic pairs where the longer answer wins, CV log loss must beat the prior clearly."""
    rng = np.random.default_rng(0)
    n = 400
    la, lb = rng.integers(1, 60, n), rng.integers(1, 60, n)
    targets = np.zeros((n, 3))
    targets[np.arange(n), np.where(la > lb, 0, np.where(lb > la, 1, 2))] = 1
    pairs = make_pairs([f"question {i}" for i in range(n)], ["word " * k for k in la], ["word " * k for k in lb],
                       targets=targets)
    folds = grouped_folds(pairs, n_folds=3, seed=0)
    valid = folds == 0
    model = build_model(FAST_GBDT).fit(pairs.loc[~valid])
    loss = log_loss(targets[valid], model.predict_proba(pairs.loc[valid], swap_tta=True))
    assert loss < 0.3


def test_unknown_model_type() -> None:
    with pytest.raises(ValueError, match="unknown model type"):
        build_model({"type": "nope"})
    with pytest.raises(ValueError, match="bad params"):
        build_model({"type": "prior", "params": {"bogus": 1}})


def test_swapped_features_derive_exactly_from_the_direct_ones(arena_pairs: pd.DataFrame) -> None:
    """The GBDT derives swapped features by column convention; on real rows that must equal recomputing."""
    from arenapref.features.handmade import pair_features
    from arenapref.features.swap import check_swap_convention
    from arenapref.features.tfidf import TfidfPairFeatures

    sample = arena_pairs.iloc[::4]
    tfidf = TfidfPairFeatures(max_features=5000, svd_components=8).fit(sample)

    def features(p: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([pair_features(p), tfidf.transform(p)], axis=1)

    assert check_swap_convention(features(sample), features(swap_pairs(sample))) == []
    broken = features(sample).assign(extra_a=1.0, extra_b=np.arange(len(sample)), lopsided=np.arange(len(sample)))
    broken_swapped = features(swap_pairs(sample)).assign(extra_a=np.arange(len(sample)), extra_b=1.0,
                                                         lopsided=-np.arange(len(sample)))
    assert check_swap_convention(broken, broken_swapped) == ["lopsided"]


def test_column_wise_histograms_grow_the_same_trees(arena_pairs: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """GBDTModel asks LightGBM for column-wise histograms because they are faster here; they must not
    change the model (a LightGBM upgrade that broke this would change every run's predictions)."""
    from arenapref.models import gbdt

    spec = {"type": "gbdt", "params": {"n_estimators": 60, "early_stopping_rounds": 10,
                                       "tfidf": {"max_features": 2000, "svd_components": 4}}}
    rows = arena_pairs.iloc[:400]
    col_wise = build_model(spec).fit(rows)
    params = gbdt.GBDTModel._params
    monkeypatch.setattr(gbdt.GBDTModel, "_params", lambda self: {
        **{k: v for k, v in params(self).items() if k != "force_col_wise"}, "force_row_wise": True})
    row_wise = build_model(spec).fit(rows)
    dumps = [m.booster_.model_to_string() for m in (col_wise, row_wise)]
    assert "[force_col_wise: 1]" in dumps[0] and "[force_row_wise: 1]" in dumps[1]  # both modes really ran
    assert dumps[0].split("parameters:")[0] == dumps[1].split("parameters:")[0]
