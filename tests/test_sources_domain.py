"""Domain-aware training with extra sources: GBDT source weights / source feature, and extra rows in CV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arenapref.data.folds import grouped_folds
from arenapref.data.readers import read_pairs
from arenapref.data.schema import make_pairs
from arenapref.evaluate.cv import cross_validate
from arenapref.models.gbdt import SOURCE_COLUMN, GBDTModel
from arenapref.models.registry import load_model, save_model

FAST = {"n_estimators": 40, "early_stopping_rounds": 5, "use_tfidf": False, "n_jobs": 1, "seed": 0}


@pytest.fixture(scope="module")
def mixed(small_pairs, shared_data):
    extra = read_pairs(shared_data / "llmbar" / "LLMBar_Natural.json")
    return small_pairs.assign(source="arena"), extra


def test_source_feature_is_set_to_the_target_at_prediction(mixed, tmp_path):
    arena, extra = mixed
    model = GBDTModel(**FAST, source_feature="arena").fit(pd.concat([arena.iloc[:250], extra], ignore_index=True))
    assert SOURCE_COLUMN in model.feature_names_ and model.source_codes_ == {"arena": 0, "llmbar": 1}
    test = arena.iloc[250:]
    p = model.predict_proba(test, swap_tta=True)
    # the source column of the input does not matter: every row is scored as the target domain
    np.testing.assert_array_equal(p, model.predict_proba(test.assign(source="whatever"), swap_tta=True))
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.source_feature == "arena" and loaded.source_codes_ == model.source_codes_
    np.testing.assert_allclose(loaded.predict_proba(test, swap_tta=True), p)


def test_source_weights_change_the_model_and_unknown_target_fails(mixed):
    arena, extra = mixed
    both = pd.concat([arena.iloc[:250], extra], ignore_index=True)
    test = arena.iloc[250:]
    plain = GBDTModel(**FAST).fit(both).predict_proba(test)
    weighted = GBDTModel(**FAST, source_weights={"llmbar": 0.1}).fit(both).predict_proba(test)
    again = GBDTModel(**FAST, source_weights={"llmbar": 0.1}).fit(both).predict_proba(test)
    assert not np.allclose(plain, weighted) and np.array_equal(weighted, again)
    assert GBDTModel(**FAST, source_weights={"llmbar": 0.1}).get_params()["source_weights"] == {"llmbar": 0.1}
    with pytest.raises(ValueError, match="not a source of the training rows"):
        GBDTModel(**FAST, source_feature="kaggle").fit(both)


def test_extra_rows_train_every_fold_but_never_leak_a_validation_prompt():
    prompts = [f"question number {i}" for i in range(40)]
    targets = np.eye(3)[np.arange(40) % 2]           # own rows: A and B only
    pairs = make_pairs(prompts, ["a"] * 40, ["b"] * 40, targets=targets, source="arena")
    # extra: ties, half of them on prompts of the own rows, half on new prompts
    extra_prompts = prompts[:20] + [f"other question {i}" for i in range(20)]
    extra = make_pairs(extra_prompts, ["x"] * 40, ["y"] * 40, targets=np.eye(3)[[2] * 40],
                       ids=[f"e{i}" for i in range(40)], source="extra")
    folds = grouped_folds(pairs, n_folds=4, seed=0)
    cv = cross_validate(pairs, {"type": "prior"}, folds, swap_tta=False, progress=False, extra=extra)
    for k in range(4):
        valid = folds == k
        kept = [p not in set(np.array(prompts)[valid]) for p in extra_prompts]
        n_train, n_extra = int((~valid).sum()), int(sum(kept))
        expected_tie = n_extra / (n_train + n_extra)
        np.testing.assert_allclose(cv.oof[valid][:, 2], expected_tie, rtol=1e-6)
    assert cv.oof[:, 2].min() > 0.3  # the extra ties did reach every fold
