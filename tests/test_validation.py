"""Every validation error names the file, the row (line and id) and the field; skip mode reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arenapref.data.readers import load_pairs
from arenapref.data.validation import DataError

HEADER = "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
GOOD = '1,m1,m2,"[""hi""]","[""a""]","[""b""]",1,0,0\n'


def write(tmp_path: Path, body: str, name: str = "train.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


CASES = [
    # (body, expected fragments of the message)
    ('2,m1,m2,"[""hi""]","[""a""]","[""b""]",1,1,0\n', ["line 3", "id 2", "winner_model_a", "not a probability"]),
    ('2,m1,m2,"[""hi""]","[""a""]","[""b""]",0.5,0.5,0\n', ["line 3", "id 2", "not one-hot"]),
    ('2,m1,m2,"[""hi""]","[""a""]","[""b""]",,0,1\n', ["line 3", "field 'winner_model_a'", "empty cell"]),
    ('2,m1,m2,"[""hi""]","[""a""]","[""b""]",nan,0,1\n', ["line 3", "field 'winner_model_a'", "NaN"]),
    ('1,m1,m2,"[""x""]","[""a""]","[""b""]",0,1,0\n', ["line 3", "id 1", "field 'id'", "duplicate id", "line 2"]),
    ('2,m1,m2,"[""hi"",""again""]","[""a""]","[""b"",""c""]",1,0,0\n', ["line 3", "unequal turn counts"]),
    ('2,m1,m2,"[""hi""]","[]","[""b""]",1,0,0\n', ["line 3", "field 'response_a'", "no turns"]),
    ('2,m1,m2,"[""hi""]",,"[""b""]",1,0,0\n', ["line 3", "field 'response_a'", "empty cell"]),
    ('2,m1,m2,"[""hi""]","[""a""","[""b""]",1,0,0\n', ["line 3", "field 'response_a'", "not valid JSON"]),
    ('2,m1,m2,"[""hi""]","[""a""]","[3]",1,0,0\n', ["line 3", "field 'response_b'", "turn 0 is int"]),
    ('2,m1,m2,"{""a"": 1}","[""a""]","[""b""]",1,0,0\n', ["line 3", "field 'prompt'", "expected a list"]),
]


@pytest.mark.parametrize(("body", "fragments"), CASES)
def test_row_errors_name_file_line_id_field(tmp_path: Path, body: str, fragments: list[str]) -> None:
    path = write(tmp_path, GOOD + body)
    with pytest.raises(DataError) as info:
        load_pairs(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_multiline_cells_keep_the_right_line_number(tmp_path: Path) -> None:
    multi = '2,m1,m2,"[""turn one"",\n""turn two""]","[""a"",""x""]","[""b"",""y""]",1,0,0\n'
    bad = '3,m1,m2,"[""hi""]","[""a""]","[""b""]",1,1,1\n'
    with pytest.raises(DataError, match="line 5, id 3"):
        load_pairs(write(tmp_path, GOOD + multi + bad))


def test_invalid_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_bytes((HEADER + GOOD).encode() + b'2,m1,m2,"[""bad \xff\xfe byte""]","[""a""]","[""b""]",1,0,0\n')
    with pytest.raises(DataError, match=r"line 3, id 2, field 'prompt': invalid UTF-8"):
        load_pairs(path)


@pytest.mark.parametrize(("header", "fragment"), [
    ("id,model_a,model_b,prompt,response_a,winner_model_a,winner_model_b,winner_tie\n", "missing column(s) ['response_b']"),
    (HEADER.strip() + ",extra\n", "unexpected column(s) ['extra']"),
])
def test_column_errors(tmp_path: Path, header: str, fragment: str) -> None:
    path = write(tmp_path, "", header=header)
    with pytest.raises(DataError) as info:
        load_pairs(path)
    assert fragment in str(info.value)


def test_empty_file_and_no_rows(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty file"):
        load_pairs(empty)
    with pytest.raises(DataError, match="no rows"):
        load_pairs(write(tmp_path, ""))


def test_jsonl_errors(tmp_path: Path) -> None:
    good = {"id": "a", "prompt": ["p"], "response_a": ["x"], "response_b": ["y"],
            "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0}
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(good) + "\n[1, 2]\n")
    with pytest.raises(DataError, match="line 2: expected a JSON object"):
        load_pairs(path)
    path.write_text(json.dumps(good) + "\n{broken\n")
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        load_pairs(path)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "response_b"}) + "\n")
    with pytest.raises(DataError, match=r"missing key\(s\) \['response_b'\]"):
        load_pairs(path)
    path.write_text(json.dumps({**good, "winner_tie": None}) + "\n")
    with pytest.raises(DataError, match="line 1, id a, field 'winner_tie': empty cell"):
        load_pairs(path)


def test_skip_mode_reports_counts(tmp_path: Path) -> None:
    body = "".join(CASES[i][0].replace("2,", f"{10 + i},", 1) for i in (0, 5, 8))
    pairs, bad = load_pairs(write(tmp_path, GOOD + body), on_bad_row="skip")
    assert pairs["id"].tolist() == ["1"]
    assert len(bad) == 3
    assert {b.line for b in bad} == {3, 4, 5}
    assert all(b.path.endswith("train.csv") for b in bad)


def test_missing_file_and_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_pairs(tmp_path / "nope.csv")
    odd = tmp_path / "pairs.txt"
    odd.write_text("x")
    with pytest.raises(DataError, match="cannot tell the format"):
        load_pairs(odd)
