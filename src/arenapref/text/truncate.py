"""Token budgets: how many tokens of each section and each turn survive, and which ones.

The contract (documented in docs/transformers.md and tested in tests/test_text_truncation.py):

1. The fixed template tokens (headers, BOS, the closing question) are always kept; what remains of
   ``max_length`` is the content budget.
2. The content budget is split between prompt / response A / response B by ``shares``
   (default 20% / 40% / 40%) with water-filling: a section shorter than its share keeps everything
   and its unused tokens go to the other sections in proportion to their shares.
3. Each response then gets at least ``min(min_response_tokens, its length)`` tokens, taken from the
   prompt's allocation (the responses are what the label is about).
4. Inside a section, the allocation is split over its turns the same way (equal weights, water-filling),
   so a short late turn is never dropped because an early turn was long.
5. A turn longer than its allocation is cut by ``mode``: ``right`` keeps the start, ``left`` keeps the
   end, ``head_tail`` keeps ``head_fraction`` of the allocation from the start and the rest from the end.

Allocations never exceed ``max_length`` in total; the result is deterministic and depends only on
token counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MODES = ("right", "left", "head_tail")


@dataclass(frozen=True)
class TruncationConfig:
    max_length: int = 1024
    shares: tuple[float, float, float] = (0.2, 0.4, 0.4)
    min_response_tokens: int = 32
    mode: str = "head_tail"
    head_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"truncation mode must be one of {MODES}, got {self.mode!r}")
        if len(self.shares) != 3 or any(s < 0 for s in self.shares) or sum(self.shares) <= 0:
            raise ValueError(f"shares must be three non-negative numbers (prompt, A, B), got {self.shares}")
        if not 0.0 <= self.head_fraction <= 1.0:
            raise ValueError(f"head_fraction must be in [0, 1], got {self.head_fraction}")
        if self.max_length < 16:
            raise ValueError(f"max_length must be at least 16 tokens, got {self.max_length}")
        object.__setattr__(self, "shares", tuple(float(s) for s in self.shares))


def water_fill(lengths: Sequence[int], weights: Sequence[float], budget: int) -> list[int]:
    """Integer allocation ``<= lengths`` summing to ``min(budget, sum(lengths))``, proportional to weights.

    Items that need less than their proportional share are satisfied first; the rest share what is left.
    Leftover single tokens after flooring go to the largest fractional parts (ties: lower index first).
    """
    n = len(lengths)
    alloc = [0] * n
    active = [i for i in range(n) if lengths[i] > 0 and weights[i] > 0]
    remaining = max(0, int(budget))
    while active and remaining > 0:
        wsum = sum(weights[i] for i in active)
        share = {i: remaining * weights[i] / wsum for i in active}
        done = [i for i in active if lengths[i] <= share[i]]
        if done:
            for i in done:
                alloc[i] = lengths[i]
                remaining -= lengths[i]
            active = [i for i in active if i not in done]
            continue
        floors = {i: int(share[i]) for i in active}
        for i in active:
            alloc[i] = floors[i]
        left = remaining - sum(floors.values())
        order = sorted(active, key=lambda i: (-(share[i] - floors[i]), i))
        for i in order[:left]:
            alloc[i] += 1
        remaining = 0
    return alloc


def cut(ids: Sequence[int], keep: int, mode: str, head_fraction: float = 0.5) -> list[int]:
    """The ``keep`` tokens of ``ids`` that survive truncation ``mode``."""
    ids = list(ids)
    if keep >= len(ids):
        return ids
    if keep <= 0:
        return []
    if mode == "right":
        return ids[:keep]
    if mode == "left":
        return ids[len(ids) - keep:]
    head = int(round(keep * head_fraction))
    tail = keep - head
    return ids[:head] + (ids[len(ids) - tail:] if tail else [])


def section_budgets(lengths: Sequence[int], content_budget: int, config: TruncationConfig) -> list[int]:
    """Tokens kept for (prompt, A, B) given their full lengths (rules 2 and 3 of the contract)."""
    alloc = water_fill(lengths, config.shares, content_budget)
    for r in (1, 2):
        need = min(config.min_response_tokens, lengths[r]) - alloc[r]
        if need > 0:
            take = min(need, alloc[0])
            alloc[0] -= take
            alloc[r] += take
    return alloc
