"""Exact and near-duplicate pairs inside one table, and leaks between a training and a test table.

Two rows are **exact duplicates** when their normalised prompt and their two normalised responses are
equal, in either order (a vote with A and B swapped is the same comparison). Normalisation: NFKC,
case-folded, whitespace collapsed (:func:`arenapref.data.folds.normalise_prompt`).

Two rows are **near duplicates** when the Jaccard similarity of their sets of word 3-shingles (prompt,
A and B shingled separately and pooled) is at least ``threshold``. Candidates come from MinHash
locality-sensitive hashing (``num_perm`` = bands x rows-per-band hash functions; two rows become
candidates when all hashes of one band agree), then the exact Jaccard of the shingle sets decides.
Shingles are hashed with scikit-learn's ``HashingVectorizer`` (MurmurHash3, fixed seed), so results
do not depend on the Python hash seed. Scripts without spaces (Chinese, Japanese) tokenise into
clause-long "words", which still finds copied text but misses small edits there.

A **leak** is a test row whose comparison (exact or near) or whose prompt also occurs in the training
table: the same prompt in both is what grouped folds prevent inside one table.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from arenapref.data.folds import normalise_prompt

N_FEATURES = 1 << 26
_PRIME = (1 << 31) - 1
_BLOCK_NNZ = 2_000_000


@dataclass(frozen=True)
class DedupConfig:
    threshold: float = 0.8       # Jaccard of shingle sets at or above which two rows are near duplicates
    shingle: int = 3             # words per shingle
    bands: int = 16
    rows_per_band: int = 4       # 16 x 4: a pair at Jaccard 0.8 is a candidate with probability > 0.99
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.shingle < 1 or self.bands < 1 or self.rows_per_band < 1:
            raise ValueError("shingle, bands and rows_per_band must be positive")


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def _response_digests(pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    da = np.asarray([_digest(normalise_prompt(a)) for a in pairs["response_a"]], dtype=object)
    db = np.asarray([_digest(normalise_prompt(b)) for b in pairs["response_b"]], dtype=object)
    return da, db


def pair_keys(pairs: pd.DataFrame, digests: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """One key per row for the comparison, independent of which response is A."""
    da, db = digests if digests is not None else _response_digests(pairs)
    prompts = [_digest(normalise_prompt(p)) for p in pairs["prompt"]]
    return np.asarray([f"{p}:{min(a, b)}:{max(a, b)}" for p, a, b in zip(prompts, da, db)], dtype=object)


def prompt_keys(pairs: pd.DataFrame) -> np.ndarray:
    return np.asarray([_digest(normalise_prompt(p)) for p in pairs["prompt"]], dtype=object)


def shingle_matrix(pairs: pd.DataFrame, config: DedupConfig = DedupConfig()) -> sparse.csr_matrix:
    """Binary (rows x 2^26) matrix of hashed word shingles of prompt, A and B pooled."""
    vec = HashingVectorizer(n_features=N_FEATURES, ngram_range=(config.shingle, config.shingle),
                            token_pattern=r"(?u)\b\w+\b", preprocessor=normalise_prompt,
                            alternate_sign=False, norm=None, binary=True, dtype=np.float32)
    # the preprocessor takes a list of turns; HashingVectorizer passes each document through it
    mats = [vec.transform(list(pairs[col])) for col in ("prompt", "response_a", "response_b")]
    total = (mats[0] + mats[1] + mats[2]).tocsr()
    total.data[:] = 1.0
    total.sort_indices()
    return total


def minhash(shingles: sparse.csr_matrix, config: DedupConfig = DedupConfig()) -> np.ndarray:
    """(rows, bands * rows_per_band) MinHash signatures; rows without shingles get all-max signatures."""
    n_hash = config.bands * config.rows_per_band
    rng = np.random.default_rng(config.seed)
    a = rng.integers(1, _PRIME, size=n_hash, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=n_hash, dtype=np.uint64)
    n = shingles.shape[0]
    sig = np.full((n, n_hash), np.iinfo(np.uint64).max, dtype=np.uint64)
    indptr = shingles.indptr
    nnz_per_row = np.diff(indptr)
    start = 0
    while start < n:
        # rows in blocks of about _BLOCK_NNZ shingles keep the (nnz,) temporaries small
        stop = int(np.searchsorted(indptr, indptr[start] + _BLOCK_NNZ, side="right"))
        stop = min(max(stop - 1, start + 1), n)
        rows = np.arange(start, stop)
        rows = rows[nnz_per_row[rows] > 0]
        if len(rows):
            idx = shingles.indices[indptr[start]:indptr[stop]].astype(np.uint64)
            offsets = (indptr[rows] - indptr[start]).astype(np.int64)
            for k in range(n_hash):
                vals = (a[k] * idx + b[k]) % np.uint64(_PRIME)
                sig[rows, k] = np.minimum.reduceat(vals, offsets)
        start = stop
    return sig


def _candidates(sig: np.ndarray, config: DedupConfig, *, left: np.ndarray | None = None) -> set[tuple[int, int]]:
    """Row pairs (i < j) sharing a full band; with ``left`` (a mask), only pairs across the two sides."""
    empty = (sig == np.iinfo(np.uint64).max).all(axis=1)
    pairs: set[tuple[int, int]] = set()
    r = config.rows_per_band
    for band in range(config.bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        block = np.ascontiguousarray(sig[:, band * r:(band + 1) * r])
        for i in np.flatnonzero(~empty):
            buckets[block[i].tobytes()].append(int(i))
        for members in buckets.values():
            if len(members) < 2:
                continue
            if left is not None:
                ls = [m for m in members if left[m]]
                rs = [m for m in members if not left[m]]
                pairs.update((i, j) for i in ls for j in rs)
            else:
                pairs.update((members[x], members[y]) for x in range(len(members))
                             for y in range(x + 1, len(members)))
    return pairs


def _jaccard(shingles: sparse.csr_matrix, i: int, j: int) -> float:
    si = shingles.indices[shingles.indptr[i]:shingles.indptr[i + 1]]
    sj = shingles.indices[shingles.indptr[j]:shingles.indptr[j + 1]]
    inter = len(np.intersect1d(si, sj, assume_unique=True))
    union = len(si) + len(sj) - inter
    return inter / union if union else 0.0


def _near_pairs(shingles: sparse.csr_matrix, config: DedupConfig, *, left: np.ndarray | None = None
                ) -> list[tuple[int, int, float]]:
    sig = minhash(shingles, config)
    found = []
    for i, j in sorted(_candidates(sig, config, left=left)):
        jac = _jaccard(shingles, i, j)
        if jac >= config.threshold:
            found.append((i, j, jac))
    return found


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return int(root)

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)  # the earliest row stays the representative


@dataclass
class DuplicateReport:
    n_rows: int
    cluster: np.ndarray                      # representative row index per row (itself when unique)
    exact_rows: int                          # rows that repeat an earlier row exactly
    near_rows: int                           # further rows folded in by near-duplicate matches
    label_conflicts: int                     # exact-duplicate groups whose rows carry different labels
    kind: np.ndarray                         # per row: "" (kept), "exact" or "near" (folded into its cluster)
    near_pairs: list[tuple[int, int, float]] = field(default_factory=list)

    @property
    def keep(self) -> np.ndarray:
        """Mask of the rows to keep: the first row of every cluster."""
        return self.cluster == np.arange(self.n_rows)


def find_duplicates(pairs: pd.DataFrame, config: DedupConfig = DedupConfig()) -> DuplicateReport:
    """Cluster exact and near-duplicate rows; the first row of each cluster is its representative."""
    n = len(pairs)
    digests = _response_digests(pairs)
    keys = pair_keys(pairs, digests)
    first_of = pd.Series(np.arange(n)).groupby(keys, sort=False).transform("min").to_numpy()
    uf = _UnionFind(n)
    for i, f in enumerate(first_of):
        if f != i:
            uf.union(i, int(f))
    exact_rows = int((first_of != np.arange(n)).sum())
    conflicts = 0
    label_cols = [c for c in ("winner_model_a", "winner_model_b", "winner_tie") if c in pairs.columns]
    if label_cols:
        # compare labels in the orientation of the group's first row (a swapped copy swaps A and B)
        labels = pairs[label_cols].to_numpy(dtype=float)
        flipped = digests[0] != digests[0][first_of]
        oriented = labels.copy()
        oriented[flipped, 0], oriented[flipped, 1] = labels[flipped, 1], labels[flipped, 0]
        frame = pd.DataFrame(np.round(oriented, 6)).assign(group=first_of)
        per_group = frame.groupby("group").nunique(dropna=False).max(axis=1)
        conflicts = int((per_group > 1).sum())
    reps = np.flatnonzero(first_of == np.arange(n))
    near = _near_pairs(shingle_matrix(pairs.iloc[reps], config), config)
    near = [(int(reps[i]), int(reps[j]), jac) for i, j, jac in near]
    for i, j, _ in near:
        uf.union(i, j)
    cluster = np.array([uf.find(i) for i in range(n)])
    near_rows = int((cluster != np.arange(n)).sum()) - exact_rows
    kind = np.where(first_of != np.arange(n), "exact", np.where(cluster != np.arange(n), "near", ""))
    return DuplicateReport(n, cluster, exact_rows, near_rows, conflicts, kind.astype(object), near)


LEAK_KINDS = ("exact", "near", "prompt")


@dataclass
class LeakReport:
    n_train: int
    n_test: int
    leaks: pd.DataFrame    # test_id, train_id, kind (exact | near | prompt), jaccard

    def strongest(self) -> pd.Series:
        """The strongest leak kind per leaking test row (exact > near > prompt)."""
        order = pd.Categorical(self.leaks["kind"], categories=list(LEAK_KINDS), ordered=True)
        return pd.Series(order, index=self.leaks["test_id"]).groupby(level=0, observed=True).min()

    def test_rows(self, kind: str) -> int:
        """Test rows whose strongest leak is ``kind``."""
        return int((self.strongest() == kind).sum())

    def leaking_train_rows(self, kinds: tuple[str, ...] = ("exact", "near")) -> set[str]:
        return set(self.leaks.loc[self.leaks["kind"].isin(kinds), "train_id"])


def find_leaks(train: pd.DataFrame, test: pd.DataFrame, config: DedupConfig = DedupConfig()) -> LeakReport:
    """Every (test row, training row) pair that shares a comparison (exact/near) or a prompt.

    A row pair is listed once, under its strongest kind: exact, then near, then prompt.
    """
    records: dict[tuple[int, int], tuple[str, float]] = {}
    train_keys, test_keys = pair_keys(train), pair_keys(test)
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(train_keys):
        by_key[key].append(i)
    for j, key in enumerate(test_keys):
        for i in by_key.get(key, ()):
            records[(i, j)] = ("exact", 1.0)
    both = pd.concat([train[["prompt", "response_a", "response_b"]], test[["prompt", "response_a", "response_b"]]],
                     ignore_index=True)
    left = np.arange(len(both)) < len(train)
    for i, j, jac in _near_pairs(shingle_matrix(both, config), config, left=left):
        records.setdefault((i, j - len(train)), ("near", jac))
    by_prompt: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(prompt_keys(train)):
        by_prompt[key].append(i)
    for j, key in enumerate(prompt_keys(test)):
        for i in by_prompt.get(key, ()):
            records.setdefault((i, j), ("prompt", float("nan")))
    rows = [(str(test["id"].iat[j]), str(train["id"].iat[i]), kind, jac)
            for (i, j), (kind, jac) in sorted(records.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    leaks = pd.DataFrame(rows, columns=["test_id", "train_id", "kind", "jaccard"])
    return LeakReport(len(train), len(test), leaks)
