"""`arenapref report`: numbers, sections, graceful degradation, and the page in a real headless browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from arenapref.cli import main  # noqa: E402
from arenapref.config import load_config  # noqa: E402
from arenapref.data.readers import write_pairs  # noqa: E402
from arenapref.evaluate.report import breakdown, curve_from_history, dominant_script, position_bias  # noqa: E402
from arenapref.models.prior import PriorModel  # noqa: E402
from arenapref.runs import read_json, read_yaml, write_json, write_manifest, write_yaml  # noqa: E402
from arenapref.training import train_run  # noqa: E402

MODEL_BLUE = np.array([0x1F, 0x77, 0xB4]) / 255.0


@pytest.fixture(scope="module")
def length_run(small_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    data = root / "train.jsonl"
    write_pairs(small_pairs, data)
    config = load_config(None, {"model": {"type": "length", "params": {}}, "cv": {"n_folds": 3}})
    run = train_run([data], config, root / "length", progress=False, log=lambda *_: None).run_dir
    # the format iterative trainers write (see evaluate/report.py)
    write_json(run / "learning_curve.json", {"x": "step", "y": "log loss",
                                             "series": {"train": [[0, 1.10], [10, 1.05], [20, 1.02]],
                                                        "valid": [[0, 1.10], [10, 1.07], [20, 1.06]]}})
    return run


@pytest.fixture(scope="module")
def built_report(length_run: Path) -> Path:
    assert main(["report", str(length_run), "--position-rows", "120"]) == 0
    return length_run / "report"


def test_report_has_every_section_and_matches_the_run(built_report: Path, length_run: Path) -> None:
    page = (built_report / "report.html").read_text(encoding="utf-8")
    for png in ("reliability", "confusion", "by_length", "by_turns", "by_language", "position_bias",
                "learning_curve"):
        assert (built_report / f"{png}.png").stat().st_size > 5000, png
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 7
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "src=\"http" not in page and "<script" not in page          # self-contained, nothing fetched
    for heading in ("Reliability per class", "Confusion matrix", "response length", "turn count", "language",
                    "Position bias", "Per model pair", "Learning curves"):
        assert heading in page, heading
    numbers = read_json(built_report / "report.json")
    metrics = read_json(length_run / "metrics.json")
    assert numbers["summary"]["log_loss"] == pytest.approx(metrics["log_loss"])
    assert numbers["summary"]["baselines"]["prior"] == pytest.approx(metrics["baselines"]["prior"])
    assert sum(r["n"] for r in numbers["by_length"]) == metrics["n_rows"]
    assert sum(sum(row) for row in numbers["confusion"]) == metrics["n_rows"]
    assert numbers["position_bias"]["n"] == 120
    assert 0.0 <= numbers["position_bias"]["flip_rate"] <= 1.0
    assert numbers["models"] and numbers["model_pairs"]                 # the arena rows carry model names


def test_report_refuses_to_overwrite(built_report: Path, length_run: Path, capsys: pytest.CaptureFixture) -> None:
    before = (built_report / "report.html").read_bytes()
    assert main(["report", str(length_run)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (built_report / "report.html").read_bytes() == before


def test_report_without_training_texts_still_renders(length_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "moved"
    shutil.copytree(length_run, run, ignore=shutil.ignore_patterns("report"))
    config = read_yaml(run / "config.yaml")
    write_yaml(run / "config.yaml", {**config, "data_paths": [str(tmp_path / "gone.jsonl")]})
    (run / "learning_curve.json").unlink()
    write_manifest(run)
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 0
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert "training texts not found" in page and "gone.jsonl" in page
    assert "no learning_curve.json" in page
    assert "Reliability per class" in page and "Position bias" not in page
    assert "by_length" not in read_json(tmp_path / "rep" / "report.json")


def test_report_of_a_missing_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err


class _FirstPositionModel:
    """Prefers whatever is shown as A: a maximally position-biased model."""

    def predict_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray:
        base = np.tile([0.6, 0.2, 0.2], (len(pairs), 1))
        return (base + base[:, [1, 0, 2]]) / 2 if swap_tta else base


def test_position_bias_measures_asymmetry(small_pairs: pd.DataFrame) -> None:
    biased = position_bias(_FirstPositionModel(), small_pairs.iloc[:50])
    assert biased["flip_rate"] == 1.0
    assert biased["mean_abs_gap"] == pytest.approx(0.4)
    assert biased["mean_first_position_advantage"] == pytest.approx(0.4)
    symmetric = position_bias(PriorModel(symmetric=True).fit(small_pairs), small_pairs.iloc[:50])
    assert symmetric["flip_rate"] == 0.0 and symmetric["mean_abs_gap"] == pytest.approx(0.0, abs=1e-12)


def test_dominant_script() -> None:
    assert dominant_script("Hello there") == "Latin"
    assert dominant_script("Привет! Как дела? ok") == "Cyrillic"
    assert dominant_script("你好，世界") == "Chinese (Han)"
    assert dominant_script("こんにちは、世界") == "Japanese (kana)"
    assert dominant_script("안녕하세요") == "Korean (Hangul)"
    assert dominant_script("12 + 3 = 15") == "none (digits/symbols)"


def test_breakdown_numbers() -> None:
    targets = np.eye(3)[[0, 0, 1, 2]]
    proba = np.array([[0.8, 0.1, 0.1], [0.5, 0.25, 0.25], [0.2, 0.6, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    prior = np.full((4, 3), 1 / 3)
    rows = {r["bucket"]: r for r in breakdown(np.array(["x", "x", "y", "y"], dtype=object), targets, proba, prior)}
    assert rows["x"]["n"] == 2 and rows["x"]["log_loss"] == pytest.approx(-(np.log(0.8) + np.log(0.5)) / 2)
    assert rows["y"]["accuracy"] == pytest.approx(0.5)  # the uniform row's argmax is A, its label tie
    assert rows["y"]["prior_log_loss"] == pytest.approx(np.log(3))


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed (Debian: chromium)")
def test_report_renders_in_headless_chromium(built_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1280,2600",
           f"--screenshot={shot}", (built_report / "report.html").resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists(), done.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (2600, 1280)
    # the plots' model colour only appears if the embedded PNGs were decoded and drawn
    blue = (np.abs(pixels - MODEL_BLUE) < 0.06).all(axis=2)
    assert blue.mean() > 0.005, f"only {blue.mean():.4%} plot-blue pixels: figures not rendered?"
    rows_with_blue = np.flatnonzero(blue.any(axis=1))
    assert rows_with_blue.max() - rows_with_blue.min() > 1000      # several figures down the page, not one


def test_llm_history_becomes_a_learning_curve() -> None:
    history = [{"step": 1, "train_loss": 1.2, "lr": 1e-4}, {"step": 2, "train_loss": 1.1, "lr": 1e-4,
                                                            "val_log_loss": 1.08}]
    curve = curve_from_history(history)
    assert curve["series"] == {"train_loss": [[1.0, 1.2], [2.0, 1.1]], "val_log_loss": [[2.0, 1.08]]}


def test_report_survives_a_model_that_cannot_predict(length_run: Path, tmp_path: Path) -> None:
    """A model saved by an older feature set fails at predict time: only the position-bias section is lost."""
    import json


    run = tmp_path / "stale"
    shutil.copytree(length_run, run, ignore=shutil.ignore_patterns("report"))
    saved = run / "model" / "length.json"
    state = json.loads(saved.read_text())
    state["mean"] = [0.0] * 5                                   # the features no longer line up
    saved.write_text(json.dumps(state))
    write_manifest(run)
    assert main(["report", str(run), "--position-rows", "50"]) == 0
    page = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert "position bias skipped" in page and "Log loss by turn count" in page
