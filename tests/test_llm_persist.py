"""Saving and loading LLM classifiers (fresh process), adapters, fold averaging, CPU precisions, and the
``arenapref train`` / ``predict`` path through the model registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from support.tiny_llm import build_bpe_tokenizer, decoder_config, signal_pairs

from arenapref.data.readers import write_pairs
from arenapref.data.schema import targets_of
from arenapref.judge import load as load_judge
from arenapref.metrics import log_loss
from arenapref.models.llm.adapters import average_adapters, merge_adapter
from arenapref.models.llm.config import make_config
from arenapref.models.llm.model import LLMClassifier
from arenapref.models.registry import load_model, save_model
from arenapref.training import train_run

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return signal_pairs(64, seed=3), signal_pairs(24, seed=4)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory, data: tuple[pd.DataFrame, pd.DataFrame]) -> Path:
    texts = [t for col in ("prompt", "response_a", "response_b") for turns in data[0][col] for t in turns]
    return build_bpe_tokenizer(tmp_path_factory.mktemp("tok"), texts, vocab_size=400)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A 'pretrained' base on disk (random tiny Qwen2 + tokenizer), so adapters can be saved against it."""
    from arenapref.models.llm.backbone import build_classifier, build_tokenizer

    spec = make_config(model={"init_config": decoder_config("qwen2", vocab_size=512), "tokenizer": str(tokenizer_dir)},
                       ).model
    tokenizer = build_tokenizer(spec)
    out = tmp_path_factory.mktemp("base")
    build_classifier(spec, tokenizer, seed=7).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def params(tokenizer_dir: Path, **over: object) -> dict:
    return {"model": {"init_config": decoder_config("llama", vocab_size=512), "tokenizer": str(tokenizer_dir)},
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0}, "text": {"max_length": 96, "min_response_tokens": 8},
            "train": {"max_steps": 8, "micro_batch_size": 8, "grad_accum": 1, "lr": 5e-3, "log_every": 1000},
            **over}


def fresh_process_proba(model_dir: Path, pairs_file: Path, out: Path) -> np.ndarray:
    code = ("import sys, numpy as np; from arenapref.models.registry import load_model; "
            "from arenapref.data.readers import read_pairs; "
            "m = load_model(sys.argv[1]); p = m.predict_proba(read_pairs(sys.argv[2]), swap_tta=True); "
            "np.save(sys.argv[3], p)")
    subprocess.run([sys.executable, "-c", code, str(model_dir), str(pairs_file), str(out)], check=True,
                   capture_output=True, timeout=300)
    return np.load(out)


@pytest.mark.parametrize("mode", ["full", "adapter", "full+offset"])
def test_save_reload_in_fresh_process_gives_identical_probabilities(
        mode: str, tokenizer_dir: Path, base_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    train, valid = data
    p = params(tokenizer_dir)
    if mode == "adapter":
        p["model"] = {"base": str(base_dir)}
    if mode == "full+offset":  # the length baseline under the logits is saved with the model
        p["model"] = {**p["model"], "offset": "length"}
    model = LLMClassifier(**p).fit(train, log=lambda m: None)
    save_model(model, tmp_path / "model")
    assert (tmp_path / "model" / ("adapter" if mode == "adapter" else "weights")).is_dir()
    assert (tmp_path / "model" / "offset" / "length.json").is_file() == (mode == "full+offset")
    before = model.predict_proba(valid, swap_tta=True)
    write_pairs(valid, tmp_path / "valid.jsonl")
    after = fresh_process_proba(tmp_path / "model", tmp_path / "valid.jsonl", tmp_path / "p.npy")
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-6)


def test_fold_adapter_average_merge_and_cpu_precisions(tokenizer_dir: Path, base_dir: Path,
                                                 data: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    train, valid = data
    folds = []
    for k in range(2):
        model = LLMClassifier(**params(tokenizer_dir, model={"base": str(base_dir)}, seed=k))
        model.fit(train.iloc[k::2], log=lambda m: None)
        model.save(tmp_path / f"fold{k}")
        folds.append(tmp_path / f"fold{k}")
    average_adapters(folds, tmp_path / "avg")
    from safetensors.torch import load_file

    tensors = [load_file(f / "adapter" / "adapter_model.safetensors") for f in folds]
    avg = load_file(tmp_path / "avg" / "adapter" / "adapter_model.safetensors")
    for name, value in avg.items():
        torch.testing.assert_close(value, (tensors[0][name] + tensors[1][name]) / 2)
    fp32 = LLMClassifier.load(tmp_path / "avg")
    ref = fp32.predict_proba(valid, swap_tta=True)
    merge_adapter(tmp_path / "avg", tmp_path / "merged")
    assert (tmp_path / "merged" / "weights" / "model.safetensors").exists()
    np.testing.assert_allclose(load_model(tmp_path / "merged").predict_proba(valid, swap_tta=True), ref, atol=1e-6)
    y = targets_of(valid)
    for precision, tol in (("bf16", 0.05), ("int8_dynamic", 0.05)):
        other = LLMClassifier.load(tmp_path / "avg", infer={"precision": precision}).predict_proba(valid, swap_tta=True)
        assert np.abs(other - ref).max() < tol
        assert abs(log_loss(y, other) - log_loss(y, ref)) < tol
    with pytest.raises(ValueError, match="different adapter configs"):
        bad = LLMClassifier(**params(tokenizer_dir, model={"base": str(base_dir)}, lora={"r": 2, "alpha": 4}))
        bad.fit(train.iloc[:16], log=lambda m: None)
        bad.save(tmp_path / "r2")
        average_adapters([folds[0], tmp_path / "r2"], tmp_path / "bad")


def test_train_and_predict_through_the_cli_path(tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame],
                                                tmp_path: Path) -> None:
    train, valid = data
    write_pairs(train, tmp_path / "train.jsonl")
    config = {"seed": 1, "cv": {"n_folds": 2}, "model": {"type": "llm", "params": params(tokenizer_dir)},
              "predict": {"swap_tta": True}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    from arenapref.config import load_config

    result = train_run([tmp_path / "train.jsonl"], load_config(tmp_path / "tiny.yaml"), tmp_path / "run",
                       progress=False, log=lambda m: None)
    assert result.metrics["model"] == "llm" and np.isfinite(result.metrics["log_loss"])
    oof = pd.read_parquet(tmp_path / "run" / "oof.parquet")
    assert len(oof) == len(train) and set(oof["fold"]) == {0, 1}
    proba = load_judge(tmp_path / "run").predict_pairs(valid)
    np.testing.assert_allclose(proba, load_model(tmp_path / "run" / "model").predict_proba(valid, swap_tta=True),
                               atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_recipe_module_entry_point_writes_a_model_folder(tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame],
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from arenapref.commands.train_llm import main

    train, valid = data
    write_pairs(train, tmp_path / "train.jsonl")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"model": {"type": "llm", "params": params(tokenizer_dir)}}))
    args = ["--config", str(tmp_path / "r.yaml"), "--data", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "m")]
    assert main(args) == 0
    assert load_model(tmp_path / "m").predict_proba(valid).shape == (len(valid), 3)
    capsys.readouterr()
    assert main(args) == 2  # an existing folder is refused in one line, like every CLI command
    err = capsys.readouterr().err.strip()
    assert err.startswith("arenapref train-llm: error:") and "\n" not in err and "m" in err


def test_custom_mlp_head_round_trip(tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame],
                                    tmp_path: Path) -> None:
    train, valid = data
    p = params(tokenizer_dir)
    p["model"] = {**p["model"], "head": "mlp"}
    model = LLMClassifier(**p).fit(train, log=lambda m: None)
    assert isinstance(model.net_.base_model.model.score.modules_to_save["default"], torch.nn.Sequential)
    save_model(model, tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict_proba(valid), model.predict_proba(valid), atol=1e-6)


def test_two_stage_extra_data_then_target_keeps_the_trained_classifier(
        tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    """Stage 1 (e.g. extra data) saves full weights; stage 2 starts from them with ``keep_head``."""
    from arenapref.models.llm.backbone import build_classifier, build_tokenizer

    train, valid = data
    stage1 = LLMClassifier(**params(tokenizer_dir)).fit(train, log=lambda m: None)
    save_model(stage1, tmp_path / "stage1")
    weights = tmp_path / "stage1" / "weights"
    stage1_proba = stage1.predict_proba(valid)
    spec = make_config(model={"base": str(weights), "tokenizer": str(tmp_path / "stage1" / "tokenizer"),
                              "keep_head": True}).model
    tokenizer = build_tokenizer(spec)
    kept = build_classifier(spec, tokenizer, seed=99)
    reset = build_classifier(make_config(model={**spec.__dict__, "keep_head": False}).model, tokenizer, seed=99)
    ours = load_model(tmp_path / "stage1").net_
    head = "score"
    assert torch.equal(getattr(kept, head).weight, getattr(ours, head).weight)
    assert not torch.equal(getattr(reset, head).weight, getattr(ours, head).weight)
    # stage 2 trains on top of stage 1 through the normal recipe
    p = params(tokenizer_dir)
    p["model"] = {"base": str(weights), "tokenizer": str(tmp_path / "stage1" / "tokenizer"), "keep_head": True}
    p["train"] = {**p["train"], "max_steps": 2}
    stage2 = LLMClassifier(**p).fit(valid, log=lambda m: None)
    assert stage2.predict_proba(valid).shape == stage1_proba.shape
