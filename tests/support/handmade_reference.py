"""Hand-made features of each text (style, structure, refusals, script) and of the pair.

``text_features`` describes one text; ``pair_features`` turns a pairs table into a numeric frame with,
for every per-response feature, the value for A, for B, their difference and the relative difference
(A − B) / (A + B). Names follow ``features.swap``: swapping A and B exchanges ``*_a``/``*_b`` and negates
``*_diff``/``*_rel`` exactly, so the swapped frame never needs a second pass over the text.

Per-text features are cached in memory by text hash, because cross-validation asks for the same
texts once per fold.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

_WORD = re.compile(r"\w+", re.UNICODE)
_PATTERNS: dict[str, re.Pattern[str]] = {
    "lines": re.compile(r"\n"),
    "paragraphs": re.compile(r"\n\s*\n"),
    "list_items": re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.MULTILINE),
    "numbered_items": re.compile(r"^\s*\d+[.)]\s+", re.MULTILINE),
    "headers": re.compile(r"^\s*#{1,6}\s+\S", re.MULTILINE),
    "bold": re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),
    "code_blocks": re.compile(r"```"),
    "inline_code": re.compile(r"(?<!`)`[^`\n]+`(?!`)"),
    "links": re.compile(r"https?://|www\.", re.IGNORECASE),
    "table_rows": re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE),
    "sentences": re.compile(r"[.!?。！？]+(?:\s|$)"),
    "questions": re.compile(r"[?？]"),
    "exclamations": re.compile(r"[!！]"),
    "digits": re.compile(r"\d"),
    "uppercase": re.compile(r"[A-Z]"),
    "punctuation": re.compile(r"[.,;:!?()\[\]{}\"'«»“”‘’\-–—]"),
    "emoji": re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]"),
    "latex": re.compile(r"\$[^$\n]+\$|\\\(|\\\[|\\frac|\\begin\{"),
}
_REFUSAL = re.compile(
    r"\b(?:i(?:'| a)?m (?:sorry|unable|not able)|i can(?:no|')t|i cannot|i won'?t be able|"
    r"as an ai|as a language model|language model|i do not have (?:access|the ability|personal)|"
    r"i don'?t have (?:access|the ability|personal)|not appropriate|against my|i must decline|"
    r"i'm not comfortable|unethical|not able to (?:provide|assist|help))",
    re.IGNORECASE,
)
_APOLOGY = re.compile(r"\b(?:sorry|apologi[sz]e|apologies|my mistake|i apologi)", re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:however|it depends|it is important to|note that|keep in mind|consult)\b",
                    re.IGNORECASE)
_SCRIPTS: dict[str, re.Pattern[str]] = {
    "latin": re.compile(r"[A-Za-z\u00C0-\u024F]"),
    "cyrillic": re.compile(r"[\u0400-\u04FF]"),
    "cjk": re.compile(r"[\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF]"),
    "arabic": re.compile(r"[\u0600-\u06FF]"),
}

TEXT_FEATURES: tuple[str, ...] = (
    "chars", "words", "unique_words", "unique_word_ratio", "avg_word_len", "words_per_sentence",
    *_PATTERNS, "refusals", "apologies", "hedges", *(f"script_{s}" for s in _SCRIPTS), "non_ascii",
    "repeated_lines", "compress_ratio", "empty_turns",
)
PROMPT_FEATURES: tuple[str, ...] = ("chars", "words", "lines", "questions", "code_blocks", "script_latin",
                                     "script_cjk", "script_cyrillic", "non_ascii")
_PROMPT_IDX = [TEXT_FEATURES.index(name) for name in PROMPT_FEATURES]
_cache: dict[bytes, np.ndarray] = {}
_pair_cache: dict[bytes, tuple[float, ...]] = {}
_CACHE_LIMIT = 2_000_000


def clear_cache() -> None:
    """Forget cached per-text features (a long-running scorer sees each text once; CV sees it per fold)."""
    _cache.clear()
    _pair_cache.clear()


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def join_turns(turns: Iterable[str]) -> str:
    return "\n\n".join(turns)


def _compute(turns: list[str]) -> np.ndarray:
    text = join_turns(turns)
    n = len(text)
    words = _WORD.findall(text)
    n_words = len(words)
    counts = {name: len(p.findall(text)) for name, p in _PATTERNS.items()}
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    repeated = len(lines) - len(set(lines)) if lines else 0
    sample = text[:20000].encode("utf-8", "surrogatepass")
    compress = len(zlib.compress(sample, 1)) / len(sample) if sample else 1.0
    scripts = [len(p.findall(text)) / n if n else 0.0 for p in _SCRIPTS.values()]
    non_ascii = sum(1 for ch in text if ord(ch) > 127) / n if n else 0.0
    unique = len({w.lower() for w in words})
    values = [
        n, n_words, unique, unique / n_words if n_words else 0.0,
        sum(map(len, words)) / n_words if n_words else 0.0,
        n_words / max(counts["sentences"], 1),
        *counts.values(),
        len(_REFUSAL.findall(text)), len(_APOLOGY.findall(text)), len(_HEDGE.findall(text)),
        *scripts, non_ascii, repeated, compress, sum(1 for t in turns if not t.strip()),
    ]
    return np.asarray(values, dtype=np.float32)


def text_features(turns: list[str]) -> np.ndarray:
    """The :data:`TEXT_FEATURES` vector of one conversation side (cached)."""
    key = _key("\x00".join(turns))
    found = _cache.get(key)
    if found is None:
        found = _compute(turns)
        if len(_cache) < _CACHE_LIMIT:
            _cache[key] = found
    return found


def _words(turns: list[str]) -> set[str]:
    return {w.lower() for w in _WORD.findall(join_turns(turns))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if (a or b) else 1.0


def _overlap_features(prompt: list[str], resp_a: list[str], resp_b: list[str]) -> tuple[float, ...]:
    """Turn count, word overlaps and the identical flag of one pair (cached: word sets are the slow part)."""
    key = _key("\x01".join(["\x00".join(prompt), "\x00".join(resp_a), "\x00".join(resp_b)]))
    found = _pair_cache.get(key)
    if found is None:
        wp, wa, wb = _words(prompt), _words(resp_a), _words(resp_b)
        found = (len(prompt), _jaccard(wp, wa), _jaccard(wp, wb), _jaccard(wp, wa) - _jaccard(wp, wb),
                 _jaccard(wa, wb), float(resp_a == resp_b))
        if len(_pair_cache) < _CACHE_LIMIT:
            _pair_cache[key] = found
    return found


def pair_features(pairs: pd.DataFrame, *, progress: bool = False) -> pd.DataFrame:
    """Numeric features of each pair (see module doc); one row per pair, same order."""
    rows_a, rows_b, rows_p, extra = [], [], [], []
    iterator = zip(pairs["prompt"], pairs["response_a"], pairs["response_b"])
    for prompt, resp_a, resp_b in tqdm(iterator, total=len(pairs), desc="features", disable=None if progress else True,
                                       leave=False):
        rows_p.append(text_features(prompt)[_PROMPT_IDX])
        rows_a.append(text_features(resp_a))
        rows_b.append(text_features(resp_b))
        extra.append(_overlap_features(prompt, resp_a, resp_b))
    fa, fb = np.vstack(rows_a) if rows_a else np.zeros((0, len(TEXT_FEATURES))), \
        np.vstack(rows_b) if rows_b else np.zeros((0, len(TEXT_FEATURES)))
    fp = np.vstack(rows_p) if rows_p else np.zeros((0, len(PROMPT_FEATURES)))
    cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(TEXT_FEATURES):
        cols[f"{name}_a"] = fa[:, j]
        cols[f"{name}_b"] = fb[:, j]
        cols[f"{name}_diff"] = fa[:, j] - fb[:, j]
        total = fa[:, j] + fb[:, j]
        cols[f"{name}_rel"] = np.divide(fa[:, j] - fb[:, j], total, out=np.zeros(len(total), dtype=np.float32),
                                        where=total != 0)
    for j, name in enumerate(PROMPT_FEATURES):
        cols[f"prompt_{name}"] = fp[:, j]
    ex = np.asarray(extra, dtype=np.float32).reshape(-1, 6)
    for j, name in enumerate(("turns", "overlap_prompt_a", "overlap_prompt_b", "overlap_prompt_diff",
                              "overlap_ab", "identical")):
        cols[name] = ex[:, j]
    return pd.DataFrame(cols, index=pairs.index)
