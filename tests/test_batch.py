"""`arenapref batch`: streaming JSONL scoring that keeps ids and order, refuses to clobber, and resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenapref.api import Judge
from arenapref.cli import main
from arenapref.commands.batch import partial_path, score_jsonl
from arenapref.data.readers import write_pairs


@pytest.fixture(scope="module")
def pairs_file(arena_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All real arena rows (multi-turn, non-English, long answers) as canonical JSONL, in a temp folder."""
    path = tmp_path_factory.mktemp("batch_in") / "pairs.jsonl"
    write_pairs(arena_pairs, path)
    return path


def read_scores(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_batch_keeps_ids_order_and_matches_predict(judge: Judge, pairs_file: Path, arena_pairs: pd.DataFrame,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "scores.jsonl"
    rc = main(["batch", "--run", str(judge.run_dir), "--input", str(pairs_file), "--output", str(out),
               "--chunk-size", "200"])
    assert rc == 0
    assert f"wrote {len(arena_pairs):,} rows" in capsys.readouterr().out
    scores = read_scores(out)
    assert [s["id"] for s in scores] == arena_pairs["id"].tolist()
    proba = np.array([[s["winner_model_a"], s["winner_model_b"], s["winner_tie"]] for s in scores])
    np.testing.assert_allclose(proba, judge.predict(arena_pairs), atol=1e-12)
    assert [s["verdict"] for s in scores] == [("A", "B", "tie")[k] for k in proba.argmax(axis=1)]
    assert not partial_path(out).exists()


def test_batch_streams_in_chunks(judge: Judge, pairs_file: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = judge.predict_pairs

    def spy(pairs: pd.DataFrame, **kwargs: object) -> np.ndarray:
        sizes.append(len(pairs))
        return real(pairs, **kwargs)

    monkeypatch.setattr(judge, "predict_pairs", spy)
    stats = score_jsonl(judge, pairs_file, tmp_path / "s.jsonl", chunk_size=100, progress=False)
    # the model never sees more than one chunk: memory is bounded by the chunk, not the file
    assert max(sizes) == 100 and sum(sizes) == stats.total == stats.scored


def test_batch_never_clobbers_without_force(judge: Judge, pairs_file: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "scores.jsonl"
    out.write_text("precious\n", encoding="utf-8")
    args = ["batch", "--run", str(judge.run_dir), "--input", str(pairs_file), "--output", str(out), "--quiet"]
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "precious\n"
    assert main([*args, "--force"]) == 0
    assert len(read_scores(out)) > 1000


def test_interrupt_then_resume_redoes_nothing(judge: Judge, pairs_file: Path, arena_pairs: pd.DataFrame,
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    reference = tmp_path / "reference.jsonl"
    score_jsonl(judge, pairs_file, reference, chunk_size=100, progress=False)
    out = tmp_path / "scores.jsonl"
    args = ["batch", "--run", str(judge.run_dir), "--input", str(pairs_file), "--output", str(out),
            "--chunk-size", "100", "--quiet"]
    calls = {"n": 0}
    real = Judge.predict_pairs

    def interrupt_on_fourth(self: Judge, pairs: pd.DataFrame, **kwargs: object) -> np.ndarray:
        if len(pairs) == 100:  # chunks only (loading a run also scores one check pair)
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
        return real(self, pairs, **kwargs)

    monkeypatch.setattr(Judge, "predict_pairs", interrupt_on_fourth)
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "interrupted after 300" in err and "--resume" in err
    assert not out.exists() and len(read_scores(partial_path(out))) == 300
    # a crash can also cut the last line in half: that line is redone, not duplicated
    with open(partial_path(out), "ab") as handle:
        handle.write(b'{"id": "half a li')
    assert main(args) == 2 and "--resume" in capsys.readouterr().err  # partial left: must say what to do

    monkeypatch.setattr(Judge, "predict_pairs", real)
    assert main([*args, "--resume"]) == 0
    assert f"{len(arena_pairs) - 300:,} in" in capsys.readouterr().out  # scored only the rest
    assert out.read_bytes() == reference.read_bytes()
    assert not partial_path(out).exists()
    # resuming a finished run is a no-op
    assert main([*args, "--resume"]) == 0
    assert out.read_bytes() == reference.read_bytes()


def test_resume_refuses_a_partial_from_another_input(judge: Judge, pairs_file: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "scores.jsonl"
    partial_path(out).write_text('{"id": "not-from-this-input", "winner_model_a": 0.3}\n', encoding="utf-8")
    rc = main(["batch", "--run", str(judge.run_dir), "--input", str(pairs_file), "--output", str(out), "--resume",
               "--quiet"])
    assert rc == 2 and "belongs to another input" in capsys.readouterr().err
    assert not out.exists()


def test_kill_minus_nine_then_resume(judge: Judge, arena_pairs: pd.DataFrame, tmp_path: Path) -> None:
    """A real process killed mid-run (SIGKILL: no clean-up at all) resumes to the same output."""
    big = pd.concat([arena_pairs.assign(id=arena_pairs["id"] + f"-{k}") for k in range(2)], ignore_index=True)
    source = tmp_path / "big.jsonl"
    write_pairs(big, source)
    reference = tmp_path / "reference.jsonl"
    score_jsonl(judge, source, reference, chunk_size=50, progress=False)
    out = tmp_path / "scores.jsonl"
    cmd = [sys.executable, "-m", "arenapref.cli", "batch", "--run", str(judge.run_dir), "--input", str(source),
           "--output", str(out), "--chunk-size", "50", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = partial_path(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.exists() and partial.stat().st_size > 0:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if out.exists():
        pytest.skip("the batch finished before it could be killed (very fast machine)")
    done = len(partial.read_bytes().splitlines())
    assert 0 < done < len(big)
    rc = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=120)
    assert rc.returncode == 0, rc.stderr
    assert out.read_bytes() == reference.read_bytes()


def test_pipe_mode_stdin_to_stdout(judge: Judge, pairs_file: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference.jsonl"
    score_jsonl(judge, pairs_file, reference, chunk_size=100, progress=False)
    cmd = [sys.executable, "-m", "arenapref.cli", "batch", "--run", str(judge.run_dir), "--input", "-",
           "--output", "-", "--chunk-size", "100", "--quiet"]
    with open(pairs_file, "rb") as stdin:
        proc = subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == reference.read_bytes()  # same ids, order and numbers as the file mode
    assert b"scored 1,091 rows from <stdin>" in proc.stderr  # the summary stays off stdout


def test_pipe_mode_errors(judge: Judge, pairs_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture) -> None:
    import io

    lines = pairs_file.read_text(encoding="utf-8").splitlines(keepends=True)[:5]
    out = tmp_path / "scores.jsonl"
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(lines) + '"just a string"\n'))
    args = ["batch", "--run", str(judge.run_dir), "--input", "-", "--output", str(out), "--quiet"]
    assert main(args) == 2
    assert "<stdin>, line 6: expected a JSON object per line, got str" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # a file output appears only when the stream was complete
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(lines)))
    assert main([*args, "--resume"]) == 2
    assert "--resume needs an input and an output file" in capsys.readouterr().err
