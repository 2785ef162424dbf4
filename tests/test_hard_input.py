"""Hard input through the CLI: every bad file gets one clear error (file, line, id, field), exit status 2
and no output at all; the valid-but-nasty inputs (lone surrogates, a 5 MB answer) work.

The bad files are hand-written in tests/fixtures/bad/ (a few rows each); the big ones are generated here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from arenapref.cli import main
from arenapref.data.readers import read_pairs

BAD = Path(__file__).parent / "fixtures" / "bad"

# file -> substrings the one-line error must contain (the file name is always checked too)
CASES: dict[str, list[str]] = {
    "missing_column.csv": ["missing column(s) ['response_b']"],
    "extra_column.csv": ["unexpected column(s) ['comment']"],
    "broken_json_cell.csv": ["line 3", "id 102", "field 'response_a'", "not valid JSON"],
    "unequal_turns.csv": ["line 3", "id 102", "field 'response_b'", "unequal turn counts"],
    "invalid_utf8.csv": ["line 3", "id 102", "field 'response_a'", "invalid UTF-8"],
    "invalid_utf8_id.csv": ["line 3", "field 'id'", "invalid UTF-8"],
    "duplicate_ids.csv": ["line 4", "id 101", "field 'id'", "duplicate id (first seen on line 2)"],
    "empty.csv": ["empty file"],
    "header_only.csv": ["no rows"],
    "labels_not_one_hot.csv": ["line 3", "id 102", "winner_model_a", "not a probability vector"],
    "labels_soft.csv": ["line 3", "id 102", "not one-hot"],
    "label_not_a_number.csv": ["line 3", "field 'winner_model_a'", "not a number"],
    "row_missing_cell.csv": ["line 3", "8 cells, the header has 9"],
    "row_extra_cell.csv": ["line 3", "10 cells, the header has 9"],
    "not_object.jsonl": ["line 2", "expected a JSON object per line, got list"],
    "broken_line.jsonl": ["line 2", "not valid JSON"],
    "invalid_utf8.jsonl": ["line 2", "invalid UTF-8"],
    "missing_key.jsonl": ["line 2", "id 202", "field 'response_b'", "missing key"],
    "unequal_turns.jsonl": ["line 2", "id 202", "field 'response_b'", "unequal turn counts"],
    "duplicate_ids.jsonl": ["line 3", "id 201", "field 'id'", "duplicate id (first seen on line 1)"],
    "wrong_type.jsonl": ["line 2", "id 202", "field 'response_a'", "turn 0 is int"],
    "empty.jsonl": ["empty file"],
}
# batch scores unlabelled pairs: it ignores label columns, so label problems are not its business
LABEL_ONLY = {"labels_not_one_hot.csv", "labels_soft.csv", "label_not_a_number.csv"}



@pytest.fixture(scope="module")
def length_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "length.yaml"
    path.write_text("model:\n  type: length\ncv:\n  n_folds: 2\n", encoding="utf-8")
    return path


def commands(data: Path, out: Path, run: Path, config: Path) -> dict[str, list[str]]:
    cmds = {
        "data validate": ["data", "validate", str(data)],
        "train": ["train", "--data", str(data), "--config", str(config), "--out", str(out / "run")],
        "predict": ["predict", "--run", str(run), "--data", str(data), "--out", str(out / "submission.csv")],
    }
    if data.name.endswith(".jsonl") and data.name not in LABEL_ONLY:
        cmds["batch"] = ["batch", "--run", str(run), "--input", str(data), "--output", str(out / "scores.jsonl"),
                         "--quiet"]
    return cmds


def assert_clean_failure(argv: list[str], data: Path, expected: list[str], out: Path,
                         capsys: pytest.CaptureFixture) -> None:
    rc = main(argv)
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert rc == 2, (argv, captured.out, captured.err)
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert str(data) in lines[0] or data.name in lines[0]
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert list(out.iterdir()) == [], f"{argv[0]} left output behind: {list(out.iterdir())}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_fails_cleanly_everywhere(name: str, length_run: Path, length_config: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    data = BAD / name
    for label, argv in commands(data, tmp_path, length_run, length_config).items():
        try:
            assert_clean_failure(argv, data, CASES[name], tmp_path, capsys)
        except AssertionError as err:
            raise AssertionError(f"{label} on {name}: {err}") from None


def test_ten_thousand_turns_is_refused(length_run: Path, length_config: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "in" / "many_turns.jsonl"
    data.parent.mkdir()
    turns = [f"turn {i}" for i in range(10_000)]
    row = {"id": "t1", "prompt": turns, "response_a": turns, "response_b": turns,
           "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0}
    data.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    expected = ["line 1", "id t1", "field 'prompt'", "10000 turns; at most 1000"]
    for argv in commands(data, out, length_run, length_config).values():
        assert_clean_failure(argv, data, expected, out, capsys)


def test_lone_surrogates_are_repaired_not_fatal(length_run: Path, tmp_path: Path) -> None:
    for name in ("lone_surrogate.csv", "lone_surrogate.jsonl"):
        pairs = read_pairs(BAD / name)
        text = " ".join(t for col in ("prompt", "response_a", "response_b") for t in pairs[col].iloc[1])
        assert "\ufffd" in text  # a lone surrogate escape becomes U+FFFD
        if name.endswith(".csv"):
            assert "😀" in text  # while an escaped surrogate pair is joined into its character
        text.encode("utf-8")  # valid Unicode: every output file can hold it
        sub = tmp_path / f"{name}.submission.csv"
        assert main(["predict", "--run", str(length_run), "--data", str(BAD / name), "--out", str(sub)]) == 0
        assert len(pd.read_csv(sub)) == 2


def test_five_megabyte_answer_is_scored(length_run: Path, tmp_path: Path) -> None:
    huge = ("This answer goes on and on, in English and на русском и 中文. " * 90_000)[:5_000_000]
    rows = [{"id": "big", "prompt": ["Tell me everything."], "response_a": [huge], "response_b": ["No."]},
            {"id": "small", "prompt": ["Hi"], "response_a": ["Hello!"], "response_b": ["Hey."]}]
    data = tmp_path / "big.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert data.stat().st_size > 5_000_000
    start = time.perf_counter()
    assert main(["predict", "--run", str(length_run), "--data", str(data), "--out", str(tmp_path / "s.csv")]) == 0
    assert main(["batch", "--run", str(length_run), "--input", str(data), "--output", str(tmp_path / "s.jsonl"),
                 "--quiet"]) == 0
    assert time.perf_counter() - start < 60
    assert pd.read_csv(tmp_path / "s.csv")["id"].tolist() == ["big", "small"]
    scores = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [s["id"] for s in scores] == ["big", "small"]


def test_exit_status_of_the_real_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "arenapref.cli", "data", "validate", str(BAD / "not_object.jsonl")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "not_object.jsonl, line 2: expected a JSON object per line" in proc.stderr
