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

import arenapref
from arenapref.api import Judge
from arenapref.cli import main
from arenapref.commands.batch import partial_path, score_jsonl, settings_path, skipped_path
from arenapref.data.readers import write_pairs
from arenapref.runs import run_fingerprint, write_json
from arenapref.scale.settings import job_settings


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
    write_json(settings_path(out), job_settings(judge))  # same run and settings: only the rows are foreign
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


def _interrupted_partial(judge: Judge, source: Path, out: Path, monkeypatch: pytest.MonkeyPatch,
                         extra: list[str] | None = None) -> list[str]:
    """Run `batch` on ``source`` until its third chunk of 100, leaving OUTPUT.partial; returns the args."""
    args = ["batch", "--run", str(judge.run_dir), "--input", str(source), "--output", str(out),
            "--chunk-size", "100", "--quiet", *(extra or [])]
    real = Judge.predict_pairs
    calls = {"n": 0}

    def interrupt_on_third(self: Judge, pairs: pd.DataFrame, **kwargs: object) -> np.ndarray:
        if len(pairs) == 100:
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
        return real(self, pairs, **kwargs)

    monkeypatch.setattr(Judge, "predict_pairs", interrupt_on_third)
    assert main(args) == 130
    monkeypatch.setattr(Judge, "predict_pairs", real)
    return args


def test_resume_refuses_another_run_or_settings(judge: Judge, pairs_file: Path, arena_pairs: pd.DataFrame,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    from conftest import train_small_run

    out = tmp_path / "scores.jsonl"
    args = _interrupted_partial(judge, pairs_file, out, monkeypatch)
    settings = json.loads(settings_path(out).read_text(encoding="utf-8"))
    assert settings["run_fingerprint"] == run_fingerprint(judge.run_dir) and settings["swap_tta"] is True
    before = partial_path(out).read_bytes()
    capsys.readouterr()

    other = train_small_run(arena_pairs, tmp_path / "other", n=150)  # same recipe, other rows: another model
    moved = [*args, "--resume"]
    moved[moved.index(str(judge.run_dir))] = str(other)
    assert main(moved) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot resume" in err and "run (fingerprint)" in err and str(other) in err and len(err.splitlines()) == 1

    assert main([*args, "--resume", "--no-swap-tta"]) == 2
    err = capsys.readouterr().err
    assert "swap_tta: True vs now False" in err and "run (fingerprint)" not in err

    settings["arenapref_version"] = "0.0.1"
    settings_path(out).write_text(json.dumps(settings), encoding="utf-8")
    assert main([*args, "--resume"]) == 2
    assert "arenapref version: '0.0.1'" in capsys.readouterr().err
    assert partial_path(out).read_bytes() == before and not out.exists()  # refusals touch nothing

    settings_path(out).unlink()  # a partial without its settings (older arenapref): cannot tell, refuse
    assert main([*args, "--resume"]) == 2
    assert "cannot tell which run" in capsys.readouterr().err

    assert main([*args, "--force"]) == 0  # starting over is always possible
    reference = tmp_path / "reference.jsonl"
    score_jsonl(judge, pairs_file, reference, chunk_size=100, progress=False)
    assert out.read_bytes() == reference.read_bytes()
    assert not settings_path(out).exists() and not partial_path(out).exists()


def test_resume_with_the_same_settings_matches_a_clean_run(judge: Judge, pairs_file: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "scores.jsonl"
    args = _interrupted_partial(judge, pairs_file, out, monkeypatch, ["--no-swap-tta"])
    assert main([*args, "--resume"]) == 0
    reference = tmp_path / "reference.jsonl"
    score_jsonl(arenapref.load(judge.run_dir, swap_tta=False), pairs_file, reference, chunk_size=100,
                progress=False)
    assert out.read_bytes() == reference.read_bytes()


def test_on_bad_row_skip_lists_each_bad_line(judge: Judge, pairs_file: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    good = pairs_file.read_text(encoding="utf-8").splitlines(keepends=True)[:400]
    first = json.loads(good[0])
    bad_lines = {
        3: "not json at all\n",
        50: json.dumps({**first, "id": "no-prompt", "prompt": None}) + "\n",
        120: json.dumps({k: v for k, v in first.items() if k != "response_b"} | {"id": "no-b"}) + "\n",
        200: good[10],  # the same id again
        250: '{"id": "deep", "prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
    }
    lines = list(good)
    for line_no in sorted(bad_lines):
        lines.insert(line_no - 1, bad_lines[line_no])
    source = tmp_path / "mixed.jsonl"
    source.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    base = ["batch", "--run", str(judge.run_dir), "--input", str(source), "--output", str(out), "--quiet"]

    assert main(base) == 2  # the default stops at the first bad line, before writing anything
    assert "mixed.jsonl, line 3: not valid JSON" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [source]

    args = _interrupted_partial(judge, source, out, monkeypatch, ["--on-bad-row", "skip"])
    assert main([*args, "--resume"]) == 0
    assert "skipped 5 bad lines" in capsys.readouterr().out
    scores = read_scores(out)
    assert [s["id"] for s in scores] == [json.loads(line)["id"] for line in good]  # each good row once, in order
    skipped = [json.loads(line) for line in skipped_path(out).read_text(encoding="utf-8").splitlines()]
    assert [s["line"] for s in skipped] == sorted(bad_lines)
    by_line = {s["line"]: s for s in skipped}
    assert by_line[3]["reason"].startswith("not valid JSON") and by_line[3]["id"] is None
    assert by_line[50]["id"] == "no-prompt" and by_line[50]["field"] == "prompt"
    assert by_line[120]["field"] == "response_b"
    assert by_line[200]["field"] == "id" and "duplicate id" in by_line[200]["reason"]
    assert "nested too deeply" in by_line[250]["reason"]
    assert all(s["file"] == str(source) for s in skipped)
    # the scores of the good rows are those of a clean input
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(good), encoding="utf-8")
    reference = tmp_path / "reference.jsonl"
    score_jsonl(judge, clean, reference, chunk_size=100, progress=False)
    assert out.read_bytes() == reference.read_bytes()
    # a second skip run must not silently replace the list
    assert main(["batch", "--run", str(judge.run_dir), "--input", str(source), "--output",
                 str(tmp_path / "other.jsonl"), "--quiet", "--on-bad-row", "skip"]) == 0
    (tmp_path / "x.jsonl.skipped.jsonl").write_text("mine\n", encoding="utf-8")
    assert main(["batch", "--run", str(judge.run_dir), "--input", str(source), "--output",
                 str(tmp_path / "x.jsonl"), "--quiet", "--on-bad-row", "skip"]) == 2
    assert (tmp_path / "x.jsonl.skipped.jsonl").read_text(encoding="utf-8") == "mine\n"


def test_pipe_mode_skip_reports_on_stderr(judge: Judge, pairs_file: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import io

    lines = pairs_file.read_text(encoding="utf-8").splitlines(keepends=True)[:6]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(lines[:5]) + '"just a string"\n' + lines[5]))
    out = tmp_path / "scores.jsonl"
    args = ["batch", "--run", str(judge.run_dir), "--input", "-", "--output", str(out), "--quiet"]
    assert main([*args, "--on-bad-row", "skip"]) == 0
    assert "skipped: <stdin>, line 6: expected a JSON object per line, got str" in capsys.readouterr().err
    assert [s["id"] for s in read_scores(out)] == [json.loads(line)["id"] for line in lines]
    # the Ray-only options are refused for the local engine instead of being ignored
    assert main(["batch", "--run", str(judge.run_dir), "--input", str(pairs_file), "--output",
                 str(tmp_path / "x.jsonl"), "--workers", "4"]) == 2
    assert "--workers applies to --engine ray only" in capsys.readouterr().err
