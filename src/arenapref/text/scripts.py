"""Writing systems, by Unicode block: the one table the features, the data statistics and the report use.

Each consumer groups blocks its own way (the GBDT features count Chinese, Japanese and Korean as one
``cjk`` share; the report names them apart), but the code point ranges live only here. Patterns come
in two syntaxes: Python's ``re`` (``\\uXXXX``) and the Rust regex crate that polars uses (``\\x{XXXX}``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

# block -> inclusive code point ranges
BLOCKS: dict[str, tuple[tuple[int, int], ...]] = {
    "latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)),
    "cyrillic": ((0x400, 0x4FF),),
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF)),
    "kana": ((0x3040, 0x30FF),),
    "hangul": ((0xAC00, 0xD7AF),),
    "hangul_jamo": ((0x1100, 0x11FF),),
    "arabic": ((0x600, 0x6FF),),
    "devanagari": ((0x900, 0x97F),),
    "greek": ((0x370, 0x3FF),),
    "hebrew": ((0x590, 0x5FF),),
    "thai": ((0xE00, 0xE7F),),
}

# the GBDT's per-text script shares (feature names script_<key>); changing one changes the features
FEATURE_SCRIPTS: dict[str, tuple[str, ...]] = {
    "latin": ("latin",),
    "cyrillic": ("cyrillic",),
    "cjk": ("kana", "han", "hangul"),
    "arabic": ("arabic",),
}
# `arenapref data stats`: the script a prompt is written in, to guess its language
STATS_SCRIPTS: dict[str, tuple[str, ...]] = {
    "latin": ("latin",), "cyrillic": ("cyrillic",), "cjk": ("kana", "han"), "hangul": ("hangul",),
    "arabic": ("arabic",), "devanagari": ("devanagari",), "greek": ("greek",), "hebrew": ("hebrew",),
    "thai": ("thai",),
}
# the report's per-script breakdown, in words
REPORT_SCRIPTS: dict[str, tuple[str, ...]] = {
    "Latin": ("latin",), "Cyrillic": ("cyrillic",), "Chinese (Han)": ("han",), "Japanese (kana)": ("kana",),
    "Korean (Hangul)": ("hangul_jamo", "hangul"), "Arabic": ("arabic",), "Devanagari": ("devanagari",),
    "Greek": ("greek",), "Hebrew": ("hebrew",), "Thai": ("thai",),
}


def _code(cp: int, rust: bool) -> str:
    if cp < 0x80:
        return re.escape(chr(cp))
    return f"\\x{{{cp:04X}}}" if rust else f"\\u{cp:04X}"


def char_class(blocks: Sequence[str], *, rust: bool = False) -> str:
    """A regex character class matching any character of ``blocks``."""
    parts = [f"{_code(lo, rust)}-{_code(hi, rust)}" for block in blocks for lo, hi in BLOCKS[block]]
    return "[" + "".join(parts) + "]"


@functools.cache
def _compiled(groups: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, re.Pattern[str]]:
    return {name: re.compile(char_class(blocks)) for name, blocks in groups}


def script_patterns(groups: Mapping[str, tuple[str, ...]]) -> dict[str, re.Pattern[str]]:
    """One compiled Python pattern per group of blocks (cached)."""
    return _compiled(tuple(groups.items()))


def script_counts(text: str, groups: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """How many characters of ``text`` belong to each group."""
    return {name: len(pattern.findall(text)) for name, pattern in script_patterns(groups).items()}
