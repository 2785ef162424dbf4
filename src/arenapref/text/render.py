"""Render one pair (prompt turns, A turns, B turns) into model input ids under the truncation contract.

Layout (token level, each piece tokenised on its own so budgets are exact)::

    [BOS] "<prompt>:" p1 "\\n---\\n" p2 ... "\\n\\n<response_a>:" a1 "\\n---\\n" a2 ...
          "\\n\\n<response_b>:" b1 ... "\\n\\nWhich response is better?"

A conversation whose template (headers, one separator per turn boundary, question) would take more than
half of ``max_length`` loses its oldest turns, whole and from all three sections alike, until it takes no
more (the latest exchange is the one voted on); the report counts them (``turns_dropped``).

The closing question is fixed text, so the last token is never the pad token (decoder classifiers pool
the last non-pad token) and the model reads both responses before it is pooled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from arenapref.text.truncate import TruncationConfig, cut, section_budgets, water_fill

SECTIONS = ("prompt", "response_a", "response_b")
HEADERS = {"prompt": "<prompt>:", "response_a": "\n\n<response_a>:", "response_b": "\n\n<response_b>:"}
TURN_SEPARATOR = "\n---\n"
QUESTION = "\n\nWhich response is better?"

Encode = Callable[[str], list[int]]


@dataclass
class TruncationReport:
    """What one rendered pair kept: per section the full and kept token counts, per turn the cut count."""

    id: str
    tokens: dict[str, int]
    kept: dict[str, int]
    turns_cut: dict[str, list[int]] = field(default_factory=dict)
    length: int = 0
    turns_dropped: int = 0  # oldest turns left out whole (their template would not fit)

    @property
    def truncated(self) -> bool:
        return self.turns_dropped > 0 or any(self.kept[s] < self.tokens[s] for s in SECTIONS)

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "length": self.length, "truncated": self.truncated,
                               "turns_dropped": self.turns_dropped}
        for s in SECTIONS:
            out[f"{s}_tokens"] = self.tokens[s]
            out[f"{s}_kept"] = self.kept[s]
            out[f"{s}_turns_cut"] = sum(1 for c in self.turns_cut.get(s, []) if c > 0)
        return out


@dataclass
class RenderedPair:
    input_ids: list[int]
    report: TruncationReport


def tokenizer_encoder(tokenizer: Any) -> Encode:
    """Plain text -> ids with no special tokens added (special-token strings in user text stay text)."""

    def encode(text: str) -> list[int]:
        if not text:
            return []
        try:
            return list(tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])
        except TypeError:  # tokenizers without split_special_tokens
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    return encode


class PairRenderer:
    """Turns canonical pairs into truncated input ids; caches the ids of the fixed template pieces."""

    def __init__(self, encode: Encode, config: TruncationConfig, *, bos_id: int | None = None) -> None:
        self.encode = encode
        self.config = config
        self.bos = [bos_id] if bos_id is not None else []
        self.headers = {s: encode(HEADERS[s]) for s in SECTIONS}
        self.separator = encode(TURN_SEPARATOR)
        self.question = encode(QUESTION)

    def fixed_tokens(self, turns_per_section: Sequence[int]) -> int:
        seps = sum(max(0, n - 1) for n in turns_per_section) * len(self.separator)
        return len(self.bos) + sum(len(h) for h in self.headers.values()) + seps + len(self.question)

    def render(self, prompt: Sequence[str], response_a: Sequence[str], response_b: Sequence[str],
               *, row_id: str = "") -> RenderedPair:
        turns = [[self.encode(t or "") for t in section] for section in (prompt, response_a, response_b)]
        full = [sum(len(t) for t in section) for section in turns]
        dropped = 0
        while (min(len(t) for t in turns) - dropped > 1
               and 2 * self.fixed_tokens([len(t) - dropped for t in turns]) > self.config.max_length):
            dropped += 1
        gone = [[len(t) for t in section[:dropped]] for section in turns]  # cut whole
        turns = [section[dropped:] for section in turns]
        fixed = self.fixed_tokens([len(t) for t in turns])
        budget = self.config.max_length - fixed
        if budget < 3:
            raise ValueError(f"row {row_id}: max_length {self.config.max_length} leaves no room for text "
                             f"after {fixed} template tokens ({len(turns[0])} turns)")
        lengths = [sum(len(t) for t in section) for section in turns]
        section_alloc = section_budgets(lengths, budget, self.config)
        ids = list(self.bos)
        report = TruncationReport(id=row_id, tokens=dict(zip(SECTIONS, full)), kept={}, turns_cut={},
                                  turns_dropped=dropped)
        for name, section, alloc, cut_whole in zip(SECTIONS, turns, section_alloc, gone):
            per_turn = water_fill([len(t) for t in section], [1.0] * len(section), alloc)
            ids.extend(self.headers[name])
            kept = 0
            for k, (turn, keep) in enumerate(zip(section, per_turn)):
                if k:
                    ids.extend(self.separator)
                piece = cut(turn, keep, self.config.mode, self.config.head_fraction)
                ids.extend(piece)
                kept += len(piece)
            report.kept[name] = kept
            report.turns_cut[name] = cut_whole + [len(t) - k for t, k in zip(section, per_turn)]
        ids.extend(self.question)
        report.length = len(ids)
        return RenderedPair(ids, report)

    def render_pairs(self, pairs: pd.DataFrame) -> list[RenderedPair]:
        return [self.render(p, a, b, row_id=str(i)) for i, p, a, b in
                zip(pairs["id"], pairs["prompt"], pairs["response_a"], pairs["response_b"])]


def truncation_report(rendered: Sequence[RenderedPair]) -> pd.DataFrame:
    """One row per pair: full/kept tokens per section, turns cut, final length, truncated flag."""
    return pd.DataFrame([r.report.row() for r in rendered])


def config_dict(config: TruncationConfig) -> dict[str, Any]:
    out = asdict(config)
    out["shares"] = list(config.shares)
    return out
