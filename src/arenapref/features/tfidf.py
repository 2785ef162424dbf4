"""TF-IDF features of a pair: similarity of each response to the prompt and to each other, and an
SVD projection of the difference between the two responses' TF-IDF vectors.

Fitted on training rows only (inside each CV fold), so validation text never shapes the vocabulary.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from arenapref.features.handmade import join_turns, string_series, word_class
from arenapref.timing import stage

MAX_CHARS = 5000  # the head of very long answers carries the style signal; the rest costs time


def _texts(turns_column: pd.Series) -> list[str]:
    return [join_turns(t)[:MAX_CHARS] for t in turns_column]


class FastTfidfVectorizer(TfidfVectorizer):
    """scikit-learn's TfidfVectorizer with its counting step (``_count_vocab``: the pure-Python
    analyzer and the per-document term dict) done by polars over whole columns.

    Only the term counts move: vocabulary selection (min_df, max_features), IDF, sublinear TF and
    normalisation stay scikit-learn's code. Tokens are those of the default word analyzer exactly:
    Python ``str.lower``, then the maximal runs of 2+ Python ``\\w`` chars (what ``\\b\\w\\w+\\b``
    finds), then word n-grams joined by one space; any other analyzer setting uses scikit-learn's path.
    """

    _CHUNK_DOCS = 8192  # documents per polars pass: bounds the exploded token table

    def _fast(self) -> bool:
        return (self.analyzer == "word" and self.lowercase and self.preprocessor is None
                and self.tokenizer is None and self.stop_words is None and self.strip_accents is None
                and self.token_pattern == r"(?u)\b\w\w+\b" and self.input == "content"
                and self.ngram_range[0] >= 1)

    def _terms(self, docs: list[str]) -> pl.DataFrame:
        """(doc, term, count) of each document's n-grams, docs numbered from 0."""
        lo, hi = self.ngram_range
        tokens = (pl.DataFrame({"t": string_series([d.lower() for d in docs])}).with_row_index("doc")
                  .select("doc", pl.col("t").str.extract_all(f"[{word_class()}]{{2,}}").alias("tok")))
        parts = []
        for n in range(lo, hi + 1):
            gram = pl.element()
            for k in range(1, n):
                gram = pl.concat_str([gram, pl.lit(" "), pl.element().shift(-k)])
            parts.append(tokens.select("doc", pl.col("tok").list.eval(gram).alias("term"))
                         .explode("term").drop_nulls("term"))
        return pl.concat(parts).group_by("doc", "term").len("count")

    def _vocab_frame(self) -> pl.DataFrame:
        # built once per fitted vocabulary (a predict call of a few rows would otherwise rebuild 30k terms)
        cached = getattr(self, "_vocab_frame_cache", None)
        if cached is None or cached[0] is not self.vocabulary_:
            vocab = self.vocabulary_
            frame = pl.DataFrame({"term": list(vocab), "col": list(vocab.values())},
                                 schema={"term": pl.String, "col": pl.Int64})
            cached = (vocab, frame)
            self._vocab_frame_cache = cached
        return cached[1]

    def _count_vocab(self, raw_documents, fixed_vocab):  # noqa: ANN001, ANN202 (scikit-learn's signature)
        if not self._fast():
            return super()._count_vocab(raw_documents, fixed_vocab)
        docs = list(raw_documents)
        chunks = [self._terms(docs[i:i + self._CHUNK_DOCS]).with_columns(pl.col("doc") + i)
                  for i in range(0, len(docs), self._CHUNK_DOCS)]
        if fixed_vocab:
            vocabulary = self.vocabulary_
            vocab = self._vocab_frame()
            counts = pl.concat([c.join(vocab, on="term") for c in chunks]) if chunks else None
        else:
            counts = pl.concat(chunks) if chunks else pl.DataFrame(schema={"doc": pl.UInt32, "term": pl.String,
                                                                           "count": pl.UInt32})
            # terms below an integer min_df never survive _limit_features, and dropping them first
            # leaves its (-tf).argsort over the surviving terms unchanged
            min_df = self.min_df if isinstance(self.min_df, Integral) else 1
            kept = counts.group_by("term").len("df").filter(pl.col("df") >= min_df).select("term").sort("term")
            if kept.height == 0:
                raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
            kept = kept.with_row_index("col").with_columns(pl.col("col").cast(pl.Int64))
            vocabulary = dict(zip(kept["term"].to_list(), kept["col"].to_list()))
            counts = counts.join(kept, on="term")
        n_docs, n_terms = len(docs), len(vocabulary)
        if counts is None or counts.height == 0:
            return vocabulary, sparse.csr_array((n_docs, n_terms), dtype=self.dtype)
        counts = counts.sort("doc", "col")
        rows = counts["doc"].to_numpy().astype(np.int64)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_docs))])
        index_dtype = np.int64 if indptr[-1] > np.iinfo(np.int32).max else np.int32
        matrix = sparse.csr_array((counts["count"].to_numpy().astype(np.intc),
                                   counts["col"].to_numpy().astype(index_dtype), indptr.astype(index_dtype)),
                                  shape=(n_docs, n_terms), dtype=self.dtype)
        matrix.sort_indices()
        return vocabulary, matrix


def _row_cosine(x: sparse.csr_matrix, y: sparse.csr_matrix) -> np.ndarray:
    # rows of a TfidfVectorizer output are L2-normalised, so the dot product is the cosine
    return np.asarray(x.multiply(y).sum(axis=1)).ravel()


class TfidfPairFeatures:
    """Fit on a pairs table, then turn any pairs table into a small dense feature frame."""

    def __init__(self, max_features: int = 30000, ngram_max: int = 2, svd_components: int = 16,
                 fit_max_pairs: int = 20000, seed: int = 0) -> None:
        self.max_features = max_features
        self.ngram_max = ngram_max
        self.svd_components = svd_components
        self.fit_max_pairs = fit_max_pairs
        self.seed = seed

    def fit(self, pairs: pd.DataFrame) -> TfidfPairFeatures:
        if len(pairs) > self.fit_max_pairs:
            # vocabulary and IDF settle long before 57k pairs; a seeded sample keeps each CV fold fast
            pairs = pairs.sample(n=self.fit_max_pairs, random_state=self.seed)
        self.vectorizer_ = FastTfidfVectorizer(max_features=self.max_features, ngram_range=(1, self.ngram_max),
                                           sublinear_tf=True, min_df=2, dtype=np.float32)
        corpus = _texts(pairs["prompt"]) + _texts(pairs["response_a"]) + _texts(pairs["response_b"])
        with stage("tfidf fit"):
            self.vectorizer_.fit(corpus)
        self.svd_components_: np.ndarray | None = None
        if self.svd_components > 0:
            n = len(pairs)
            with stage("tfidf transform"):
                mat = self.vectorizer_.transform(corpus)
            with stage("svd fit"):
                diff = sparse.vstack([mat[n:2 * n] - mat[2 * n:], mat[2 * n:] - mat[n:2 * n]])
                k = min(self.svd_components, max(1, min(diff.shape) - 1))
                self.svd_components_ = TruncatedSVD(n_components=k, random_state=self.seed).fit(diff).components_
        return self

    def transform(self, pairs: pd.DataFrame) -> pd.DataFrame:
        with stage("tfidf transform"):
            return self._transform(pairs)

    def _transform(self, pairs: pd.DataFrame) -> pd.DataFrame:
        vec = self.vectorizer_
        n = len(pairs)
        # one pass over the three columns (rows are transformed independently): a third of the calls
        docs = vec.transform(_texts(pairs["prompt"]) + _texts(pairs["response_a"]) + _texts(pairs["response_b"]))
        p, a, b = docs[:n], docs[n:2 * n], docs[2 * n:]
        cos_pa, cos_pb, cos_ab = _row_cosine(p, a), _row_cosine(p, b), _row_cosine(a, b)
        cols = {"tfidf_cos_prompt_a": cos_pa, "tfidf_cos_prompt_b": cos_pb,
                "tfidf_cos_prompt_diff": cos_pa - cos_pb, "tfidf_cos_ab": cos_ab}
        if self.svd_components_ is not None:
            # project A-B with the linear map only, so swapping A and B negates every component exactly
            proj = np.asarray((a - b) @ self.svd_components_.T)
            for j in range(proj.shape[1]):
                cols[f"tfidf_svd_diff_{j}"] = proj[:, j]
        return pd.DataFrame(cols, index=pairs.index)

    # ------------------------------------------------------------- persistence (data, never pickle)
    def get_params(self) -> dict[str, Any]:
        return {"max_features": self.max_features, "ngram_max": self.ngram_max,
                "svd_components": self.svd_components, "fit_max_pairs": self.fit_max_pairs, "seed": self.seed}

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able metadata (params, vocabulary in index order) and plain numeric arrays."""
        vocab = self.vectorizer_.vocabulary_
        terms = [""] * len(vocab)
        for term, index in vocab.items():
            terms[index] = term
        arrays = {"idf": np.asarray(self.vectorizer_.idf_, dtype=np.float64)}
        if self.svd_components_ is not None:
            arrays["svd_components"] = np.asarray(self.svd_components_)
        return {"params": self.get_params(), "terms": terms}, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> TfidfPairFeatures:
        """Rebuild from :meth:`to_state` output; shapes are checked so a damaged file fails here."""
        model = cls(**meta["params"])
        terms = meta["terms"]
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise ValueError("tfidf vocabulary must be a list of strings")
        if len(set(terms)) != len(terms):
            raise ValueError("tfidf vocabulary has repeated terms")
        idf = np.asarray(arrays["idf"], dtype=np.float64)
        if idf.shape != (len(terms),) or not np.all(np.isfinite(idf)):
            raise ValueError(f"tfidf idf has shape {idf.shape}, the vocabulary has {len(terms)} terms")
        vec = FastTfidfVectorizer(max_features=model.max_features, ngram_range=(1, model.ngram_max),
                              sublinear_tf=True, min_df=2, dtype=np.float32,
                              vocabulary={t: i for i, t in enumerate(terms)})
        vec._validate_vocabulary()
        vec.idf_ = idf
        model.vectorizer_ = vec
        svd = arrays.get("svd_components")
        if svd is not None and (svd.ndim != 2 or svd.shape[1] != len(terms) or not np.all(np.isfinite(svd))):
            raise ValueError(f"tfidf SVD components have shape {svd.shape}, expected (k, {len(terms)})")
        model.svd_components_ = svd
        return model
