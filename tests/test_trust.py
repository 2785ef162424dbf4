"""Issue-9 edges: one-line errors for bad outputs and deep JSON, BOM JSONL, non-finite ids, HTTP repairs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import arenapref
from arenapref.cli import main
from arenapref.data.readers import load_pairs, read_pairs
from arenapref.data.validation import DataError

ROW = {"id": "r1", "model_a": "m1", "model_b": "m2", "prompt": ["hi"], "response_a": ["hello"],
       "response_b": ["hey"], "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0}


def _jsonl(path: Path, rows: list[dict], prefix: bytes = b"") -> Path:
    path.write_bytes(prefix + "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8"))
    return path


def test_jsonl_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    pairs = read_pairs(_jsonl(tmp_path / "bom.jsonl", [ROW, {**ROW, "id": "r2"}], prefix=b"\xef\xbb\xbf"))
    assert list(pairs["id"]) == ["r1", "r2"]


def test_a_non_finite_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inf.jsonl"
    path.write_text(json.dumps(ROW).replace('"r1"', "1e400") + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1.*field 'id'.*finite"):
        read_pairs(path)


def test_deeply_nested_json_is_a_bad_row_not_a_crash(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + '{"id": "r2", "prompt": ' + deep + "}\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2.*nested too deeply"):
        read_pairs(path)
    pairs, bad = load_pairs(path, on_bad_row="skip")
    assert list(pairs["id"]) == ["r1"] and len(bad) == 1
    csv_path = tmp_path / "deep.csv"
    header = "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
    csv_path.write_text(header + f'1,a,b,"{deep}","[""x""]","[""y""]",1,0,0\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2.*field 'prompt'.*nested too deeply"):
        read_pairs(csv_path)


def test_train_refuses_an_out_under_a_file_before_reading_data(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    rc = main(["train", "--data", str(tmp_path / "never-read.csv"), "--out", str(blocker / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "is a file, not a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_train_refuses_a_read_only_out_folder_before_cv(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        rc = main(["train", "--data", str(tmp_path / "never-read.csv"), "--out", str(locked / "run")])
    finally:
        locked.chmod(0o755)
    assert rc == 2 and "not writable" in capsys.readouterr().err


def test_unwritable_submission_is_one_line(length_run: Path, arena_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    rc = main(["predict", "--run", str(length_run), "--data", str(arena_dir / "test.csv"),
               "--out", str(blocker / "sub.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "sub.csv" in err


# ----------------------------------------------------------------------------------------------- HTTP
fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from arenapref.serve.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def client(length_run: Path):
    with TestClient(create_app(arenapref.load(length_run))) as test_client:
        yield test_client


def test_http_repairs_a_lone_surrogate_like_the_api(client: TestClient, length_run: Path) -> None:
    body = '{"prompt": "x\\ud800", "response_a": "a\\udfff", "response_b": "b"}'
    res = client.post("/v1/compare", content=body, headers={"content-type": "application/json"})
    assert res.status_code == 200, res.text
    expected = arenapref.load(length_run).compare("x\ud800", "a\udfff", "b")
    assert res.json()["winner_model_a"] == expected.p_a


def test_http_invalid_json_is_400(client: TestClient) -> None:
    res = client.post("/v1/compare", content=b'{"prompt": ', headers={"content-type": "application/json"})
    assert res.status_code == 400 and res.json()["detail"][0]["type"] == "json_invalid"
    deep = b'{"prompt": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    assert client.post("/v1/compare", content=deep, headers={"content-type": "application/json"}).status_code == 400


def test_http_head_on_get_routes(client: TestClient) -> None:
    for path in ("/healthz", "/v1/model", "/"):
        assert client.head(path).status_code == 200, path


def test_http_model_info_names_the_run_not_the_server_path(client: TestClient, length_run: Path) -> None:
    info = client.get("/v1/model").json()
    assert info["run"] == length_run.resolve().name
    assert str(length_run.resolve()) not in json.dumps(info) and "run_dir" not in info
