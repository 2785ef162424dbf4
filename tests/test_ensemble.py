"""Blending: combiners, nested CV, member checks, and `arenapref blend` end to end on real arena rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenapref.cli import main
from arenapref.config import load_config
from arenapref.data.readers import write_pairs
from arenapref.data.schema import PRED_COLUMNS, swap_pairs, swap_proba
from arenapref.ensemble.blending import StackedBlend, WeightedBlend, blend_proba
from arenapref.ensemble.members import load_members
from arenapref.ensemble.pipeline import BlendSpec, nested_oof
from arenapref.ensemble.rules import PostRules, rule_masks
from arenapref.judge import load as load_judge
from arenapref.metrics import log_loss
from arenapref.models.registry import load_model
from arenapref.runs import read_json, read_oof
from arenapref.training import train_run


def _dirichlet(rng: np.random.Generator, n: int, conc: float = 2.0) -> np.ndarray:
    return rng.dirichlet(np.full(3, conc), size=n)


def _draw(rng: np.random.Generator, proba: np.ndarray) -> np.ndarray:
    y = (rng.random(len(proba))[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
    return np.eye(3)[np.minimum(y, 2)]


def test_blend_spaces_and_extreme_weights() -> None:
    rng = np.random.default_rng(0)
    preds = np.stack([_dirichlet(rng, 50), _dirichlet(rng, 50)])
    np.testing.assert_allclose(blend_proba(preds, [1.0, 0.0], "prob"), preds[0], atol=1e-6)
    np.testing.assert_allclose(blend_proba(preds, [0.0, 1.0], "log"), preds[1], atol=1e-6)
    geo = np.sqrt(preds[0] * preds[1])
    np.testing.assert_allclose(blend_proba(preds, [0.5, 0.5], "log"), geo / geo.sum(axis=1, keepdims=True),
                               atol=1e-6)
    with pytest.raises(ValueError, match="space"):
        blend_proba(preds, [0.5, 0.5], "odds")


@pytest.mark.parametrize("space", ["prob", "log"])
def test_simplex_weights_favour_the_informative_member(space: str) -> None:
    rng = np.random.default_rng(1)
    truth = _dirichlet(rng, 4000, conc=1.0)
    targets = _draw(rng, truth)
    preds = np.stack([truth, _dirichlet(rng, 4000), np.full((4000, 3), 1 / 3)])
    blend = WeightedBlend(space=space).fit(preds, targets)
    assert blend.weights_.sum() == pytest.approx(1.0) and (blend.weights_ >= 0).all()
    assert blend.weights_[0] > 0.7
    blended = log_loss(targets, blend.transform(preds))
    assert blended <= min(log_loss(targets, p) for p in preds) + 1e-4


def test_fixed_weights_are_checked() -> None:
    preds = np.full((2, 5, 3), 1 / 3)
    with pytest.raises(ValueError, match="one weight per --run"):
        WeightedBlend(weights=[1.0]).fit(preds, np.eye(3)[[0, 1, 2, 0, 1]])
    with pytest.raises(ValueError, match="non-negative"):
        WeightedBlend(weights=[1.0, -0.5]).fit(preds, np.eye(3)[[0, 1, 2, 0, 1]])
    assert WeightedBlend(weights=[8, 2]).fit(preds, np.eye(3)[[0, 1, 2, 0, 1]]).weights_.tolist() == [0.8, 0.2]


def test_combiners_are_swap_equivariant() -> None:
    rng = np.random.default_rng(2)
    preds = np.stack([_dirichlet(rng, 600), _dirichlet(rng, 600)])
    targets = _draw(rng, 0.5 * (preds[0] + preds[1]))
    swapped = np.stack([swap_proba(p) for p in preds])
    for combiner in (WeightedBlend("prob"), WeightedBlend("log"), StackedBlend(C=1.0)):
        combiner.fit(preds, targets)
        np.testing.assert_allclose(combiner.transform(swapped), swap_proba(combiner.transform(preds)), atol=1e-9)


def test_stacking_beats_a_bad_mixture_when_a_member_is_miscalibrated() -> None:
    rng = np.random.default_rng(3)
    truth = _dirichlet(rng, 3000, conc=1.0)
    targets = _draw(rng, truth)
    sharp = truth ** 3 / (truth ** 3).sum(axis=1, keepdims=True)   # right ranking, far too confident
    preds = np.stack([sharp, np.full_like(truth, 1 / 3)])
    folds = np.arange(3000) % 5
    stacked = nested_oof(BlendSpec(method="stack"), preds, targets, folds)
    assert log_loss(targets, stacked) < log_loss(targets, sharp) - 0.05


def test_nested_oof_never_sees_its_own_fold() -> None:
    """Changing the labels of fold 0 must not change fold 0's predictions (blend + calibration + rules)."""
    rng = np.random.default_rng(4)
    n = 600
    preds = np.stack([_dirichlet(rng, n), _dirichlet(rng, n)])
    targets = _draw(rng, preds.mean(axis=0))
    folds = np.arange(n) % 3
    masks = {"identical": np.arange(n) % 7 == 0, "empty_a": np.arange(n) % 11 == 0,
             "empty_b": np.arange(n) % 13 == 0}
    spec = BlendSpec(method="stack", calibrate="vector", postprocess=True)
    before = nested_oof(spec, preds, targets, folds, masks)
    changed = targets.copy()
    changed[folds == 0] = np.roll(targets[folds == 0], 1, axis=1)
    after = nested_oof(spec, preds, changed, folds, masks)
    np.testing.assert_allclose(after[folds == 0], before[folds == 0])
    assert not np.allclose(after[folds != 0], before[folds != 0])


def test_rules_pull_identical_pairs_towards_their_training_distribution() -> None:
    pairs = pd.DataFrame({"response_a": [["same"], [""], ["x"], ["y"]], "response_b": [["same"], ["z"], ["  "], ["w"]]})
    masks = rule_masks(pairs)
    assert masks["identical"].tolist() == [True, False, False, False]
    assert masks["empty_a"].tolist() == [False, True, False, False]
    assert masks["empty_b"].tolist() == [False, False, True, False]
    big = {k: np.tile(v, 25) for k, v in masks.items()}
    targets = np.tile(np.eye(3)[[2, 1, 0, 0]], (25, 1))  # identical → tie; empty side loses
    rules = PostRules(strength=5.0).fit(big, targets)
    out = rules.transform(np.full((4, 3), 1 / 3), masks)
    assert out[0, 2] > 0.8 and out[1, 1] > 0.8 and out[2, 0] > 0.8
    np.testing.assert_allclose(out[3], 1 / 3)
    swapped = rule_masks(swap_pairs(pairs.assign(prompt=[["p"]] * 4)))
    np.testing.assert_allclose(rules.transform(np.full((4, 3), 1 / 3), swapped), swap_proba(out), atol=1e-12)


# --- end to end on real arena rows -------------------------------------------------------------------


@pytest.fixture(scope="module")
def member_runs(small_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("blend")
    data = root / "train.jsonl"
    write_pairs(small_pairs, data)
    runs = {}
    for name, kind, seed in (("length", "length", 42), ("prior", "prior", 42), ("length_seed7", "length", 7)):
        config = load_config(None, {"model": {"type": kind, "params": {}}, "cv": {"n_folds": 3}, "seed": seed})
        runs[name] = train_run([data], config, root / name, progress=False, log=lambda *_: None).run_dir
    other = root / "other.jsonl"
    write_pairs(small_pairs.iloc[:250], other)
    config = load_config(None, {"model": {"type": "prior", "params": {}}, "cv": {"n_folds": 3}})
    runs["fewer_rows"] = train_run([other], config, root / "fewer", progress=False, log=lambda *_: None).run_dir
    runs["data"] = data
    return runs


def test_blend_command_writes_a_predictable_run(member_runs: dict[str, Path], tmp_path: Path,
                                                small_pairs: pd.DataFrame, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "blend"
    rc = main(["blend", "--run", str(member_runs["length"]), "--run", str(member_runs["prior"]),
               "--out", str(out), "--calibrate", "temperature", "--postprocess"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "uniform" in printed and "class prior" in printed and "+ temperature" in printed
    for name in ("config.yaml", "metrics.json", "oof.parquet", "run.json", "model/blend.json"):
        assert (out / name).exists(), name
    oof, member = read_oof(out), read_oof(member_runs["length"])
    assert list(oof.columns) == list(member.columns)
    assert oof["id"].tolist() == member["id"].tolist() and oof["fold"].tolist() == member["fold"].tolist()
    metrics = read_json(out / "metrics.json")
    assert metrics["log_loss"] == pytest.approx(log_loss(oof.iloc[:, 2:5].to_numpy(), oof[list(PRED_COLUMNS)]))
    assert metrics["log_loss"] < metrics["baselines"]["uniform"]
    assert {"ece", "classwise_ece", "compare", "fitted"} <= set(metrics)

    # a blend is a run: load_model + predict with TTA give exactly swap-symmetric probabilities
    assert load_model(out / "model").name == "blend"
    sample = small_pairs.iloc[:40]
    direct = load_judge(out).predict_pairs(sample, swap_tta=True)
    swapped = load_judge(out).predict_pairs(swap_pairs(sample), swap_tta=True)
    np.testing.assert_allclose(swapped, swap_proba(direct), atol=1e-9)
    np.testing.assert_allclose(direct.sum(axis=1), 1.0)

    sub = tmp_path / "sub.csv"
    assert main(["predict", "--run", str(out), "--data", str(member_runs["data"]), "--out", str(sub)]) == 0
    assert len(pd.read_csv(sub)) == len(small_pairs)

    # the report reads a blend like any run (its model is loaded for the position-bias check)
    pytest.importorskip("matplotlib")
    assert main(["report", str(out), "--position-rows", "30"]) == 0
    page = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert "Final model, fitted on all rows: weights (prob space)" in page and "Position bias" in page

    # existing output is refused without --force, and kept intact
    assert main(["blend", "--run", str(member_runs["length"]), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert read_json(out / "metrics.json") == metrics


def test_blend_from_example_config_uses_fixed_weights(member_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "fixed"
    assert main(["blend", "--config", "blend-example", "--run", str(member_runs["length"]),
                 "--run", str(member_runs["prior"]), "--out", str(out)]) == 0
    fitted = read_json(out / "metrics.json")["fitted"]
    assert fitted["combiner"]["weights"] == pytest.approx([0.8, 0.2])
    assert fitted["calibrator"]["kind"] == "temperature"


def test_single_run_calibration_reports_before_and_after(member_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cal"
    assert main(["blend", "--run", str(member_runs["length"]), "--calibrate", "vector", "--out", str(out)]) == 0
    rows = read_json(out / "metrics.json")["compare"]
    assert [r["name"] for r in rows] == ["run length", "run length + vector"]  # the run once, not twice
    compare = {r["name"]: r for r in rows}
    assert all(np.isfinite(r["ece"]) for r in compare.values())


@pytest.mark.parametrize("other, message", [("length_seed7", "different folds"),
                                            ("fewer_rows", "not trained on the same rows")])
def test_mismatched_runs_are_refused(member_runs: dict[str, Path], tmp_path: Path, other: str, message: str,
                                     capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match=message):
        load_members([member_runs["length"], member_runs[other]])
    out = tmp_path / "bad"
    assert main(["blend", "--run", str(member_runs["length"]), "--run", str(member_runs[other]),
                 "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
