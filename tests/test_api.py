"""The Python API (arenapref.load -> Judge) and `arenapref compare`, on a small run trained on real rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import arenapref
from arenapref.api import Judge
from arenapref.cli import main
from arenapref.data.inputs import InputError
from arenapref.data.schema import swap_pairs


def test_import_is_light() -> None:
    code = "import sys, arenapref; print('pandas' in sys.modules, callable(arenapref.load))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_compare_returns_probabilities_and_verdict(judge: Judge) -> None:
    result = judge.compare("How do I sort a list in Python?", "Use sorted(xs) or xs.sort().",
                           "I cannot help with that.")
    probs = np.array([result.p_a, result.p_b, result.p_tie])
    assert np.all(probs > 0) and probs.sum() == pytest.approx(1.0)
    assert result.verdict == ("A", "B", "tie")[int(probs.argmax())]
    assert set(result.to_dict()) == {"winner_model_a", "winner_model_b", "winner_tie", "verdict"}


def test_predict_matches_the_run_and_the_saved_model(judge: Judge, arena_pairs: pd.DataFrame) -> None:
    rows = arena_pairs.iloc[200:260].reset_index(drop=True)
    proba = judge.predict(rows)
    assert proba.shape == (60, 3)
    np.testing.assert_array_equal(proba, arenapref.load(judge.run_dir).predict_pairs(rows, swap_tta=True))
    # swap averaging is on by default: swapping the answers swaps the A and B columns exactly
    swapped = judge.predict(swap_pairs(rows))
    np.testing.assert_allclose(swapped, proba[:, [1, 0, 2]], atol=1e-9)
    no_tta = judge.predict(rows, swap_tta=False)
    np.testing.assert_allclose(no_tta, judge.model.predict_proba(rows, swap_tta=False), atol=1e-12)
    assert np.abs(no_tta - proba).max() > 0


def test_compare_agrees_with_predict_for_multi_turn_rows(judge: Judge, arena_pairs: pd.DataFrame) -> None:
    multi = arena_pairs[arena_pairs["prompt"].map(len) > 1].iloc[:3]
    assert len(multi) == 3
    table = judge.predict(multi)
    for i, row in enumerate(multi.itertuples()):
        result = judge.compare(list(row.prompt), list(row.response_a), list(row.response_b))
        np.testing.assert_allclose([result.p_a, result.p_b, result.p_tie], table[i], atol=1e-9)
    many = judge.compare_many([(r.prompt, r.response_a, r.response_b) for r in multi.itertuples()])
    np.testing.assert_allclose([[c.p_a, c.p_b, c.p_tie] for c in many], table, atol=1e-9)


def test_predict_accepts_plain_strings_and_ignores_other_columns(judge: Judge) -> None:
    frame = pd.DataFrame({"prompt": ["Hi", ["Name a colour", "Another?"]],
                          "response_a": ["Hello!", ["Red", "Blue"]],
                          "response_b": ["Hey", ["Green", None]],
                          "note": ["x", "y"]})
    proba = judge.predict(frame)
    assert proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize(("args", "field"), [
    ((["a", "b"], "x", "y"), "response_a"),
    (("a", ["x"], ["y", "z"]), "response_b"),
    ((None, "x", "y"), "prompt"),
    (("a", 7, "y"), "response_a"),
    (("a", ["x", 3], "y"), "response_a"),
    (("a", [], "y"), "response_a"),
])
def test_bad_arguments_name_the_field(judge: Judge, args: tuple, field: str) -> None:
    with pytest.raises(InputError) as info:
        judge.compare(*args)
    assert info.value.field == field
    assert f"field '{field}'" in str(info.value)


def test_predict_names_the_bad_row(judge: Judge) -> None:
    frame = pd.DataFrame({"prompt": ["a", "b", "c"], "response_a": ["x", ["y", "z"], "w"],
                          "response_b": ["x", "y", "w"]})
    with pytest.raises(InputError) as info:
        judge.predict(frame)
    assert str(info.value) == "row 1, field 'response_a': unequal turn counts (prompt=1, response_a=2, response_b=1)"
    with pytest.raises(InputError, match="missing column"):
        judge.predict(frame.drop(columns=["response_b"]))


def test_lone_surrogates_and_non_english_text_score(judge: Judge) -> None:
    result = judge.compare("Как дела? \ud83d", "Хорошо, спасибо! 😀", "我很好\udc80")
    assert 0 < result.p_a < 1 and result.verdict in {"A", "B", "tie"}


def test_load_errors_are_clear(tmp_path: Path) -> None:
    from arenapref.runs import RunError

    with pytest.raises(RunError, match="no such run directory"):
        arenapref.load(tmp_path / "nope")
    with pytest.raises(RunError, match="manifest.json: missing"):
        arenapref.load(tmp_path)


def test_compare_command_prints_json(length_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    answer = tmp_path / "long_answer.txt"
    answer.write_text("A long answer\nwith several lines.\n" * 50, encoding="utf-8")
    rc = main(["compare", "--run", str(length_run), "--prompt", "Explain recursion", "--a", f"@{answer}",
               "--b", "It calls itself."])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    judge = arenapref.load(length_run)
    expected = judge.compare("Explain recursion", answer.read_text(encoding="utf-8"), "It calls itself.")
    assert out["winner_model_a"] == pytest.approx(expected.p_a)
    assert out["verdict"] == expected.verdict and out["swap_tta"] is True


def test_compare_command_multi_turn_and_errors(length_run: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["compare", "--run", str(length_run), "--prompt", "hi", "--prompt", "and?",
               "--a", "hello", "--a", "more", "--b", "hey", "--b", "yes"])
    assert rc == 0 and "verdict" in capsys.readouterr().out
    rc = main(["compare", "--run", str(length_run), "--prompt", "hi", "--prompt", "and?", "--a", "x", "--b", "y"])
    err = capsys.readouterr().err
    assert rc == 2 and "field 'response_a'" in err and "unequal turn counts" in err
    rc = main(["compare", "--run", str(length_run), "--prompt", "hi", "--a", "@/no/such/file", "--b", "y"])
    assert rc == 2 and "no such file" in capsys.readouterr().err


def test_a_saved_model_that_no_longer_fits_fails_at_load(length_run: Path, tmp_path: Path) -> None:
    import json
    import shutil

    from arenapref.runs import write_manifest

    broken = tmp_path / "run"
    shutil.copytree(length_run, broken)
    saved = broken / "model" / "length.json"
    state = json.loads(saved.read_text())
    state["mean"] = state["mean"][:3]  # as if the feature set had changed since training
    saved.write_text(json.dumps(state))
    write_manifest(broken)  # a consistent run, written by code with other features
    with pytest.raises(ValueError, match="length.json: damaged"):
        arenapref.load(broken)


def test_judge_rank_is_rank_answers(judge: Judge) -> None:
    from arenapref.ranking import rank_answers

    answers = ["4", "It is 4.", "## Answer\n\n2 + 2 = **4**, because adding two and two gives four."]
    via_judge = judge.rank("What is 2+2?", answers)
    direct = rank_answers(judge, "What is 2+2?", answers)
    assert via_judge.to_dict() == direct.to_dict()
    assert sorted(via_judge.order) == [0, 1, 2] and via_judge.best == via_judge.order[0]
