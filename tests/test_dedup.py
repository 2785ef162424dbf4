"""Exact / near-duplicate detection and train-vs-test leak reports, on hand-made rows and real files."""

from __future__ import annotations

import numpy as np
import pytest

from arenapref.cli import main
from arenapref.data.dedup import DedupConfig, find_duplicates, find_leaks
from arenapref.data.readers import read_pairs
from arenapref.data.schema import make_pairs, swap_pairs

LONG_A = ("The capital of France is Paris. It is known for the Eiffel Tower, the Louvre museum, wide boulevards, "
          "cafes along the Seine and a long history as a centre of art, fashion and science in Europe.")
LONG_B = ("Paris is the capital city of France and its largest city, home to about two million people in the "
          "city proper and more than twelve million in the wider metropolitan area around it.")


def table():
    prompts = ["What is the capital of France?", "What is the capital of France?", "  what is the CAPITAL of "
               "france? ", "What is the capital of France?", "Write a poem about the sea."]
    a = [LONG_A, LONG_B, LONG_A, LONG_A.replace("wide boulevards", "broad avenues"), "Waves on waves."]
    b = [LONG_B, LONG_A, LONG_B, LONG_B, "The sea is blue and deep."]
    t = np.eye(3)[[0, 0, 0, 2, 1]]
    return make_pairs(prompts, a, b, targets=t, ids=["r0", "r1", "r2", "r3", "r4"])


def test_exact_duplicates_in_either_order_and_label_conflicts():
    report = find_duplicates(table())
    # r1 is r0 with A/B swapped (and the same winner *model* would be B, so its label A conflicts);
    # r2 differs only in case and spacing of the prompt
    assert report.cluster.tolist()[:3] == [0, 0, 0]
    assert report.exact_rows == 2
    assert report.label_conflicts == 1
    assert report.kind[1] == "exact" and report.kind[4] == ""


def test_swapped_copy_with_swapped_label_is_no_conflict():
    pairs = table().iloc[[0]]
    both = make_pairs([*pairs["prompt"], *swap_pairs(pairs)["prompt"]],
                      [*pairs["response_a"], *swap_pairs(pairs)["response_a"]],
                      [*pairs["response_b"], *swap_pairs(pairs)["response_b"]],
                      targets=np.eye(3)[[0, 1]])
    report = find_duplicates(both)
    assert report.exact_rows == 1 and report.label_conflicts == 0


def test_near_duplicate_small_edit_is_found_unrelated_is_not():
    report = find_duplicates(table())
    assert report.cluster[3] == 0 and report.kind[3] == "near"
    assert report.near_rows == 1 and report.cluster[4] == 4
    strict = find_duplicates(table(), DedupConfig(threshold=0.99))
    assert strict.cluster[3] == 3
    assert strict.keep.sum() == 3


def test_leak_report_kinds():
    train = table().iloc[[0, 4]].reset_index(drop=True)
    test = make_pairs(["what is the capital of france?", "Write a poem about the sea.", "Unrelated prompt here"],
                      [LONG_B, "Something else entirely.", "x y z"],
                      [LONG_A.replace("the Louvre museum", "the Louvre"), "Other words.", "a b c"],
                      ids=["t0", "t1", "t2"])
    leaks = find_leaks(train, test)
    assert leaks.test_rows("near") == 1 and leaks.test_rows("prompt") == 1 and leaks.test_rows("exact") == 0
    assert set(leaks.leaks["test_id"]) == {"t0", "t1"}
    assert leaks.leaking_train_rows() == {"r0"}
    assert leaks.leaking_train_rows(("exact", "near", "prompt")) == {"r0", "r4"}


def test_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        DedupConfig(threshold=0.0)


def test_real_mt_bench_duplicates_and_llmbar_leak(shared_data, tmp_path, capsys):
    mtb = shared_data / "mt-bench-human" / "mt_bench_human.jsonl"
    report = find_duplicates(read_pairs(mtb))
    # several experts judged the same pairs: many exact repeats, some with different votes
    assert report.exact_rows > 500 and report.label_conflicts > 50
    processed = shared_data / "llmbar" / "Processed_MT-Bench.json"
    out, rep = tmp_path / "clean.jsonl", tmp_path / "leaks.csv"
    assert main(["data", "dedup", str(mtb), "--against", str(processed), "--out", str(out),
                 "--report", str(rep)]) == 0
    text = capsys.readouterr().out
    assert "exact       200 test rows (100.0%)" in text  # LLMBar's MT-Bench set is drawn from these judgments
    clean = read_pairs(out)
    assert len(clean) < 2558
    assert find_leaks(clean, read_pairs(processed)).test_rows("exact") == 0
    assert main(["data", "dedup", str(mtb), "--out", str(out)]) == 2  # exists, no --force


def test_dedup_command_within_one_file(tmp_path, capsys):
    from arenapref.data.readers import write_pairs

    src = tmp_path / "t.jsonl"
    write_pairs(table(), src)
    out, rep = tmp_path / "d.jsonl", tmp_path / "r.csv"
    assert main(["data", "dedup", str(src), "--out", str(out), "--report", str(rep)]) == 0
    assert "2 exact duplicates" in capsys.readouterr().out
    assert read_pairs(out)["id"].tolist() == ["r0", "r4"]
    assert rep.read_text().splitlines()[1:] == ["r1,r0,exact", "r2,r0,exact", "r3,r0,near"]
