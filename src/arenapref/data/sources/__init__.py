"""Adapters for public preference data sets: each reads one published schema into the canonical table.

Every adapter has the reader signature of :data:`arenapref.data.readers.FORMAT_READERS`
(``path, *, on_bad_row, allow_soft_labels, source``) and tags its rows with a ``source`` (the data
set's name unless ``source=`` says otherwise), so the domain travels with every row.
:func:`sniff_format` names the format of a file from its columns/keys where they are unambiguous.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arenapref.data.rows import open_text
from arenapref.data.sources.arena_conversations import read_arena_conversations
from arenapref.data.sources.autoj import read_autoj
from arenapref.data.sources.copilot_arena import read_copilot_arena
from arenapref.data.sources.dpo import read_dpo
from arenapref.data.sources.hh_rlhf import read_hh_rlhf
from arenapref.data.sources.llmbar import read_llmbar
from arenapref.data.sources.mt_bench import read_mt_bench
from arenapref.data.sources.pandalm import read_pandalm, read_pandalm_soft
from arenapref.data.sources.ultrafeedback import read_ultrafeedback

MAX_SNIFF_CHARS = 1 << 24
SOURCE_READERS: dict[str, Any] = {
    "arena-conversations": read_arena_conversations,
    "mt-bench": read_mt_bench,
    "pandalm": read_pandalm,
    "pandalm-soft": read_pandalm_soft,
    "autoj": read_autoj,
    "llmbar": read_llmbar,
    "hh-rlhf": read_hh_rlhf,
    "ultrafeedback": read_ultrafeedback,
    "dpo": read_dpo,
    "copilot-arena": read_copilot_arena,
}


def _first_record(path: Path) -> dict[str, Any] | list[str] | None:
    """The first JSON object (JSONL line or first element of a JSON list), or the CSV header as a list."""

    with open_text(path) as handle:
        line = handle.readline()
        while line and not line.strip():
            line = handle.readline()
        text = line.lstrip()
        if path.name.lower().endswith((".csv", ".csv.gz")):
            import csv

            return next(csv.reader([text]), None)
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                return None  # a pretty-printed object spanning lines: not JSONL, no sniffing
            return obj if isinstance(obj, dict) else None
        if text.startswith("["):
            # a JSON list: decode its first element from the head of the file only
            body = (text[1:] + handle.read(MAX_SNIFF_CHARS)).lstrip()
            try:
                obj, _ = json.JSONDecoder().raw_decode(body)
            except (json.JSONDecodeError, RecursionError):
                return None
            return obj if isinstance(obj, dict) else None
    return None


def format_from_keys(keys: set[str], first: dict[str, Any] | None = None) -> str | None:
    """The format whose published schema these columns/keys are, or ``None`` when it is not clear."""
    first = first or {}
    if {"prompt", "response_a", "response_b"} <= keys:
        return "kaggle" if "acceptedIndex" not in keys and first.get("_csv") else "canonical"
    if {"prefix", "suffix", "acceptedIndex", "completion_a", "completion_b"} <= keys:
        return "copilot-arena"
    if {"conversation_a", "conversation_b", "winner"} <= keys:
        if keys & {"anony", "language", "tstamp", "openai_moderation", "toxic_chat_tag"}:
            return "arena-conversations"
        if "turn" in keys and isinstance(first.get("question_id"), int):
            return "mt-bench"  # MT-Bench question ids are small integers, arena ids are hex strings
        return None
    if {"instruction", "response1", "response2", "annotator1"} <= keys:
        return "pandalm"
    if {"prompt", "response 1", "response 2", "label"} <= keys:
        return "autoj"
    if {"input", "output_1", "output_2", "label"} <= keys:
        return "llmbar"
    if {"instruction", "completions"} <= keys:
        return "ultrafeedback"
    if {"chosen", "rejected"} <= keys:
        if "prompt" in keys:
            return "dpo"
        chosen = first.get("chosen")
        if isinstance(chosen, str) and chosen.lstrip().startswith("Human:"):
            return "hh-rlhf"
        return None
    return None


def sniff_format(path: str | Path) -> str | None:
    """Format name from the first record's keys (CSV header for ``.csv``); ``None`` if unknown or ambiguous."""
    path = Path(path)
    first = _first_record(path)
    if first is None:
        return None
    if isinstance(first, list):
        return format_from_keys({c.strip().lstrip("\ufeff") for c in first}, {"_csv": True})
    return format_from_keys(set(first), first)
