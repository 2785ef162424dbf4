"""The vectorised hand-made features equal the previous per-text Python ``re`` implementation exactly.

The reference (tests/support/handmade_reference.py) is the implementation that trained every earlier
model; compared on every real arena row and on texts chosen where Rust regex and Python ``re`` differ.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenapref.features import handmade

_SPEC = importlib.util.spec_from_file_location("handmade_reference",
                                               Path(__file__).parent / "support" / "handmade_reference.py")
reference = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(reference)

# texts where the two regex engines disagree unless the fast path spells Python's classes out
HARD_TEXTS = [
    "Привет, мир! Это тест. Как дела?\n\n- пункт один\n- пункт два",
    "你好，世界！这是一个测试。你好吗？\n\n1. 第一\n2. 第二",
    "こんにちは。カタカナとひらがな！한국어 문장입니다.",
    "مرحبا بالعالم! هذا اختبار. كيف حالك؟",
    "नमस्ते दुनिया। यह एक परीक्षण है।",  # combining marks: \w in Rust, not in Python
    "x² + y³ = ½ and ①②, under‿tie, ＿wide",  # No numbers and Pc: Python \w differs from Rust's
    "ı'm sorry, İ cannot; ſorry; KEEP IN MIND the K sign, AS AN AI",  # IGNORECASE equivalences
    "However however, howevers however. ²however ‿however it depends.it depends",
    "`a` `b` ``c`` `d``e` `f\ng` `` ` ``x`y`z`",
    "`start` and end `x`", "`x`` y` `a``b` ```c``` `q`", "x²sorry ‿sorry ·sorry नsorry 5sorry _sorry",
    "line\x1c\nline\x1c\n\x1f\nline \x85\n\xa0line\u3000",  # Python strips \x1c-\x1f, \x85; Rust does not
    "ΟΔΟΣ ΟΔΟΣ οδος Straße STRASSE ǅ ǆ",  # final sigma, ß, title case in lower-casing
    "İstanbul istanbul İSTANBUL i̇stanbul ΣΑΣ σας σασ Σ ΑΣ ας ΣΣ ΑΣ_Β",  # two-char lower case, sigma forms
    "# Title\n  ## Sub\n| a | b |\n|---|---|\n**bold** __u__ $x$ \\frac{1}{2} https://x www.Y HTTP://z",
    "Done!\nEnd?\n", "trailing!", "...\n\n\n  \n", " \t ", "",
    "emoji 😀🙂 ☀ ✂ and mixed 😀x",
    "lone \ud83d surrogate \udc00",
    "1) one\n2. two\n\u0663. arabic-indic digit\n\uff11. fullwidth one",
]


def _frame(triples: list[tuple[list[str], list[str], list[str]]]) -> pd.DataFrame:
    return pd.DataFrame({"prompt": [t[0] for t in triples], "response_a": [t[1] for t in triples],
                         "response_b": [t[2] for t in triples]})


def _assert_same(pairs: pd.DataFrame) -> None:
    reference.clear_cache()
    handmade.clear_cache()
    old = reference.pair_features(pairs)
    new = handmade.pair_features(pairs)
    assert list(new.columns) == list(old.columns)
    assert (new.dtypes == old.dtypes).all()
    for col in old.columns:
        same = np.array_equal(old[col].to_numpy(), new[col].to_numpy())
        if not same:
            bad = np.flatnonzero(old[col].to_numpy() != new[col].to_numpy())[:3]
            raise AssertionError(f"{col}: rows {bad.tolist()} old {old[col].to_numpy()[bad]} new {new[col].to_numpy()[bad]}")


@pytest.fixture(params=["small", "large"], autouse=True)
def batch_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both paths: a small batch's words from code points and word sets as sorted
    arrays, a large batch's by polars (each is chosen by size; here forced)."""
    limit = 10 ** 12 if request.param == "small" else 0
    monkeypatch.setattr(handmade, "_SMALL_CHARS", limit)
    monkeypatch.setattr(handmade, "_SMALL_WORDS", limit)
    return str(request.param)


def test_equal_on_every_real_arena_row(arena_pairs: pd.DataFrame) -> None:
    assert (arena_pairs["prompt"].map(len) > 1).sum() > 100  # multi-turn rows are in there
    _assert_same(arena_pairs)


def test_equal_on_hard_texts() -> None:
    n = len(HARD_TEXTS)
    triples = [([HARD_TEXTS[i]], [HARD_TEXTS[(i + 1) % n]], [HARD_TEXTS[(i + 5) % n]]) for i in range(n)]
    triples += [(["q", "q2"], ["", ""], [" ", "x"]), ([""], [""], [""]), (["p"], ["same"], ["same"]),
                ([HARD_TEXTS[0], HARD_TEXTS[1]], [HARD_TEXTS[2], ""], [HARD_TEXTS[3], HARD_TEXTS[4]])]
    _assert_same(_frame(triples))


def test_equal_on_a_5mb_answer(arena_pairs: pd.DataFrame) -> None:
    parts, size, k = [], 0, 0
    texts = [t for turns in arena_pairs["response_a"] for t in turns]
    while size < 5_000_000:
        parts.append(f"{texts[k % len(texts)]} [{k}]")
        size += len(parts[-1]) + 2
        k += 1
    huge = "\n\n".join(parts)
    row = arena_pairs.iloc[0]
    _assert_same(_frame([(row["prompt"], [huge], row["response_b"]), (row["prompt"], row["response_a"], [huge])]))


def test_cache_gives_the_same_rows(arena_pairs: pd.DataFrame) -> None:
    handmade.clear_cache()
    part = arena_pairs.iloc[:50]
    first = handmade.pair_features(part)
    again = handmade.pair_features(arena_pairs.iloc[:80]).iloc[:50]  # 50 rows from the cache, 30 fresh
    pd.testing.assert_frame_equal(first, again)


@pytest.mark.parametrize("text", ["plain", "", "ı'm sorry"])
def test_text_features_one_side(text: str) -> None:
    assert np.array_equal(handmade.text_features([text]), reference.text_features([text]))


def test_chunked_passes_give_the_same_features(arena_pairs: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hand-made features and TF-IDF run in chunks on large inputs; chunk edges must not show."""
    from arenapref.features.tfidf import FastTfidfVectorizer, TfidfPairFeatures

    rows = arena_pairs.iloc[:300]
    block = TfidfPairFeatures(max_features=3000, svd_components=4).fit(arena_pairs.iloc[300:700])
    handmade.clear_cache()
    whole_hand, whole_tfidf = handmade.pair_features(rows), block.transform(rows)
    monkeypatch.setattr(handmade, "_CHUNK_PAIRS", 7)
    monkeypatch.setattr(TfidfPairFeatures, "_CHUNK_PAIRS", 11)
    monkeypatch.setattr(FastTfidfVectorizer, "_CHUNK_DOCS", 13)
    handmade.clear_cache()
    pd.testing.assert_frame_equal(handmade.pair_features(rows), whole_hand, check_exact=True)
    pd.testing.assert_frame_equal(block.transform(rows), whole_tfidf, check_exact=True)
    refit = TfidfPairFeatures(max_features=3000, svd_components=4).fit(arena_pairs.iloc[300:700])
    assert refit.vectorizer_.vocabulary_ == block.vectorizer_.vocabulary_
    np.testing.assert_array_equal(refit.vectorizer_.idf_, block.vectorizer_.idf_)


def test_words_of_one_hash_are_told_apart() -> None:
    """Polynomial hashes modulo 2**64 collide for Thue-Morse strings of 2,048 chars: the code-point
    words then give way to polars, so the two words still count as two."""
    thue_morse = "".join("ab"[bin(i).count("1") % 2] for i in range(2048))
    other = thue_morse.translate(str.maketrans("ab", "ba"))
    assert handmade._code_point_words([f"{thue_morse} {other}"]) is None
    words, sets = handmade._word_table([f"{thue_morse} {other}", "ΑΣ ας Ας"])
    assert handmade._word_stats(words, 2, sets)["unique_words"].tolist() == [2, 1]
