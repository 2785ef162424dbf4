"""Public-format adapters: real files from ../shared/data and small hand-written fixtures in each schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenapref.cli import main
from arenapref.data.readers import FORMAT_READERS, detect_format, read_pairs
from arenapref.data.schema import LABEL_COLUMNS, labels_of, swap_pairs
from arenapref.data.sources import SOURCE_READERS, sniff_format
from arenapref.data.sources.common import coin
from arenapref.data.validation import DataError

FIX = Path(__file__).parent / "fixtures" / "sources"


def label_counts(frame: pd.DataFrame) -> list[int]:
    return np.bincount(labels_of(frame), minlength=3).tolist()


def test_every_adapter_is_registered():
    for name in ("arena-conversations", "mt-bench", "pandalm", "pandalm-soft", "autoj", "llmbar", "hh-rlhf",
                 "ultrafeedback", "dpo", "copilot-arena"):
        assert FORMAT_READERS[name] is SOURCE_READERS[name]


# ----------------------------------------------------------------------------- real files
@pytest.mark.parametrize("rel, fmt, rows, counts, source", [
    ("arena-conversations-33k/sample.jsonl", "arena-conversations", 10, [5, 3, 2], "arena-conversations"),
    ("pandalm/testset-v1.json", "pandalm", 999, [422, 472, 105], "pandalm"),
    ("auto-j/testdata_pairwise.jsonl", "autoj", 1392, [520, 499, 373], "auto-j"),
    ("llmbar/LLMBar_Natural.json", "llmbar", 100, [42, 58, 0], "llmbar"),
    ("hh-rlhf/harmless-base-test.jsonl.gz", "hh-rlhf", 2312, None, "hh-rlhf"),
])
def test_real_public_files(shared_data, rel, fmt, rows, counts, source):
    path = shared_data / rel
    assert detect_format(path) == fmt
    frame = read_pairs(path)
    assert len(frame) == rows and frame["id"].is_unique
    assert set(frame["source"]) == {source}
    if counts is not None:
        assert label_counts(frame) == counts
    lens = frame[["prompt", "response_a", "response_b"]].map(len)
    assert (lens["prompt"] == lens["response_a"]).all() and (lens["prompt"] == lens["response_b"]).all()


def test_arena_conversations_real_row(shared_data):
    frame = read_pairs(shared_data / "arena-conversations-33k" / "sample.jsonl")
    raw = json.loads((shared_data / "arena-conversations-33k" / "sample.jsonl").read_text().splitlines()[0])
    row = frame.iloc[0]
    assert row["id"] == f"arena33k-{raw['question_id']}"
    assert row["prompt"] == [raw["conversation_a"][0]["content"]]
    assert row["response_b"] == [raw["conversation_b"][1]["content"]]
    assert row["model_a"] == raw["model_a"] and labels_of(frame)[0] == 1  # winner model_b


def test_hh_rlhf_splits_shared_context_and_balances_sides(shared_data):
    frame = read_pairs(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz")
    a, b, tie = label_counts(frame)
    assert tie == 0 and abs(a - b) < 0.1 * len(frame)  # seeded coin, not "chosen is always A"
    multi = frame.loc[frame["prompt"].map(len) > 1].iloc[0]
    assert multi["response_a"][:-1] == multi["response_b"][:-1]  # earlier assistant turns are shared
    assert multi["response_a"][-1] != multi["response_b"][-1]
    again = read_pairs(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz")
    assert np.array_equal(labels_of(frame), labels_of(again))


def test_mt_bench_canonical_file_gets_domain_source(shared_data):
    frame, _ = FORMAT_READERS["mt-bench"](shared_data / "mt-bench-human" / "mt_bench_human.jsonl")
    assert len(frame) == 2558 and set(frame["source"]) == {"mt-bench-human"}
    assert label_counts(frame) == [785, 1171, 602]


def test_pandalm_majority_and_soft_votes(shared_data):
    path = shared_data / "pandalm" / "testset-v1.json"
    hard = read_pairs(path)
    soft, _ = FORMAT_READERS["pandalm-soft"](path)
    raw = json.loads(path.read_text())
    # idx 157: votes (1, 1, 0) -> A by majority, soft 2/3 A, 1/3 tie; its response1 is JSON `true`
    i = next(k for k, r in enumerate(raw) if r["idx"] == 157)
    assert hard.iloc[i]["response_a"] == ["True"]
    assert labels_of(hard.iloc[[i]])[0] == 0
    np.testing.assert_allclose(soft.iloc[i][list(LABEL_COLUMNS)].to_numpy(float), [2 / 3, 0, 1 / 3])
    assert hard.iloc[i]["prompt"][0].startswith(raw[i]["instruction"])
    np.testing.assert_allclose(soft[list(LABEL_COLUMNS)].sum(axis=1), 1.0)


def test_llmbar_files_stack_with_unique_ids(shared_data):
    frames = [read_pairs(p) for p in sorted((shared_data / "llmbar").glob("*.json"))]
    ids = pd.concat(frames)["id"]
    assert len(ids) == 885 and ids.is_unique


def test_copilot_arena_reads_bare_carriage_returns(shared_data):
    path = shared_data / "copilot-arena" / "copilot_arena_examples_v1.csv"
    assert detect_format(path) == "copilot-arena"
    with pytest.raises(DataError, match="acceptedIndex"):
        read_pairs(path)  # one row has no vote
    frame = read_pairs(path, on_bad_row="skip")
    assert len(frame) == 112 and label_counts(frame) == [92, 20, 0]
    assert all("<CURSOR>" in p[0] for p in frame["prompt"])


# ----------------------------------------------------------------------------- hand-written fixtures
def test_ultrafeedback_pairs_from_ratings():
    assert sniff_format(FIX / "ultrafeedback.jsonl") == "ultrafeedback"
    frame = read_pairs(FIX / "ultrafeedback.jsonl")
    assert list(frame["id"]) == ["uf-1-0-1", "uf-1-0-2", "uf-1-1-2", "uf-2-0-1"]
    by_id = frame.set_index("id")

    def winner(row_id: str) -> str | None:
        row = by_id.loc[row_id]
        cls = int(np.argmax(row[list(LABEL_COLUMNS)].to_numpy(float)))
        return [row["model_a"], row["model_b"], None][cls]

    assert winner("uf-1-0-1") == "gpt-4"
    assert winner("uf-1-0-2") is None  # equal fine-grained scores: tie
    assert winner("uf-1-1-2") == "falcon-40b-instruct"
    assert winner("uf-2-0-1") == "gpt-3.5-turbo"  # from annotation ratings, "N/A" ignored
    overall, _ = FORMAT_READERS["ultrafeedback"](FIX / "ultrafeedback.jsonl", rating="overall_score")
    assert labels_of(overall.set_index("id").loc[["uf-1-0-2"]].reset_index())[0] != 2


def test_dpo_strings_message_lists_and_score_ties():
    assert sniff_format(FIX / "dpo.jsonl") == "dpo"
    frame = read_pairs(FIX / "dpo.jsonl")
    assert list(frame["id"]) == ["dpo-1", "dpo-p-7", "dpo-3"]
    first = frame.iloc[0]
    chosen_side = "response_a" if labels_of(frame)[0] == 0 else "response_b"
    assert first["prompt"] == ["What is 2 + 2?"] and first[chosen_side] == ["4"]
    assert frame.iloc[1]["prompt"] == ["Say hi in French."]
    assert labels_of(frame)[2] == 2  # equal scores


def test_mt_bench_public_schema_keeps_the_judged_turns():
    assert sniff_format(FIX / "mt_bench_public.jsonl") == "mt-bench"
    frame = read_pairs(FIX / "mt_bench_public.jsonl")
    assert list(frame["id"]) == ["mtb-81-alpaca-13b-gpt-3.5-turbo-t1", "mtb-81-alpaca-13b-gpt-3.5-turbo-t2",
                                 "mtb-81-alpaca-13b-gpt-3.5-turbo-t1~2"]
    assert frame["prompt"].map(len).tolist() == [1, 2, 1]
    assert frame.iloc[1]["response_b"] == ["Soft rain on tin roofs / ...", "Quiet snow settles / ..."]
    assert label_counts(frame) == [0, 2, 1]


def test_arena_conversations_multi_turn_and_bad_winner(tmp_path):
    path = FIX / "arena_conv_multi.jsonl"
    with pytest.raises(DataError) as err:
        read_pairs(path)
    msg = str(err.value)
    assert "arena_conv_multi.jsonl" in msg and "line 2" in msg and "field 'winner'" in msg
    frame = read_pairs(path, on_bad_row="skip")
    assert len(frame) == 1 and len(frame.attrs["bad_rows"]) == 1
    assert frame.iloc[0]["prompt"] == ["hi", "¿Qué hora es?"] and labels_of(frame)[0] == 2  # tie (bothbad)


def test_hh_rlhf_rejects_transcripts_that_differ_early():
    with pytest.raises(DataError, match=r"line 2.*field 'rejected'.*differ"):
        FORMAT_READERS["hh-rlhf"](FIX / "hh_small.jsonl")
    frame, bad = FORMAT_READERS["hh-rlhf"](FIX / "hh_small.jsonl", on_bad_row="skip")
    assert len(frame) == 1 and len(bad) == 1
    assert frame.iloc[0]["prompt"] == ["Hi", "Tell me a joke."]
    assert frame.iloc[0]["response_a"][0] == "Hello, how can I help?"


def test_wrong_format_names_missing_keys(shared_data):
    with pytest.raises(DataError, match="not the pandalm format"):
        FORMAT_READERS["pandalm"](shared_data / "auto-j" / "testdata_pairwise.jsonl")


def test_coin_is_deterministic_and_fair():
    flips = [coin(0, f"row-{i}") for i in range(2000)]
    assert flips == [coin(0, f"row-{i}") for i in range(2000)]
    assert 900 < sum(flips) < 1100
    assert flips != [coin(1, f"row-{i}") for i in range(2000)]


# ----------------------------------------------------------------------------- data convert
def test_convert_command_roundtrip(shared_data, tmp_path, capsys):
    out = tmp_path / "llmbar.parquet"
    files = [str(p) for p in sorted((shared_data / "llmbar").glob("*.json"))]
    assert main(["data", "convert", "--from", "llmbar", *files, "--out", str(out), "--source", "llmbar-all"]) == 0
    assert "wrote 885 rows" in capsys.readouterr().out
    back = read_pairs(out)
    assert len(back) == 885 and set(back["source"]) == {"llmbar-all"}
    # refuses to overwrite, and a bad input leaves nothing behind
    assert main(["data", "convert", files[0], "--out", str(out)]) == 2
    bad_out = tmp_path / "bad.jsonl"
    assert main(["data", "convert", str(FIX / "arena_conv_multi.jsonl"), "--out", str(bad_out)]) == 2
    assert not bad_out.exists() and "field 'winner'" in capsys.readouterr().err


def test_convert_seed_changes_sides_only(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    # seeds 0 and 1 put both non-tie rows on opposite sides
    assert main(["data", "convert", "--from", "dpo", str(FIX / "dpo.jsonl"), "--out", str(a), "--seed", "0"]) == 0
    assert main(["data", "convert", "--from", "dpo", str(FIX / "dpo.jsonl"), "--out", str(b), "--seed", "1"]) == 0
    fa, fb = read_pairs(a), read_pairs(b)
    assert (labels_of(fa)[:2] != labels_of(fb)[:2]).all()
    for i in range(2):
        swapped = swap_pairs(fa.iloc[[i]]).iloc[0]
        assert swapped["response_a"] == fb.iloc[i]["response_a"] and swapped["prompt"] == fb.iloc[i]["prompt"]
        np.testing.assert_array_equal(swapped[list(LABEL_COLUMNS)].to_numpy(float),
                                      fb.iloc[i][list(LABEL_COLUMNS)].to_numpy(float))
    assert main(["data", "convert", "--from", "autoj", str(FIX / "dpo.jsonl"), "--out", str(tmp_path / "c.jsonl"),
                 "--seed", "1"]) == 2


JSONL_FORMATS = {  # one valid record per JSON Lines public format
    "hh-rlhf": {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"},
    "dpo": {"prompt": "hi", "chosen": "hello", "rejected": "go away"},
}


@pytest.mark.parametrize("fmt", sorted(JSONL_FORMATS))
@pytest.mark.parametrize("broken", ["{not json", "[1, 2]", "[" * 100_000])
def test_a_broken_jsonl_line_in_a_public_format_is_a_bad_row(tmp_path: Path, fmt: str, broken: str) -> None:
    path = tmp_path / "in.jsonl"
    good = json.dumps(JSONL_FORMATS[fmt])
    path.write_text(f"{good}\n{broken}\n{good.replace('hello', 'hey')}\n")
    with pytest.raises(DataError, match="line 2"):
        read_pairs(path, fmt=fmt)
    frame, bad = FORMAT_READERS[fmt](path, on_bad_row="skip")
    assert [b.line for b in bad] == [2] and len(frame) >= 2
    # as the first record (a leading "[" reads as one JSON list, which then fails to parse): still one error
    (tmp_path / "first.jsonl").write_text(f"{broken}\n{good}\n")
    with pytest.raises(DataError, match="first.jsonl"):
        read_pairs(tmp_path / "first.jsonl", fmt=fmt)
