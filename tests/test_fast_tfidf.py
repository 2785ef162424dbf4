"""The polars counting step of the TF-IDF block gives scikit-learn's TfidfVectorizer results exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from test_fast_features import HARD_TEXTS

from arenapref.features import tfidf
from arenapref.features.tfidf import MAX_CHARS, FastTfidfVectorizer, TfidfPairFeatures, _texts

PARAMS = {"max_features": 30000, "ngram_range": (1, 2), "sublinear_tf": True, "min_df": 2, "dtype": np.float32}


def _corpus(pairs: pd.DataFrame) -> list[str]:
    return _texts(pairs["prompt"]) + _texts(pairs["response_a"]) + _texts(pairs["response_b"])


def _same(x, y) -> None:  # noqa: ANN001
    x, y = x.tocsr(), y.tocsr()
    assert x.shape == y.shape and x.dtype == y.dtype
    assert np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices)
    assert np.array_equal(x.data, y.data)


@pytest.mark.parametrize("max_features", [30000, 500])  # 500: the max_features cut with its ties
def test_fit_and_transform_equal_scikit_learn(arena_pairs: pd.DataFrame, max_features: int) -> None:
    train, test = arena_pairs.iloc[:800], arena_pairs.iloc[800:]
    corpus = _corpus(train) + HARD_TEXTS * 2  # twice: min_df=2 keeps their terms
    params = {**PARAMS, "max_features": max_features}
    slow, fast = TfidfVectorizer(**params).fit(corpus), FastTfidfVectorizer(**params).fit(corpus)
    assert fast.vocabulary_ == slow.vocabulary_
    assert fast.idf_.dtype == slow.idf_.dtype and np.array_equal(fast.idf_, slow.idf_)
    held_out = _corpus(test) + HARD_TEXTS + ["", "   ", "a"]
    _same(fast.transform(held_out), slow.transform(held_out))


def test_other_analyzers_fall_back_to_scikit_learn() -> None:
    docs = ["Hello World", "hello there world", "world"]
    fast = FastTfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit(docs)
    slow = TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit(docs)
    assert fast.vocabulary_ == slow.vocabulary_


def test_state_round_trip_is_exact(arena_pairs: pd.DataFrame) -> None:
    block = TfidfPairFeatures(max_features=3000, svd_components=4).fit(arena_pairs.iloc[:400])
    meta, arrays = block.to_state()
    again = TfidfPairFeatures.from_state(meta, arrays)
    test = arena_pairs.iloc[400:500]
    pd.testing.assert_frame_equal(again.transform(test), block.transform(test), check_exact=True)
    assert MAX_CHARS == 5000


@pytest.mark.parametrize("lookup", ["points", "search", "join"])
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 2), (1, 3)])
def test_coded_transform_equals_scikit_learn_for_every_ngram_range(arena_pairs: pd.DataFrame,
                                                                   ngram_range: tuple[int, int], lookup: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The transform path counts n-grams as integer codes; every order, with out-of-vocabulary tokens
    between known ones, empty and one-token documents, and batches of one document; with the binary
    search of small batches and with the hash join of large ones, whatever the batch's size, and with
    the tokens read from code points (small batches) instead of by polars."""
    monkeypatch.setattr(tfidf, "_SEARCH_MAX_TOKENS", 10**9 if lookup == "search" else -1)
    monkeypatch.setattr(tfidf, "_POINTS_MAX_CHARS", 10**12 if lookup == "points" else -1)
    corpus = _corpus(arena_pairs.iloc[:300]) + HARD_TEXTS * 2
    params = {**PARAMS, "ngram_range": ngram_range, "max_features": 4000}
    slow, fast = TfidfVectorizer(**params).fit(corpus), FastTfidfVectorizer(**params).fit(corpus)
    assert fast.vocabulary_ == slow.vocabulary_
    held_out = _corpus(arena_pairs.iloc[300:420]) + HARD_TEXTS + ["", "a", "the", "zzqx the zzqx of the"]
    assert fast._coded_vocab() is not None  # the coded path is the one under test
    _same(fast.transform(held_out), slow.transform(held_out))
    _same(fast.weighted(held_out), slow.transform(held_out))  # the weighting steps called directly
    for doc in held_out[:5] + held_out[-4:]:
        _same(fast.transform([doc]), slow.transform([doc]))
        _same(fast.weighted([doc]), slow.transform([doc]))


def test_small_batch_cosines_equal_scipy(arena_pairs: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to ``_SMALL_PAIRS`` pairs the cosines come from the raw CSR arrays instead of scipy's
    ``multiply(...).sum(axis=1)``: the same floats, for whole batches and for single pairs."""
    block = TfidfPairFeatures(max_features=3000, svd_components=4).fit(arena_pairs.iloc[:400])
    rows = pd.concat([arena_pairs.iloc[400:520], pd.DataFrame({
        "prompt": [[HARD_TEXTS[0]], [""], ["same words"]], "response_a": [[HARD_TEXTS[1]], [""], ["same words"]],
        "response_b": [[""], ["x"], ["Same Words"]]})], ignore_index=True)
    outputs = {}
    for path, limit in (("arrays", 10**9), ("scipy", -1)):
        monkeypatch.setattr(tfidf, "_SMALL_PAIRS", limit)
        outputs[path] = (block.transform(rows), [block.transform(rows.iloc[[i]]) for i in range(0, len(rows), 17)])
    pd.testing.assert_frame_equal(outputs["arrays"][0], outputs["scipy"][0], check_exact=True)
    for one, other in zip(outputs["arrays"][1], outputs["scipy"][1]):
        pd.testing.assert_frame_equal(one, other, check_exact=True)
    assert (outputs["arrays"][0]["tfidf_cos_ab"] > 0).any()


def test_fit_transform_is_fit_then_transform(arena_pairs: pd.DataFrame) -> None:
    """TfidfPairFeatures.fit takes the SVD's input from fit_transform instead of a second transform."""
    corpus = _corpus(arena_pairs.iloc[:500]) + HARD_TEXTS * 2
    for max_features in (30000, 500):
        params = {**PARAMS, "max_features": max_features}
        together = FastTfidfVectorizer(**params).fit_transform(corpus)
        _same(together, FastTfidfVectorizer(**params).fit(corpus).transform(corpus))


def test_code_point_tokens_never_take_a_colliding_token_for_a_vocabulary_one() -> None:
    """Polynomial hashes modulo 2**64 collide for Thue-Morse strings of 2,048 chars: a token with the
    hash of a vocabulary token but other chars is not counted as it, and a vocabulary with two tokens
    of one hash is left to the polars path."""
    from arenapref.features.codepoints import run_hashes, utf32
    from arenapref.features.tfidf import SpeltVocab

    thue_morse = "".join("ab"[bin(i).count("1") % 2] for i in range(2048))
    other = thue_morse.translate(str.maketrans("ab", "ba"))
    points, starts = utf32([thue_morse, other])
    hashes = run_hashes(points, starts, starts + 2048)
    assert hashes[0] == hashes[1]  # the collision is real
    spelt = SpeltVocab.of(["hello", thue_morse])
    assert spelt is not None
    doc, tid = spelt.token_ids([f"hello {other} {thue_morse} hello"])
    assert doc.tolist() == [0, 0, 0, 0] and tid.tolist() == [0, -1, 1, 0]
    assert SpeltVocab.of([thue_morse, other]) is None
