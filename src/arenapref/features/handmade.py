"""Hand-made features of each text (style, structure, refusals, script) and of the pair.

``text_features`` describes one text; ``pair_features`` turns a pairs table into a numeric frame with,
for every per-response feature, the value for A, for B, their difference and the relative difference
(A − B) / (A + B). Names follow ``features.swap``: swapping A and B exchanges ``*_a``/``*_b`` and negates
``*_diff``/``*_rel`` exactly, so the swapped frame never needs a second pass over the text.

Speed: every distinct text is described once, by polars string kernels (Rust regex) over the whole
column, instead of one Python regex call per feature per text; the per-character counts (digits,
scripts, punctuation, ...) come from one code-point table lookup and one ``bincount`` over all texts
(:func:`_char_counts`), and chunks of pairs run two at a time. The definitions are those of Python
``re`` (the previous implementation, kept in tests/support/handmade_reference.py and compared on every
real arena row by tests/test_fast_features.py): Rust regex and Python ``re`` disagree on ``\\w``, ``\\d``,
``\\s``, ``\\b`` and case folding at the edges of Unicode, and Rust has no lookarounds, so the patterns
below spell Python's classes out as explicit code-point sets taken from this interpreter's ``re``
(:func:`_py_class`), and lookarounds become "count with, minus count failing the condition".

Per-text and per-pair features are cached in memory by text hash, because cross-validation asks for
the same texts once per fold.
"""

from __future__ import annotations

import functools
import hashlib
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from arenapref import threads
from arenapref.features.codepoints import (
    all_chars,
    hash_codes,
    py_points,
    run_hashes,
    runs_equal,
    utf32,
    word_runs,
)
from arenapref.text.scripts import FEATURE_SCRIPTS, char_class
from arenapref.timing import stage

_PATTERN_NAMES = ("lines", "paragraphs", "list_items", "numbered_items", "headers", "bold", "code_blocks",
                  "inline_code", "links", "table_rows", "sentences", "questions", "exclamations", "digits",
                  "uppercase", "punctuation", "emoji", "latex")
_SCRIPT_NAMES = tuple(FEATURE_SCRIPTS)
TEXT_FEATURES: tuple[str, ...] = (
    "chars", "words", "unique_words", "unique_word_ratio", "avg_word_len", "words_per_sentence",
    *_PATTERN_NAMES, "refusals", "apologies", "hedges", *(f"script_{s}" for s in _SCRIPT_NAMES), "non_ascii",
    "repeated_lines", "compress_ratio", "empty_turns",
)
PROMPT_FEATURES: tuple[str, ...] = ("chars", "words", "lines", "questions", "code_blocks", "script_latin",
                                     "script_cjk", "script_cyrillic", "non_ascii")
_PROMPT_IDX = [TEXT_FEATURES.index(name) for name in PROMPT_FEATURES]
_OVERLAP_FEATURES = ("turns", "overlap_prompt_a", "overlap_prompt_b", "overlap_prompt_diff", "overlap_ab",
                     "identical")
# the columns of :func:`pair_feature_matrix`: per text feature A, B, difference and relative difference,
# then the prompt's features and the pair's overlaps
PAIR_FEATURES: tuple[str, ...] = (
    *(f"{name}_{part}" for name in TEXT_FEATURES for part in ("a", "b", "diff", "rel")),
    *(f"prompt_{name}" for name in PROMPT_FEATURES), *_OVERLAP_FEATURES,
)
_cache: dict[bytes, np.ndarray] = {}
_pair_cache: dict[bytes, np.ndarray] = {}
_CACHE_LIMIT = 2_000_000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clear_cache() -> None:
    """Forget cached per-text features (a long-running scorer sees each text once; CV sees it per fold)."""
    _cache.clear()
    _pair_cache.clear()


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def join_turns(turns: Iterable[str]) -> str:
    return "\n\n".join(turns)


# ------------------------------------------------------------------ Python-re classes for Rust regex
def _ranges(chars: Iterable[str]) -> str:
    """A regex class body (no brackets) matching exactly ``chars``, as code-point ranges."""
    points = sorted({ord(c) for c in chars})
    parts, i = [], 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        lo, hi = points[i], points[j]
        parts.append(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}")
        i = j + 1
    return "".join(parts)


@functools.cache
def _py_class(pattern: str) -> str:
    """Class body of every code point that Python's ``re`` matches with ``pattern`` (one char)."""
    return _ranges(map(chr, py_points(pattern).tolist()))


@functools.cache
def _py_letter(letter: str) -> str:
    """Class of every char Python ``re.IGNORECASE`` equates with an ASCII letter (e.g. k, K and U+212A)."""
    candidates = re.findall("[a-z]", all_chars(), re.IGNORECASE)
    return "[" + _ranges(c for c in candidates if re.fullmatch(letter, c, re.IGNORECASE)) + "]"


def _nocase(pattern: str) -> str:
    """Python's IGNORECASE for a pattern of ASCII letters, literals, groups and letter classes."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i:i + 2])
            i += 2
        elif ch == "[":
            end = pattern.index("]", i)
            out.append("(?:" + "|".join(_py_letter(c) for c in pattern[i + 1:end]) + ")")
            i = end + 1
        elif ch.isascii() and ch.isalpha():
            out.append(_py_letter(ch.lower()))
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_REFUSAL = (r"(?:i(?:'| a)?m (?:sorry|unable|not able)|i can(?:no|')t|i cannot|i won'?t be able|"
            r"as an ai|as a language model|language model|i do not have (?:access|the ability|personal)|"
            r"i don'?t have (?:access|the ability|personal)|not appropriate|against my|i must decline|"
            r"i'm not comfortable|unethical|not able to (?:provide|assist|help))")
_APOLOGY = r"(?:sorry|apologi[sz]e|apologies|my mistake|i apologi)"
_HEDGE = r"(?:however|it depends|it is important to|note that|keep in mind|consult)"


@functools.cache
def _patterns() -> dict[str, tuple[str, ...]]:
    """Rust-regex patterns per count; a tuple of two means count(first) - count(second), a lookahead
    emulated: the second pattern is the first followed by what the lookahead forbade (fine where, as
    here, the two scans cannot get out of step: a phrase never starts inside another at a word start)."""
    word, digit, space = _py_class(r"\w"), _py_class(r"\d"), _py_class(r"\s")
    w, d, s, nw, ns = f"[{word}]", f"[{digit}]", f"[{space}]", f"[^{word}]", f"[^{space}]"
    word_start = f"(?:^|{nw})"  # \b before a word char; consumed, fine since every phrase ends in one
    # (?<!`)`[^`\n]+`(?!`): Python, failing at a closing run of 2+ backticks, can open no match before
    # the run ends, so taking the whole closing run and counting only those of length 1 is the same scan
    inline = "(?:^|[^`])`[^`\n]+`+"
    hedge = word_start + _nocase(_HEDGE)  # \b(?:...)\b: the trailing \b fails when a word char follows
    return {
        "lines": ("\n",),
        "paragraphs": (f"\n{s}*\n",),
        "list_items": (f"(?m)^{s}*(?:[-*+•]|{d}+[.)]){s}+",),
        "numbered_items": (f"(?m)^{s}*{d}+[.)]{s}+",),
        "headers": (f"(?m)^{s}*#{{1,6}}{s}+{ns}",),
        "bold": (r"\*\*[^*\n]+\*\*|__[^_\n]+__",),
        "code_blocks": ("```",),
        "inline_code": (inline,),
        "links": (_nocase(r"https?://|www\."),),
        "table_rows": (f"(?m)^{s}*\\|.*\\|{s}*$",),
        # Python's non-multiline $ also matches before a final \n, which {s} has already taken first
        "sentences": (f"[.!?。！？]+(?:{s}|$)",),
        "latex": (r"\$[^$\n]+\$|\\\(|\\\[|\\frac|\\begin\{",),
        "refusals": (word_start + _nocase(_REFUSAL),),
        "apologies": (word_start + _nocase(_APOLOGY),),
        "hedges": (hedge, hedge + w),
        "words": (f"{w}+",),
    }


def word_class() -> str:
    """Body of a regex class matching exactly Python's ``\\w`` (for Rust regex, e.g. polars)."""
    return _py_class(r"\w")


def string_series(texts: list[str]) -> pl.Series:
    """A polars string column of ``texts``."""
    try:
        return pl.Series(texts, dtype=pl.String)
    except (UnicodeEncodeError, pl.exceptions.ComputeError, ValueError):
        # lone surrogates (not UTF-8): U+FFFD is, like them, one char that no feature counts
        return pl.Series([_LONE_SURROGATE.sub("\ufffd", t) for t in texts], dtype=pl.String)


def _count(col: pl.Expr, pattern: str) -> pl.Expr:
    return col.str.count_matches(pattern, literal=pattern in ("\n", "```")).cast(pl.Int64)


# Python-re definitions of the per-character counts (one char each), counted by a code-point table
_CHAR_PATTERNS: dict[str, str] = {
    "questions": "[?？]",
    "exclamations": "[!！]",
    "digits": r"\d",
    "uppercase": "[A-Z]",
    "punctuation": "[.,;:!?()\\[\\]{}\"'«»“”‘’\\-–—]",
    "emoji": "[\U0001F300-\U0001FAFF\u2600-\u27BF]",
    **{f"script_{name}": char_class(blocks) for name, blocks in FEATURE_SCRIPTS.items()},
    "word_chars": r"\w",  # a word's chars are \w runs: their sum is the count of \w chars
}
_CHAR_CLASSES = (*_CHAR_PATTERNS, "non_ascii")


@functools.cache
def _class_table() -> tuple[np.ndarray, np.ndarray]:
    """``table[code point]``: the id of the combination of :data:`_CHAR_CLASSES` the char is in;
    ``membership[id]``: 0/1 per class. A few dozen combinations cover all of Unicode, so one lookup and
    one bincount count every class of every text at once."""
    mask = np.zeros(0x110000, dtype=np.uint32)
    for bit, pattern in enumerate(_CHAR_PATTERNS.values()):
        mask[py_points(pattern)] |= np.uint32(1 << bit)
    mask[128:] |= np.uint32(1 << _CHAR_CLASSES.index("non_ascii"))  # ord > 127, lone surrogates included
    combos, table = np.unique(mask, return_inverse=True)
    membership = ((combos[:, None] >> np.arange(len(_CHAR_CLASSES), dtype=np.uint32)) & 1).astype(np.int64)
    return table.astype(np.uint16), membership


def _char_counts(texts: list[str]) -> dict[str, np.ndarray]:
    """Per text, how many chars fall in each of :data:`_CHAR_CLASSES`, and ``chars`` (the length)."""
    table, membership = _class_table()
    n, k = len(texts), len(membership)
    points, starts = utf32(texts)
    lengths = np.diff(starts, append=len(points))
    key = np.repeat(np.arange(n, dtype=np.intp) * k, lengths)
    key += table[points]
    per_combo = np.bincount(key, minlength=n * k).reshape(n, k)
    counts = per_combo @ membership
    out = {name: counts[:, j].astype(np.float64) for j, name in enumerate(_CHAR_CLASSES)}
    out["chars"] = lengths.astype(np.float64)
    return out


def _words(texts: list[str]) -> pl.DataFrame:
    """Every ``\\w+`` word (Python's ``\\w``) of each text, by polars: columns tid (text index) and h, a
    64-bit hash of the lower-cased word (only ever compared for equality within a few thousand words,
    where a collision has a chance of about 1e-13; hashing once makes the distinct counts and the
    overlap join work on integers instead of strings)."""
    return (pl.DataFrame({"t": string_series(texts)}).with_row_index("tid").lazy()
            .select("tid", pl.col("t").str.extract_all(_patterns()["words"][0]).alias("w"))
            .explode("w").drop_nulls("w")
            .select("tid", pl.col("w").str.to_lowercase().hash().alias("h")).collect())


def _word_table(texts: list[str]) -> tuple[pl.DataFrame | None, WordSets | None]:
    """The words of ``texts``: a small batch's as :class:`WordSets` (from code points when the texts
    hold up to :data:`_SMALL_CHARS` chars, see :func:`_code_point_words`), a large batch's as the
    polars table of :func:`_words` (then the word sets are polars group-bys and joins)."""
    found = _code_point_words(texts) if sum(map(len, texts)) <= _SMALL_CHARS else None
    if found is not None and len(found[0]) <= _SMALL_WORDS:
        return None, WordSets.of(*found, n=len(texts))
    words = (_words(texts) if found is None else
             pl.DataFrame({"tid": found[0], "h": found[1]}, schema={"tid": pl.UInt32, "h": pl.UInt64}))
    if words.height > _SMALL_WORDS:
        return words, None
    word_id = np.unique(words["h"].to_numpy(), return_inverse=True)[1].reshape(-1)
    return None, WordSets.of(words["tid"].to_numpy().astype(np.int64), words["h"].to_numpy(), word_id, n=len(texts))


# a batch of up to this many chars has its words found from its code points (features.codepoints):
# polars' extract_all built a string per word, most of a small batch's word cost; larger batches stay
# there (the code-point arrays take 8 bytes per char)
_SMALL_CHARS = 1_000_000
_DOTTED_I = 0x130  # the one char whose lower case is two chars ("i" + U+0307)
_DOTTED_I_LOWER = 0x110000 + _DOTTED_I  # a code no char has
_SIGMA = 0x3A3  # lower-cased to final sigma at the end of a word


@functools.cache
def _lower_table() -> np.ndarray:
    """``table[code point]``: the code point of its lower case (``str.lower``); U+0130, whose lower
    case is two chars, gets a code no char has (no ``\\w`` word can hold the U+0307 of its expansion, so
    nothing else lower-cases to the same)."""
    table = np.arange(0x110000, dtype=np.uint32)
    chars = all_chars().replace(chr(_DOTTED_I), "\x00")  # keep one char per code point
    points = np.frombuffer(chars.encode("utf-32-le"), dtype=np.uint32)
    table[points] = np.frombuffer(chars.lower().encode("utf-32-le"), dtype=np.uint32)
    table[_DOTTED_I] = _DOTTED_I_LOWER
    return table


def _code_point_words(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`_words` from code points: the ``\\w`` runs, each hashed over its lower-cased code points
    (:func:`codepoints.run_hashes`), so words equal after ``str.lower`` get equal hashes. A word with a
    capital sigma is lower-cased by Python itself: its final form depends on the letters around it.
    Every word is checked char by char against the first word of its hash; None if two differ (a
    collision, which polynomial hashes modulo 2**64 have for long crafted words: polars decides then).
    Returns per word its text, its hash and its word id (the rank of its hash among the distinct ones)."""
    points, text_starts = utf32(texts)
    starts, ends = word_runs(points, text_starts)
    lowered = _lower_table()[points]
    hashes = run_hashes(lowered, starts, ends)
    joined: str | None = None
    sigma = np.zeros(len(starts), dtype=bool)
    sigma_at = np.flatnonzero(points == _SIGMA)
    if len(sigma_at):
        joined = "".join(texts)
        for w in np.unique(np.searchsorted(starts, sigma_at, side="right") - 1):
            if w >= 0 and sigma_at[np.searchsorted(sigma_at, starts[w])] < ends[w]:
                sigma[w] = True
                word = joined[starts[w]:ends[w]].lower().replace("i\u0307", "\x00")
                hashes[w] = hash_codes([_DOTTED_I_LOWER if ch == "\x00" else ord(ch) for ch in word])
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    rep = first[inverse.reshape(-1)]
    check = rep != np.arange(len(rep))  # words that share the hash of an earlier word
    if joined is not None:
        by_python = check & (sigma | sigma[rep])
        for w in np.flatnonzero(by_python):
            if joined[starts[w]:ends[w]].lower() != joined[starts[rep[w]]:ends[rep[w]]].lower():
                return None
        check &= ~by_python
    if not runs_equal(lowered, starts[check], ends[check], lowered, starts[rep[check]], ends[rep[check]]).all():
        return None
    return np.searchsorted(text_starts, starts, side="right") - 1, hashes, inverse.reshape(-1)


# up to this many words per batch the word sets are sorted integer arrays (numpy) rather than polars
# group-bys and joins, whose fixed cost is most of a handful of pairs' work; above it the hash joins win
_SMALL_WORDS = 10_000


@dataclass(frozen=True)
class WordSets:
    """The distinct lower-cased words of each text, as sorted integer keys ``text * n_words + word id``
    (word ids: ranks of the distinct hashes). For small batches only (see :data:`_SMALL_WORDS`)."""

    keys: np.ndarray
    n_words: int
    starts: np.ndarray  # where each text's keys start
    sizes: np.ndarray  # how many distinct words each text has
    counts: np.ndarray  # how many words each text has

    @classmethod
    def of(cls, tid: np.ndarray, hashes: np.ndarray, word_id: np.ndarray, *, n: int) -> WordSets:
        """From each word's text, hash and word id (the rank of its hash among the distinct hashes)."""
        tid = tid.astype(np.int64)
        n_words = max(int(word_id.max()) + 1 if len(word_id) else 0, 1)
        keys = np.unique(tid * n_words + word_id)
        owner = keys // n_words
        return cls(keys, n_words, np.searchsorted(owner, np.arange(n)), np.bincount(owner, minlength=n),
                   np.bincount(tid, minlength=n))

    def unions(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``|words(x[i]) ∪ words(y[i])|`` for each i: the two sets stacked under key i, sorted, and the
        common words counted as adjacent equal keys."""
        def stacked(texts: np.ndarray) -> np.ndarray:
            lengths = self.sizes[texts]
            owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
            offset = np.repeat(self.starts[texts] - (np.cumsum(lengths) - lengths), lengths)
            return owner * self.n_words + self.keys[np.arange(len(owner)) + offset] % self.n_words

        both = np.sort(np.concatenate([stacked(x), stacked(y)]))
        common = both[1:][both[1:] == both[:-1]] // self.n_words
        inter = np.bincount(common, minlength=len(x))
        return (self.sizes[x] + self.sizes[y] - inter).astype(np.float64)


def _word_stats(words: pl.DataFrame | None, n: int, sets: WordSets | None = None) -> dict[str, np.ndarray]:
    """Per text: number of words and of distinct lower-cased words (one pass)."""
    if sets is not None:
        return {"words": sets.counts.astype(np.float64), "unique_words": sets.sizes.astype(np.float64)}
    assert words is not None
    got = words.group_by("tid").agg(pl.len().alias("words"), pl.col("h").n_unique().alias("unique_words"))
    tid = got["tid"].to_numpy()
    out = {}
    for name in ("words", "unique_words"):
        out[name] = np.zeros(n, dtype=np.float64)
        out[name][tid] = got[name].to_numpy()
    return out


@functools.cache
def _count_exprs() -> tuple[pl.Expr, ...]:
    """The polars expressions of the regex counts of :func:`_text_matrix` (built once: building them
    cost a model call on a few pairs a quarter of a millisecond)."""
    col = pl.col("t")
    exprs = []
    for name, pats in _patterns().items():
        if name in _CHAR_CLASSES or name == "words":
            continue  # from ``_char_counts`` and ``words``
        if name == "inline_code":
            e = (col.str.extract_all(pats[0]).list.eval(~pl.element().str.ends_with("``"))
                 .list.sum().fill_null(0).cast(pl.Int64))
        else:
            e = _count(col, pats[0])
            if len(pats) == 2:
                e = e - _count(col, pats[1])
        exprs.append(e.alias(name))
    return tuple(exprs)


def _repeated_lines(text: str) -> int:
    """Non-blank lines (stripped) that repeat an earlier one. Python's own split and strip: a polars
    list pass cost five times as much on a few texts and no less on thousands."""
    lines = [line for line in (part.strip() for part in text.split("\n")) if line]
    return len(lines) - len(set(lines))


def _text_matrix(sides: list[list[str]], texts: list[str], word_stats: dict[str, np.ndarray]) -> np.ndarray:
    """(n, len(TEXT_FEATURES)) float32: the features of each conversation side, one vectorised pass;
    ``texts`` are the joined sides, ``word_stats`` their :func:`_word_stats`."""
    frame = pl.DataFrame({"t": string_series(texts)}).select(_count_exprs())
    c = {name: frame[name].to_numpy().astype(np.float64) for name in frame.columns}
    m = len(texts)
    c.update(_char_counts(texts))
    c.update(word_stats)
    n, n_words = c["chars"], c["words"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = {k: np.where(n_words > 0, c[v] / n_words, 0.0) for k, v in
                 (("unique_word_ratio", "unique_words"), ("avg_word_len", "word_chars"))}
        scripts = {f"script_{s}": np.where(n > 0, c[f"script_{s}"] / n, 0.0) for s in _SCRIPT_NAMES}
        non_ascii = np.where(n > 0, c["non_ascii"] / n, 0.0)
    derived = {**ratio, **scripts, "non_ascii": non_ascii,
               "words_per_sentence": n_words / np.maximum(c["sentences"], 1),
               "compress_ratio": np.array(_compress_ratios(texts), dtype=np.float64),
               "repeated_lines": np.array([_repeated_lines(t) for t in texts], dtype=np.float64),
               "empty_turns": np.array([sum(1 for t in turns if not t.strip()) for turns in sides], dtype=np.float64)}
    out = np.empty((m, len(TEXT_FEATURES)), dtype=np.float32)
    for j, name in enumerate(TEXT_FEATURES):
        out[:, j] = derived[name] if name in derived else c[name]
    return out


def _compress_ratios(texts: list[str]) -> list[float]:
    n_workers = min(threads.workers(), len(texts) // 256)
    if n_workers < 2:
        return [_compress_ratio(t) for t in texts]
    # zlib releases the GIL: one slice of the texts per core (a future per text cost more than it saved)
    step = -(-len(texts) // n_workers)
    parts = threads.pool("texts").map(lambda i: [_compress_ratio(t) for t in texts[i:i + step]],
                                      range(0, len(texts), step))
    return [ratio for part in parts for ratio in part]


def _compress_ratio(text: str) -> float:
    sample = text[:20000].encode("utf-8", "surrogatepass")
    return len(zlib.compress(sample, 1)) / len(sample) if sample else 1.0


def _overlap_matrix(triples: list[tuple[int, int, int]], sides: list[list[str]], words: pl.DataFrame | None,
                    sizes: np.ndarray, sets: WordSets | None = None) -> np.ndarray:
    """(n, 6): turn count, Jaccard overlaps of the lower-cased word sets and the identical flag, for
    triples of (prompt, a, b) indices into ``sides`` / ``words``; ``sizes``: distinct words per side."""
    idx = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    n = len(idx)
    # |X ∪ Y| per pair and pairing (prompt-a, prompt-b, a-b): distinct words over both texts;
    # |X ∩ Y| = |X| + |Y| - |X ∪ Y|
    pairings = ((0, 1), (0, 2), (1, 2))
    if sets is not None:
        union = sets.unions(np.concatenate([idx[:, x] for x, _ in pairings]),
                            np.concatenate([idx[:, y] for _, y in pairings])).reshape(3, n).T
    else:  # in one join
        assert words is not None
        link = pl.DataFrame({"key": np.concatenate([np.arange(n) * 3 + j for j in range(3) for _ in range(2)]),
                             "tid": np.concatenate([idx[:, side] for x, y in pairings for side in (x, y)])},
                            schema={"key": pl.Int64, "tid": pl.UInt32})
        both = link.join(words, on="tid").group_by("key").agg(pl.col("h").n_unique())
        flat = np.zeros(3 * n, dtype=np.float64)
        flat[both["key"].to_numpy()] = both["h"].to_numpy()
        union = flat.reshape(n, 3)
    overlaps = []
    for j, (x, y) in enumerate(pairings):
        inter = sizes[idx[:, x]] + sizes[idx[:, y]] - union[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            overlaps.append(np.where(union[:, j] > 0, inter / union[:, j], 1.0))
    pa, pb, ab = overlaps
    turns = np.array([len(sides[p]) for p in idx[:, 0]], dtype=np.float64)
    identical = np.array([float(sides[a] == sides[b]) for _, a, b in idx], dtype=np.float64)
    return np.column_stack([turns, pa, pb, pa - pb, ab, identical]).astype(np.float32)


def text_features(turns: list[str]) -> np.ndarray:
    """The :data:`TEXT_FEATURES` vector of one conversation side (not cached)."""
    text = join_turns(turns)
    words, sets = _word_table([text])
    return _text_matrix([turns], [text], _word_stats(words, 1, sets))[0]


_CHUNK_PAIRS = 2048  # two in flight: the word tables of 4,096 pairs in memory, as one chunk held before


def pair_features(pairs: pd.DataFrame, *, progress: bool = False) -> pd.DataFrame:
    """Numeric features of each pair (see module doc); one row per pair, same order.

    ``progress`` is accepted for compatibility; the vectorised pass has no per-row loop to report."""
    return pd.DataFrame(pair_feature_matrix(pairs), columns=list(PAIR_FEATURES), index=pairs.index)


def pair_feature_matrix(pairs: pd.DataFrame) -> np.ndarray:
    """:func:`pair_features` as a float32 matrix whose columns are :data:`PAIR_FEATURES` (no frame: for a
    handful of pairs, as a service scores them, building one cost as much as the features)."""
    columns = [pairs[c].tolist() for c in ("prompt", "response_a", "response_b")]
    with stage("hand-made features"):
        n = len(columns[0])
        if n <= _CHUNK_PAIRS:
            return _pair_matrix(*columns)
        # rows are independent: chunks keep the word tables of a few thousand texts in memory, not 170k;
        # two at a time, since polars and numpy release the GIL while the other chunk runs Python
        starts = range(0, n, _CHUNK_PAIRS)
        return np.vstack(list(threads.pool("chunks").map(
            lambda i: _pair_matrix(*(col[i:i + _CHUNK_PAIRS] for col in columns)), starts)))


def _store(cache: dict[bytes, np.ndarray], keys: list[bytes], rows: np.ndarray) -> None:
    room = _CACHE_LIMIT - len(cache)
    if room > 0:
        cache.update(zip(keys[:room], rows[:room]))


def _pair_matrix(prompts: list[list[str]], responses_a: list[list[str]], responses_b: list[list[str]]
                 ) -> np.ndarray:
    columns = [prompts, responses_a, responses_b]
    n = len(prompts)
    keys = [[_key("\x00".join(t)) for t in col] for col in columns]
    pair_keys = [b"".join(k) for k in zip(*keys)]
    # the distinct texts that a missing text row or a missing pair row needs, each described once
    slot: dict[bytes, int] = {}
    sides: list[list[str]] = []

    def need(key: bytes, turns: list[str]) -> int:
        if key not in slot:
            slot[key] = len(sides)
            sides.append(turns)
        return slot[key]

    # rows taken from the caches now, once: another thread (a second batch in flight) may clear them
    known_text: dict[bytes, np.ndarray] = {}
    known_pair: dict[bytes, np.ndarray] = {}
    missing_pairs: dict[bytes, tuple[int, int, int]] = {}
    for i, pk in enumerate(pair_keys):
        if pk in known_pair or pk in missing_pairs:
            continue
        if (row := _pair_cache.get(pk)) is not None:
            known_pair[pk] = row
        else:
            missing_pairs[pk] = (need(keys[0][i], columns[0][i]), need(keys[1][i], columns[1][i]),
                                 need(keys[2][i], columns[2][i]))
    for s in range(3):
        for key, turns in zip(keys[s], columns[s]):
            if key not in known_text:
                if (row := _cache.get(key)) is not None:
                    known_text[key] = row
                else:
                    need(key, turns)
    if sides:
        texts = [join_turns(t) for t in sides]
        words, sets = _word_table(texts)
        stats = _word_stats(words, len(sides), sets)
        text_rows = [k for k in slot if k not in known_text]
        if text_rows:
            which = [slot[k] for k in text_rows]
            matrix = _text_matrix([sides[j] for j in which], [texts[j] for j in which],
                                  {name: values[which] for name, values in stats.items()})
            known_text.update(zip(text_rows, matrix))
            _store(_cache, text_rows, matrix)
        if missing_pairs:
            overlap = _overlap_matrix(list(missing_pairs.values()), sides, words, stats["unique_words"], sets)
            known_pair.update(zip(missing_pairs, overlap))
            _store(_pair_cache, list(missing_pairs), overlap)
    width = len(TEXT_FEATURES)

    def rows(col_keys: list[bytes], known: dict[bytes, np.ndarray], dim: int) -> np.ndarray:
        if not col_keys:
            return np.zeros((0, dim), dtype=np.float32)
        return np.vstack([known[k] for k in col_keys])

    fp = rows(keys[0], known_text, width)[:, _PROMPT_IDX]
    fa, fb = rows(keys[1], known_text, width), rows(keys[2], known_text, width)
    ex = rows(pair_keys, known_pair, len(_OVERLAP_FEATURES))
    assert len(fa) == n
    if not n:
        return np.zeros((0, len(PAIR_FEATURES)), dtype=np.float32)
    total = fa + fb
    diff = fa - fb
    rel = np.divide(diff, total, out=np.zeros_like(total), where=total != 0)
    # columns a, b, diff, rel of each text feature in turn (see PAIR_FEATURES)
    per_side = np.stack([fa, fb, diff, rel], axis=2).reshape(n, 4 * width)
    return np.concatenate([per_side, fp, ex], axis=1, dtype=np.float32)
