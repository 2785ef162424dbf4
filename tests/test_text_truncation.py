"""The truncation contract of arenapref.text on long multi-turn real rows and on hand-made cases."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arenapref.text.render import SECTIONS, PairRenderer, truncation_report
from arenapref.text.truncate import TruncationConfig, cut, section_budgets, water_fill


def byte_encode(text: str) -> list[int]:
    """A real, lossless tokeniser (UTF-8 bytes): every character of any script costs 1-4 tokens."""
    return list(text.encode("utf-8"))


def renderer(max_length: int = 512, **kw) -> PairRenderer:
    return PairRenderer(byte_encode, TruncationConfig(max_length=max_length, **kw), bos_id=1)


@given(st.lists(st.integers(0, 500), min_size=1, max_size=6), st.integers(0, 2000))
@settings(max_examples=200, deadline=None)
def test_water_fill_respects_lengths_and_budget(lengths: list[int], budget: int) -> None:
    alloc = water_fill(lengths, [1.0] * len(lengths), budget)
    assert all(0 <= a <= n for a, n in zip(alloc, lengths))
    assert sum(alloc) == min(budget, sum(lengths))
    # fairness: an item that was cut got at least as much as any other item
    for a, n in zip(alloc, lengths):
        if a < n:
            assert all(a >= other - 1 for other in alloc)


def test_section_budgets_shares_and_spill_over() -> None:
    cfg = TruncationConfig(max_length=1000, shares=(0.2, 0.4, 0.4), min_response_tokens=32)
    assert section_budgets([1000, 1000, 1000], 1000, cfg) == [200, 400, 400]
    # a short prompt gives its unused share to the responses, in proportion to their shares
    assert section_budgets([50, 1000, 1000], 1000, cfg) == [50, 475, 475]
    # a short response keeps everything; the other response and the prompt share the rest 1:2
    assert section_budgets([1000, 100, 1000], 1000, cfg) == [300, 100, 600]
    # everything fits: nothing cut
    assert section_budgets([10, 20, 30], 1000, cfg) == [10, 20, 30]


def test_min_response_tokens_taken_from_prompt() -> None:
    cfg = TruncationConfig(max_length=100, shares=(0.9, 0.05, 0.05), min_response_tokens=20)
    alloc = section_budgets([500, 500, 500], 100, cfg)
    assert alloc[1] == alloc[2] == 20 and alloc[0] == 60


@pytest.mark.parametrize("mode,expected", [("right", [0, 1, 2, 3]), ("left", [6, 7, 8, 9]),
                                           ("head_tail", [0, 1, 8, 9])])
def test_cut_modes(mode: str, expected: list[int]) -> None:
    assert cut(list(range(10)), 4, mode) == expected
    assert cut(list(range(3)), 4, mode) == [0, 1, 2]


def test_bad_config_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="truncation mode"):
        TruncationConfig(mode="middle")
    with pytest.raises(ValueError, match="shares"):
        TruncationConfig(shares=(0.5, 0.5))


def test_contract_on_long_multi_turn_real_rows(arena_pairs: pd.DataFrame) -> None:
    multi = arena_pairs.loc[arena_pairs["prompt"].map(len) >= 3].head(40)
    assert len(multi) >= 10
    r = renderer(max_length=512, min_response_tokens=48)
    rendered = r.render_pairs(multi)
    report = truncation_report(rendered)
    assert report["truncated"].any()
    for row, item in zip(multi.itertuples(), rendered):
        rep = item.report
        assert len(item.input_ids) == rep.length <= 512
        for name, turns in zip(SECTIONS, (row.prompt, row.response_a, row.response_b)):
            full = sum(len(byte_encode(t or "")) for t in turns)
            assert rep.tokens[name] == full
            assert rep.kept[name] <= full
            assert sum(rep.turns_cut[name]) == full - rep.kept[name]
        for name in ("response_a", "response_b"):
            assert rep.kept[name] >= min(48, rep.tokens[name])
        # turn-aware: every non-empty turn that is not dropped keeps some tokens
        for name, turns in zip(SECTIONS, (row.prompt, row.response_a, row.response_b)):
            kept = [len(byte_encode(t or "")) - c for t, c in zip(turns, rep.turns_cut[name])]
            assert all(k > 0 for k, t in list(zip(kept, turns))[rep.turns_dropped:] if t)
            assert all(k == 0 for k in kept[:rep.turns_dropped])
        # the fixed template is intact: it starts with BOS and ends with the question
        assert item.input_ids[0] == 1 and item.input_ids[-len(r.question):] == r.question
        # when truncated, the whole budget is used
        if rep.truncated:
            assert rep.length == 512


def test_kept_text_is_head_and_tail_of_each_turn() -> None:
    r = renderer(max_length=200, shares=(0.2, 0.4, 0.4), min_response_tokens=10, mode="head_tail")
    long_a = "A" * 100 + "M" * 500 + "Z" * 100
    item = r.render(["hi"], [long_a], ["short answer"], row_id="x")
    text = bytes(t for t in item.input_ids[1:] if t < 256).decode("utf-8")
    kept_a = text.split("<response_a>:")[1].split("\n\n<response_b>:")[0]
    assert kept_a.startswith("A") and kept_a.endswith("Z") and item.report.kept["response_a"] == len(kept_a)
    assert "short answer" in text and item.report.kept["prompt"] == 2


def test_non_english_and_empty_turns() -> None:
    r = renderer(max_length=128)
    item = r.render(["", "日本語の質問です"], ["Ответ " * 50, ""], ["🙂" * 40, None], row_id="u")
    assert len(item.input_ids) <= 128
    assert item.report.tokens["response_b"] == len("🙂".encode()) * 40
    with pytest.raises(ValueError, match="row tiny: max_length 16 leaves no room"):
        PairRenderer(byte_encode, TruncationConfig(max_length=16)).render(["a"], ["b"], ["c"], row_id="tiny")


def test_a_conversation_too_long_for_its_template_loses_its_oldest_turns() -> None:
    """40 turns at 256 tokens: the separators alone would not fit, so the oldest turns go whole (all
    three sections alike) until the template takes at most half; the latest exchange is kept."""
    r = renderer(max_length=256, min_response_tokens=8)
    n = 40
    prompt = [f"q{i}" for i in range(n)]
    item = r.render(prompt, [f"a{i} " * 5 for i in range(n)], [f"b{i} " * 5 for i in range(n)], row_id="long")
    rep = item.report
    assert 0 < rep.turns_dropped < n - 1 and len(item.input_ids) == rep.length <= 256
    kept_turns = n - rep.turns_dropped
    assert 2 * r.fixed_tokens([kept_turns] * 3) <= 256 < 2 * r.fixed_tokens([kept_turns + 1] * 3)
    text = bytes(t for t in item.input_ids[1:] if t < 256).decode("utf-8")
    prompt_part = text.split("<response_a>")[0]
    assert f"q{n - 1}" in prompt_part and f"q{rep.turns_dropped - 1}\n" not in prompt_part
    assert rep.truncated and rep.row()["turns_dropped"] == rep.turns_dropped
    for name in SECTIONS:  # what was dropped counts as cut: full = kept + cut
        assert rep.tokens[name] == rep.kept[name] + sum(rep.turns_cut[name])
        assert len(rep.turns_cut[name]) == n
    assert r.render(["q"], ["a"], ["b"]).report.turns_dropped == 0
