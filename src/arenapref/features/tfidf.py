"""TF-IDF features of a pair: similarity of each response to the prompt and to each other, and an
SVD projection of the difference between the two responses' TF-IDF vectors.

Fitted on training rows only (inside each CV fold), so validation text never shapes the vocabulary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from arenapref.features.handmade import join_turns

MAX_CHARS = 5000  # the head of very long answers carries the style signal; the rest costs time


def _texts(turns_column: pd.Series) -> list[str]:
    return [join_turns(t)[:MAX_CHARS] for t in turns_column]


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
        self.vectorizer_ = TfidfVectorizer(max_features=self.max_features, ngram_range=(1, self.ngram_max),
                                           sublinear_tf=True, min_df=2, dtype=np.float32)
        corpus = _texts(pairs["prompt"]) + _texts(pairs["response_a"]) + _texts(pairs["response_b"])
        self.vectorizer_.fit(corpus)
        self.svd_ = None
        if self.svd_components > 0:
            n = len(pairs)
            mat = self.vectorizer_.transform(corpus)
            diff = sparse.vstack([mat[n:2 * n] - mat[2 * n:], mat[2 * n:] - mat[n:2 * n]])
            k = min(self.svd_components, max(1, min(diff.shape) - 1))
            self.svd_ = TruncatedSVD(n_components=k, random_state=self.seed).fit(diff)
        return self

    def transform(self, pairs: pd.DataFrame) -> pd.DataFrame:
        vec = self.vectorizer_
        p = vec.transform(_texts(pairs["prompt"]))
        a = vec.transform(_texts(pairs["response_a"]))
        b = vec.transform(_texts(pairs["response_b"]))
        cos_pa, cos_pb, cos_ab = _row_cosine(p, a), _row_cosine(p, b), _row_cosine(a, b)
        cols = {"tfidf_cos_prompt_a": cos_pa, "tfidf_cos_prompt_b": cos_pb,
                "tfidf_cos_prompt_diff": cos_pa - cos_pb, "tfidf_cos_ab": cos_ab}
        if self.svd_ is not None:
            # project A-B with the linear map only, so swapping A and B negates every component exactly
            proj = np.asarray((a - b) @ self.svd_.components_.T)
            for j in range(proj.shape[1]):
                cols[f"tfidf_svd_diff_{j}"] = proj[:, j]
        return pd.DataFrame(cols, index=pairs.index)
