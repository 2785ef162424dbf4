"""TF-IDF features of a pair: similarity of each response to the prompt and to each other, and an
SVD projection of the difference between the two responses' TF-IDF vectors.

Fitted on training rows only (inside each CV fold), so validation text never shapes the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from arenapref.features.codepoints import run_hashes, runs_equal, utf32, word_runs
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

    _CHUNK_DOCS = 4096  # documents per polars pass: bounds the exploded token table

    def _fast(self) -> bool:
        return (self.analyzer == "word" and self.lowercase and self.preprocessor is None
                and self.tokenizer is None and self.stop_words is None and self.strip_accents is None
                and self.token_pattern == r"(?u)\b\w\w+\b" and self.input == "content"
                and self.ngram_range[0] >= 1)

    def _tokens(self, docs: list[str]) -> pl.DataFrame:
        """(doc, tok) of every token in document order, docs numbered from 0: Python ``str.lower``, then
        the maximal runs of 2+ Python ``\\w`` chars (what ``\\b\\w\\w+\\b`` finds)."""
        return (pl.DataFrame({"t": string_series([d.lower() for d in docs])}).with_row_index("doc").lazy()
                .select(pl.col("doc").cast(pl.Int64), pl.col("t").str.extract_all(f"[{word_class()}]{{2,}}")
                        .alias("tok"))
                .explode("tok").drop_nulls("tok").collect())

    def _fit_vocabulary(self, docs: list[str]) -> dict[str, int] | None:
        """The vocabulary scikit-learn's fit would keep, from per-n-gram document and total counts; the
        n-grams are counted as integer codes (ids of the distinct tokens in a fixed base K), one chunk
        of documents at a time, and only the surviving ones are spelt out. None when codes would overflow.

        Terms below an integer ``min_df`` never survive ``_limit_features``; with ``max_df`` at 1.0 its
        ``max_features`` cut is ``(-tfs).argsort()[:limit]`` over the surviving terms in sorted order,
        which is replayed here on the same array (same values, same dtype), ties included. The
        vocabulary returned is then left unchanged by scikit-learn's own pruning."""
        lo, hi = self.ngram_range
        min_df = self.min_df if isinstance(self.min_df, Integral) else 1
        k = int((2 ** 63) ** (1 / hi))  # the largest base whose codes of hi tokens fit in int64
        while k ** hi >= 2 ** 63:
            k -= 1
        # tokens are numbered as they first appear, one tokenisation per chunk
        table = pl.DataFrame(schema={"tok": pl.String, "tid": pl.Int64})
        parts: list[pl.DataFrame] = []
        for i in range(0, len(docs), self._CHUNK_DOCS):
            tokens = self._tokens(docs[i:i + self._CHUNK_DOCS])
            new = tokens.select("tok").unique(maintain_order=True).join(table, on="tok", how="anti")
            if new.height:
                table = pl.concat([table, new.with_row_index("tid", offset=table.height)
                                   .select("tok", pl.col("tid").cast(pl.Int64))])
                if table.height > k:
                    return None
            tokens = tokens.join(table, on="tok", how="left", maintain_order="left")
            doc, tid = tokens["doc"].to_numpy(), tokens["tid"].to_numpy()
            for n in range(lo, hi + 1):
                if len(tid) < n:
                    continue
                valid, code = ngram_codes(doc, tid, n, k)
                grams = pl.DataFrame({"doc": doc[:len(code)][valid], "code": code[valid]})
                parts.append(grams.group_by("code").agg(pl.len().alias("tf"), pl.col("doc").n_unique().alias("df"))
                             .select(pl.lit(n, dtype=pl.Int64).alias("n"), "code", "tf", "df"))
            if len(parts) >= 4 * (hi - lo + 1):  # merge as we go: distinct n-grams, not chunks, set the memory
                parts = [pl.concat(parts).group_by("n", "code").agg(pl.col("tf").sum(), pl.col("df").sum())]
        if not parts or table.height == 0:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        totals = (pl.concat(parts).group_by("n", "code").agg(pl.col("tf").sum(), pl.col("df").sum())
                  .filter(pl.col("df") >= min_df))
        words = table.sort("tid")["tok"]
        spelt = []
        for n in range(lo, hi + 1):
            grams = totals.filter(pl.col("n") == n)
            code = grams["code"].to_numpy()
            digits = []
            for _ in range(n):  # the last token is the lowest digit
                digits.append(code % k)
                code = code // k
            names = [words.gather(d).alias(f"t{j}") for j, d in enumerate(reversed(digits))]
            term = pl.DataFrame(names).select(pl.concat_str(pl.all(), separator=" ").alias("term")) if names else None
            if term is not None and term.height:
                spelt.append(grams.select("tf", "df").with_columns(term["term"]))
        kept = pl.concat(spelt).sort("term") if spelt else pl.DataFrame()
        if kept.height == 0:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        limit = self.max_features
        if limit is not None and kept.height > limit and self.max_df == 1.0:
            tfs = kept["tf"].to_numpy().astype(self.dtype)
            mask = np.zeros(kept.height, dtype=bool)
            mask[(-tfs).argsort()[:limit]] = True
            kept = kept.filter(pl.Series(mask))
        return dict(zip(kept["term"].to_list(), range(kept.height)))

    def _coded_vocab(self) -> CodedVocab | None:
        """The fitted vocabulary as integers (see :func:`code_vocabulary`), built once per vocabulary."""
        cached = getattr(self, "_coded_cache", None)
        if cached is None or cached[0] is not self.vocabulary_:
            cached = (self.vocabulary_, code_vocabulary(self.vocabulary_, self.ngram_range[1]))
            self._coded_cache = cached
        return cached[1]

    def _coded_counts(self, docs: list[str], coded: CodedVocab, n_terms: int) -> sparse.csr_array:
        """Term counts against a vocabulary without building n-gram strings: tokens become ids, n-grams
        integer codes, both found in the vocabulary by a hash join, or for a small batch by binary search
        in its sorted arrays (a join builds a hash table of the vocabulary per call; a search costs log V
        per token). Same counts as scikit-learn's analyzer either way (tests/test_fast_tfidf.py)."""
        lo, hi = self.ngram_range
        if coded.spelt is not None and sum(map(len, docs)) <= _POINTS_MAX_CHARS:
            doc, tid = coded.spelt.token_ids([d.lower() for d in docs])
            small = True
        else:
            tokens = self._tokens(docs)
            doc = tokens["doc"].to_numpy()
            small = tokens.height <= _SEARCH_MAX_TOKENS
            tid = coded.token_ids(tokens["tok"]) if small else coded.joined_token_ids(tokens["tok"])
        hit_docs, hit_cols = [], []
        if lo <= 1:
            known = tid >= 0
            cols = np.full(len(tid), -1, dtype=np.int64)
            cols[known] = coded.unigram_col[tid[known]]
            keep = cols >= 0
            hit_docs.append(doc[keep])
            hit_cols.append(cols[keep])
        for n, (codes, code_cols), code_table in zip(range(2, hi + 1), coded.orders, coded.order_tables):
            if n < lo or len(tid) < n or len(codes) == 0:
                continue
            valid, code = ngram_codes(doc, tid, n, coded.k)
            if small:
                at, found = _lookup(codes, code)
                found &= valid
                hit_docs.append(doc[:len(code)][found])
                hit_cols.append(code_cols[at[found]])
            else:  # a hash join: order does not matter, the sparse matrix below sorts its entries
                hits = (pl.DataFrame({"doc": doc[:len(code)][valid], "code": code[valid]})
                        .join(code_table, on="code", how="inner"))
                hit_docs.append(hits["doc"].to_numpy())
                hit_cols.append(hits["col"].to_numpy())
        rows = np.concatenate(hit_docs) if hit_docs else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(hit_cols) if hit_cols else np.zeros(0, dtype=np.int64)
        matrix = sparse.csr_array((np.ones(len(rows), dtype=self.dtype), (rows, cols)),
                                  shape=(len(docs), n_terms), dtype=self.dtype)
        matrix.sum_duplicates()  # counts, with sorted indices as scikit-learn's own path leaves them
        return matrix

    def weighted(self, docs: list[str]) -> sparse.csr_array:
        """``transform(docs)`` of a fitted vectorizer: the same counts, then scikit-learn's TF-IDF weighting
        steps called directly (sublinear TF, IDF, row L2 norm: the same operations on the same arrays, so
        the same floats) without the input checks that cost more than a handful of documents."""
        if not self._fast() or self._coded_vocab() is None or self.binary or self.norm != "l2" or not self.use_idf:
            return sparse.csr_array(self.transform(docs))
        _, x = self._count_vocab(docs, fixed_vocab=True)  # the coded counts, in chunks
        if self.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1.0
        x.data *= self.idf_[x.indices]
        inplace_csr_row_normalize_l2(x)
        return x

    def _count_vocab(self, raw_documents, fixed_vocab):  # noqa: ANN001, ANN202 (scikit-learn's signature)
        if not self._fast():
            return super()._count_vocab(raw_documents, fixed_vocab)
        docs = list(raw_documents)
        if fixed_vocab:
            vocabulary, coded = self.vocabulary_, self._coded_vocab()
        else:
            fitted = self._fit_vocabulary(docs)
            if fitted is None:  # codes would overflow int64 (very long n-grams): scikit-learn's own path
                return super()._count_vocab(docs, fixed_vocab)
            vocabulary, coded = fitted, code_vocabulary(fitted, self.ngram_range[1])
        if coded is None:
            return super()._count_vocab(docs, fixed_vocab)
        # in chunks: the token table of one chunk is what memory holds
        parts = [self._coded_counts(docs[i:i + self._CHUNK_DOCS], coded, len(vocabulary))
                 for i in range(0, len(docs), self._CHUNK_DOCS)]
        if not parts:
            return vocabulary, sparse.csr_array((0, len(vocabulary)), dtype=self.dtype)
        return vocabulary, parts[0] if len(parts) == 1 else sparse.vstack(parts, format="csr")


def ngram_codes(doc: np.ndarray, tid: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of the ``len(tid) - n + 1`` start positions of a token stream: whether the n tokens from
    there lie in one document and are all known (``tid >= 0``), and their code, the ids in base ``k``."""
    m = len(tid) - n + 1
    valid = doc[:m] == doc[n - 1:]
    code = np.zeros(m, dtype=np.int64)
    for j in range(n):
        part = tid[j:j + m]
        valid &= part >= 0
        code = code * k + np.maximum(part, 0)
    return valid, code


# up to this many tokens per call a binary search beats a hash join (measured in docs/speed.md)
_SEARCH_MAX_TOKENS = 20_000
# up to this many chars per call the tokens are read from code points (features.codepoints), not by
# polars: a handful of documents cost less than polars' extract_all and hashing of token strings
_POINTS_MAX_CHARS = 200_000
# up to this many pairs the cosines are computed from the raw arrays, not by scipy (the same floats)
_SMALL_PAIRS = 512


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each of ``keys`` in ``sorted_keys`` (clipped) and whether it is there."""
    at = np.minimum(np.searchsorted(sorted_keys, keys), max(len(sorted_keys) - 1, 0))
    return at, sorted_keys[at] == keys if len(sorted_keys) else np.zeros(len(keys), dtype=bool)


@dataclass(frozen=True)
class SpeltVocab:
    """The vocabulary's tokens as code points, for finding the tokens of a few documents without
    building strings: ``hashes`` (sorted :func:`codepoints.run_hashes` of the tokens) and the token id
    of each, and every token's code points (``points[starts[id]:ends[id]]``)."""

    hashes: np.ndarray
    hash_ids: np.ndarray
    points: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, tokens: list[str]) -> SpeltVocab | None:
        """None when two tokens share a hash (the polars path is used then)."""
        points, starts = utf32(tokens)
        ends = starts + np.diff(starts, append=len(points))
        hashes = run_hashes(points, starts, ends)
        order = np.argsort(hashes, kind="stable")
        if len(hashes) > 1 and bool(np.any(hashes[order][1:] == hashes[order][:-1])):
            return None
        return cls(hashes[order], order.astype(np.int64), points, starts, ends)

    def token_ids(self, lowered: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(document, token id) of every token of the lower-cased documents, in order; id -1: not in the
        vocabulary. A token is a maximal run of 2+ ``\\w`` chars (scikit-learn's ``\\b\\w\\w+\\b``); it is
        found by its hash and then compared char by char, so a collision cannot give a wrong id."""
        points, doc_starts = utf32(lowered)
        starts, ends = word_runs(points, doc_starts, min_len=2)
        at, found = _lookup(self.hashes, run_hashes(points, starts, ends))
        ids = self.hash_ids[at] if len(self.hash_ids) else np.zeros(len(starts), dtype=np.int64)
        if len(ids):
            found &= runs_equal(points, starts, ends, self.points, self.starts[ids], self.ends[ids])
        doc = np.searchsorted(doc_starts, starts, side="right") - 1
        return doc.astype(np.int64), np.where(found, ids, -1)


@dataclass(frozen=True)
class CodedVocab:
    """A vocabulary as integers: every token its terms use has an id (``tokens`` in id order), an
    n-gram's code is its ids in base ``k``. ``unigram_col``: the column of each token id as a term (-1:
    none); ``orders``: per n-gram order n >= 2 the sorted codes and their columns."""

    tokens: pl.Series
    unigram_col: np.ndarray
    orders: list[tuple[np.ndarray, np.ndarray]]
    k: int
    token_hashes: np.ndarray  # the tokens' polars hashes, sorted
    hash_ids: np.ndarray  # the token id of each sorted hash
    table: pl.DataFrame  # (tok, tid) and per order (code, col): the same, as join tables
    order_tables: list[pl.DataFrame]
    spelt: SpeltVocab | None  # the tokens as code points, for small batches

    def joined_token_ids(self, tok: pl.Series) -> np.ndarray:
        """:meth:`token_ids` by one hash join."""
        return (tok.to_frame("tok").join(self.table, on="tok", how="left", maintain_order="left")["tid"]
                .fill_null(-1).to_numpy())

    def token_ids(self, tok: pl.Series) -> np.ndarray:
        """Id of each token (-1: not a token of the vocabulary): its hash found by binary search, then
        the string compared, so a hash collision cannot make a wrong match."""
        at, found = _lookup(self.token_hashes, tok.hash().to_numpy())
        ids = self.hash_ids[at] if len(self.hash_ids) else np.zeros(len(tok), dtype=np.int64)
        found &= (self.tokens.gather(ids) == tok).fill_null(False).to_numpy() if len(tok) else found
        return np.where(found, ids, -1)


def code_vocabulary(vocabulary: dict[str, int], max_n: int) -> CodedVocab | None:
    """The vocabulary as integers (see :class:`CodedVocab`). None when K**max_n would overflow int64 or
    two of its tokens share a hash (then scikit-learn's own counting is used)."""
    tokens: dict[str, int] = {}
    split = [(term.split(" "), col) for term, col in vocabulary.items()]
    for parts, _ in split:
        for tok in parts:
            tokens.setdefault(tok, len(tokens))
    k = max(len(tokens), 1)
    if k ** max_n >= 2 ** 62:
        return None
    unigram_col = np.full(k, -1, dtype=np.int64)
    by_order: dict[int, tuple[list[int], list[int]]] = {n: ([], []) for n in range(2, max_n + 1)}
    for parts, col in split:
        if len(parts) == 1:
            unigram_col[tokens[parts[0]]] = col
            continue
        code = 0
        for tok in parts:
            code = code * k + tokens[tok]
        by_order[len(parts)][0].append(code)
        by_order[len(parts)][1].append(col)
    orders = []
    for n in range(2, max_n + 1):
        codes, cols = np.asarray(by_order[n][0], dtype=np.int64), np.asarray(by_order[n][1], dtype=np.int64)
        order = np.argsort(codes, kind="stable")
        orders.append((codes[order], cols[order]))
    words = pl.Series("tok", list(tokens), dtype=pl.String)
    hashes = words.hash().to_numpy()
    by_hash = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[by_hash]
    if len(sorted_hashes) > 1 and bool(np.any(sorted_hashes[1:] == sorted_hashes[:-1])):
        return None
    table = pl.DataFrame({"tok": words, "tid": np.arange(len(words), dtype=np.int64)})
    order_tables = [pl.DataFrame({"code": codes, "col": cols}) for codes, cols in orders]
    return CodedVocab(words, unigram_col, orders, k, sorted_hashes, by_hash.astype(np.int64), table, order_tables,
                      SpeltVocab.of(list(tokens)))


def _row_cosine(x: sparse.csr_array, y: sparse.csr_array) -> np.ndarray:
    # rows of a TfidfVectorizer output are L2-normalised, so the dot product is the cosine
    return np.asarray(x.multiply(y).sum(axis=1)).ravel()


def _row_keys(x: sparse.csr_array, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """The stored entries of ``x[rows]`` as sorted int64 keys ``row * n_cols + col`` (rows counted from
    the slice's start; column indices sorted within a row, as a canonical CSR matrix has them) and their
    values."""
    start, stop = x.indptr[rows.start], x.indptr[rows.stop]
    counts = np.diff(x.indptr[rows.start:rows.stop + 1])
    local = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return local * x.shape[1] + x.indices[start:stop], x.data[start:stop]


def _row_dots(left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray], n: int,
              n_cols: int) -> np.ndarray:
    """Per row, the dot product of two CSR blocks given by :func:`_row_keys`: what
    ``x.multiply(y).sum(axis=1)`` computes, in the same order (products of the common entries in column
    order, zeros dropped, one ``np.add.reduceat`` per non-empty row), so the same floats."""
    (lk, lv), (rk, rv) = left, right
    out = np.zeros(n, dtype=np.result_type(lv, rv))
    if not len(lk) or not len(rk):
        return out
    at = np.minimum(np.searchsorted(lk, rk), len(lk) - 1)
    common = lk[at] == rk
    products = lv[at[common]] * rv[common]
    keys = rk[common][products != 0]
    products = products[products != 0]
    if not len(products):
        return out
    rows = keys // n_cols
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    out[rows[starts]] = np.add.reduceat(products, starts)
    return out


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
            # the fit's own matrix is the transform of the corpus (tests/test_fast_tfidf.py): no second pass
            mat = self.vectorizer_.fit_transform(corpus)
        self.svd_components_: np.ndarray | None = None
        if self.svd_components > 0:
            n = len(pairs)
            with stage("svd fit"):
                diff = sparse.vstack([mat[n:2 * n] - mat[2 * n:], mat[2 * n:] - mat[n:2 * n]])
                k = min(self.svd_components, max(1, min(diff.shape) - 1))
                self.svd_components_ = TruncatedSVD(n_components=k, random_state=self.seed).fit(diff).components_
        return self

    _CHUNK_PAIRS = 8192  # pairs per transform: bounds the three sparse matrices in memory

    @property
    def feature_names(self) -> list[str]:
        """The columns of :meth:`transform_matrix`."""
        k = 0 if self.svd_components_ is None else len(self.svd_components_)
        return (["tfidf_cos_prompt_a", "tfidf_cos_prompt_b", "tfidf_cos_prompt_diff", "tfidf_cos_ab"]
                + [f"tfidf_svd_diff_{j}" for j in range(k)])

    def transform(self, pairs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.transform_matrix(pairs), columns=self.feature_names, index=pairs.index)

    def transform_matrix(self, pairs: pd.DataFrame) -> np.ndarray:
        """:meth:`transform` as a matrix whose columns are :attr:`feature_names` (no frame)."""
        columns = [_texts(pairs[c]) for c in ("prompt", "response_a", "response_b")]
        with stage("tfidf transform"):
            step = self._CHUNK_PAIRS
            if len(columns[0]) <= step:
                return self._transform(*columns)
            return np.vstack([self._transform(*(col[i:i + step] for col in columns))
                              for i in range(0, len(columns[0]), step)])

    def _transform(self, prompts: list[str], responses_a: list[str], responses_b: list[str]) -> np.ndarray:
        n = len(prompts)
        # one pass over the three columns (rows are transformed independently): a third of the calls
        docs = self.vectorizer_.weighted(prompts + responses_a + responses_b)
        if n <= _SMALL_PAIRS:  # scipy's per-call checks cost more than a few rows' products
            p, a, b = (_row_keys(docs, slice(i * n, (i + 1) * n)) for i in range(3))
            width = docs.shape[1]
            cos_pa, cos_pb, cos_ab = _row_dots(p, a, n, width), _row_dots(p, b, n, width), _row_dots(a, b, n, width)
        else:
            pm, am, bm = docs[:n], docs[n:2 * n], docs[2 * n:]
            cos_pa, cos_pb, cos_ab = _row_cosine(pm, am), _row_cosine(pm, bm), _row_cosine(am, bm)
        blocks = [cos_pa, cos_pb, cos_pa - cos_pb, cos_ab]
        if self.svd_components_ is not None:
            # project A-B with the linear map only, so swapping A and B negates every component exactly
            proj = np.asarray((docs[n:2 * n] - docs[2 * n:]) @ self.svd_components_.T)
            blocks += list(proj.T)
        # one block (the columns share a dtype): a frame built column by column costs more than a small batch
        dtype = np.result_type(*blocks)
        return np.column_stack(blocks).astype(dtype, copy=False)

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
