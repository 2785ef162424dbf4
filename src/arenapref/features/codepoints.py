"""Text as arrays of code points: Python's character classes as lookup tables, ``\\w`` runs (words,
TF-IDF tokens) and their hashes, for a few texts at a time.

A service scores a handful of pairs per call; there polars' ``extract_all`` built one string per word
and cost most of the word work. Here the texts are encoded once as UTF-32 (one unit per Python char),
the runs of word chars are found with numpy, and each run is hashed by prefix sums of
``code * B**position`` modulo 2**64, so equal runs anywhere get equal hashes with no string built.
Large batches keep the polars path (these arrays take 8 bytes per char). The class definitions are
Python ``re``'s, taken from this interpreter, as everywhere in the feature code.
"""

from __future__ import annotations

import functools
import re

import numpy as np

HASH_BASE = 0x9E3779B97F4A7C15  # odd, so it has an inverse modulo 2**64
MASK64 = (1 << 64) - 1


@functools.cache
def all_chars() -> str:
    """Every code point but the surrogates, in order."""
    return "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x110000)))


@functools.cache
def py_points(pattern: str) -> np.ndarray:
    """Every code point that Python's ``re`` matches with the one-char ``pattern``."""
    return np.frombuffer("".join(re.findall(pattern, all_chars())).encode("utf-32-le"), dtype=np.uint32)


@functools.cache
def word_char_table() -> np.ndarray:
    """``table[code point]``: whether Python's ``\\w`` matches it."""
    table = np.zeros(0x110000, dtype=bool)
    table[py_points(r"\w")] = True
    return table


def utf32(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The texts' code points, concatenated (a lone surrogate stays one unit, as ``len`` counts it), and
    where each text starts."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return points, np.cumsum(lengths) - lengths


def word_runs(points: np.ndarray, text_starts: np.ndarray, min_len: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of every maximal run of ``\\w`` chars, within each text (a run never
    crosses from one text into the next), of at least ``min_len`` chars: what ``re.findall(r"\\w+")``
    finds, or ``\\b\\w\\w+\\b`` with ``min_len=2``."""
    word = word_char_table()[points]
    n = len(word)
    edges = np.zeros(n + 1, dtype=bool)  # where a run may start: after a non-word char or at a text start
    edges[1:] = ~word
    edges[0] = True
    edges[text_starts[text_starts < n]] = True
    starts = np.flatnonzero(word & edges[:-1])
    closes = np.zeros(n + 1, dtype=bool)  # where a run may end: before a non-word char or a text start
    closes[:-1] = ~word
    closes[n] = True
    closes[text_starts[(text_starts > 0) & (text_starts < n)]] = True
    ends = np.flatnonzero(word & closes[1:]) + 1
    if min_len > 1:
        keep = ends - starts >= min_len
        starts, ends = starts[keep], ends[keep]
    return starts, ends


def run_hashes(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """uint64 hash of each run ``codes[start:end]``: sum(codes[start + k] * B**k) mod 2**64 (see
    :func:`hash_codes`), from one prefix sum over all codes."""
    n = len(codes)
    power = np.ones(n + 1, dtype=np.uint64)
    np.cumprod(np.full(n, HASH_BASE, dtype=np.uint64), out=power[1:])
    inverse_power = np.ones(n + 1, dtype=np.uint64)
    np.cumprod(np.full(n, pow(HASH_BASE, -1, 1 << 64), dtype=np.uint64), out=inverse_power[1:])
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(codes.astype(np.uint64) * power[:-1], out=prefix[1:])  # wraps modulo 2**64, as meant
    return (prefix[ends] - prefix[starts]) * inverse_power[starts]


def hash_codes(codes: list[int]) -> int:
    """:func:`run_hashes` of one run, in Python."""
    h, power = 0, 1
    for code in codes:
        h = (h + code * power) & MASK64
        power = (power * HASH_BASE) & MASK64
    return h


def runs_equal(points: np.ndarray, starts: np.ndarray, ends: np.ndarray, other: np.ndarray,
               other_starts: np.ndarray, other_ends: np.ndarray) -> np.ndarray:
    """Per run i, whether ``points[starts[i]:ends[i]]`` equals ``other[other_starts[i]:other_ends[i]]``
    code point by code point (one vectorised comparison over all runs)."""
    lengths = ends - starts
    same = lengths == other_ends - other_starts
    which = np.flatnonzero(same & (lengths > 0))
    if not len(which):
        return same
    counts = lengths[which]
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    ours = points[np.repeat(starts[which], counts) + offset]
    theirs = other[np.repeat(other_starts[which], counts) + offset]
    mismatched = np.bincount(np.repeat(np.arange(len(which)), counts), weights=ours != theirs,
                             minlength=len(which))
    same[which] = mismatched == 0
    return same
