"""The LLM training recipe on tiny randomly initialised Llama / Gemma-2 / Qwen2 models (CPU, seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from support.tiny_llm import build_bpe_tokenizer, decoder_config, signal_pairs

from arenapref.data.schema import swap_pairs, swap_proba, targets_of
from arenapref.metrics import UNIFORM_LOG_LOSS, log_loss
from arenapref.models.llm.backbone import CudaRequiredError, apply_lora, build_classifier, build_tokenizer
from arenapref.models.llm.config import make_config
from arenapref.models.llm.encoding import Examples
from arenapref.models.llm.losses import distillation_loss, soft_cross_entropy
from arenapref.models.llm.model import LLMClassifier
from arenapref.models.llm.train import accumulate_step

torch.set_num_threads(1)
cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return signal_pairs(96, seed=0), signal_pairs(48, seed=1)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory, data: tuple[pd.DataFrame, pd.DataFrame]) -> Path:
    train, _ = data
    texts = [t for col in ("prompt", "response_a", "response_b") for turns in train[col] for t in turns]
    return build_bpe_tokenizer(tmp_path_factory.mktemp("tok"), texts, vocab_size=400)


def params(tokenizer_dir: Path, family: str = "llama", **train: object) -> dict:
    return {
        "model": {"init_config": decoder_config(family, vocab_size=512, hidden=32, layers=2),
                  "tokenizer": str(tokenizer_dir)},
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "text": {"max_length": 96, "min_response_tokens": 8},
        "train": {"max_steps": 40, "micro_batch_size": 8, "grad_accum": 1, "lr": 5e-3, "head_lr": 1e-2,
                  "warmup_ratio": 0.0, "swap": "random", "log_every": 1000, **train},
    }


@pytest.mark.parametrize("family", ["llama", "gemma2", "qwen2"])
def test_training_learns_a_signal(family: str, tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, valid = data
    model = LLMClassifier(**params(tokenizer_dir, family, max_steps=80)).fit(train, log=lambda m: None)
    history = model.train_result_.history
    first = np.mean([h["train_loss"] for h in history[:5]])
    last = np.mean([h["train_loss"] for h in history[-5:]])
    held_out = log_loss(targets_of(valid), model.predict_proba(valid, swap_tta=True))
    assert last < first - 0.1, (first, last)
    assert held_out < UNIFORM_LOG_LOSS - 0.1, held_out


def test_swap_tta_is_exactly_symmetric(tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, valid = data
    model = LLMClassifier(**params(tokenizer_dir, max_steps=5)).fit(train, log=lambda m: None)
    direct = model.predict_proba(valid, swap_tta=True)
    swapped = model.predict_proba(swap_pairs(valid), swap_tta=True)
    np.testing.assert_allclose(direct, swap_proba(swapped), atol=1e-6)
    assert np.abs(model.predict_proba(valid) - swap_proba(model.predict_proba(swap_pairs(valid)))).max() > 1e-4


def test_distillation_loss_matches_hand_computation() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.3, 0.1]])
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    teacher = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    alpha, temp = 0.3, 2.0
    z = logits.numpy().astype(np.float64)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    ce = -(targets.numpy() * np.log(p)).sum(1)
    pt = np.exp(np.log(teacher.numpy()) / temp)
    pt /= pt.sum(1, keepdims=True)
    ps = np.exp(z / temp) / np.exp(z / temp).sum(1, keepdims=True)
    kl = (pt * (np.log(pt) - np.log(ps))).sum(1)
    expected = alpha * ce + (1 - alpha) * temp ** 2 * kl
    got = distillation_loss(logits, targets, teacher, alpha=alpha, temperature=temp).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # alpha = 1 is plain cross-entropy; label smoothing mixes in the uniform target
    np.testing.assert_allclose(distillation_loss(logits, targets, teacher, alpha=1.0, temperature=temp).numpy(), ce,
                               rtol=1e-5)
    smoothed = 0.9 * targets.numpy() + 0.1 / 3
    np.testing.assert_allclose(soft_cross_entropy(logits, targets, 0.1).numpy(), -(smoothed * np.log(p)).sum(1),
                               rtol=1e-5)


def test_grad_accumulation_over_uneven_micro_batches_equals_full_batch(tokenizer_dir: Path) -> None:
    cfg = make_config(**params(tokenizer_dir), distill={"alpha": 0.4, "temperature": 2.0})
    tokenizer = build_tokenizer(cfg.model)
    net = apply_lora(build_classifier(cfg.model, tokenizer, seed=0), cfg.lora)
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(5, 200, size=int(n))) for n in (9, 30, 17, 4, 22)]
    targets = np.eye(3)[[0, 1, 2, 0, 1]]
    teacher = rng.dirichlet(np.ones(3), size=5)
    grads = []
    for micro in (5, 2):
        net.zero_grad()
        accumulate_step(net, Examples(seqs, targets, teacher, None, None), cfg, tokenizer.pad_token_id,
                        torch.device("cpu"), micro=micro)
        grads.append({n: p.grad.clone() for n, p in net.named_parameters() if p.requires_grad})
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-4, atol=1e-7)


def test_resume_equals_uninterrupted(tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame],
                                     tmp_path: Path) -> None:
    train, valid = data
    common = {"max_steps": 6, "checkpoint_every": 2, "swap": "random", "eval_every": 2, "valid_fraction": 0.0}
    lora = {"r": 8, "alpha": 16, "dropout": 0.1}  # dropout: the RNG state must be restored too

    def make(**train_kw: object) -> LLMClassifier:
        p = params(tokenizer_dir, **{**common, **train_kw})
        return LLMClassifier(**{**p, "lora": lora})

    straight = make(checkpoint_dir=str(tmp_path / "a")).fit(train, eval_pairs=valid, log=lambda m: None)
    make(checkpoint_dir=str(tmp_path / "b"), stop_after_steps=3).fit(train, eval_pairs=valid, log=lambda m: None)
    assert (tmp_path / "b" / "last" / "state.json").exists()
    resumed = make(checkpoint_dir=str(tmp_path / "b"), resume=True).fit(train, eval_pairs=valid, log=lambda m: None)
    assert resumed.train_result_.steps_done == 6
    assert [h["step"] for h in resumed.train_result_.history] == list(range(1, 7))
    np.testing.assert_allclose(straight.predict_proba(valid), resumed.predict_proba(valid), atol=1e-6)
    assert straight.train_result_.best_step == resumed.train_result_.best_step


def test_early_stopping_keeps_the_best_weights(tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, valid = data
    model = LLMClassifier(**params(tokenizer_dir, max_steps=60, lr=0.3, head_lr=0.3, eval_every=2, patience=2,
                                   max_grad_norm=None)).fit(train, eval_pairs=valid, log=lambda m: None)
    result = model.train_result_
    evals = [h["val_log_loss"] for h in result.history if "val_log_loss" in h]
    assert result.best_val_log_loss == pytest.approx(min(evals), abs=1e-6)
    assert log_loss(targets_of(valid), model.predict_proba(valid)) == pytest.approx(min(evals), abs=1e-4)
    if result.stopped_early:
        assert result.steps_done < 60


def test_full_swap_and_distillation_from_a_teacher_file(tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame],
                                                        tmp_path: Path) -> None:
    train, _ = data
    teacher = pd.DataFrame({"id": train["id"], "fold": 0, "pred_a": 0.5, "pred_b": 0.3, "pred_tie": 0.2})
    teacher.to_parquet(tmp_path / "oof.parquet")
    p = params(tokenizer_dir, max_steps=2, swap="full")
    model = LLMClassifier(**p, distill={"teachers": [str(tmp_path)], "alpha": 0.5, "temperature": 2.0})
    model.fit(train, log=lambda m: None)
    assert model.train_result_.examples_seen == 2 * 2 * 8  # each pair and its swapped copy, 2 steps of 8
    bad = LLMClassifier(**p, distill={"teachers": [str(tmp_path / "oof.parquet")]})
    with pytest.raises(ValueError, match="no teacher probabilities for 1 training rows"):
        bad.fit(pd.concat([train, signal_pairs(1, seed=9).assign(id="new")]), log=lambda m: None)


def test_config_errors_name_the_section(tokenizer_dir: Path) -> None:
    with pytest.raises(ValueError, match="section 'train': unknown key"):
        LLMClassifier(**params(tokenizer_dir, learning_rate=1e-3))
    with pytest.raises(ValueError, match="model.base"):
        LLMClassifier(model={})


@cuda
def test_cuda_only_features_fail_clearly_on_cpu(tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame],
                                               tmp_path: Path) -> None:
    train, _ = data
    p = params(tokenizer_dir, max_steps=1)
    qlora = {**p, "model": {"base": str(tmp_path), "quantization": "4bit"}}
    with pytest.raises(CudaRequiredError, match="needs a CUDA GPU"):
        LLMClassifier(**qlora).fit(train, log=lambda m: None)
    with pytest.raises(CudaRequiredError, match="8-bit AdamW"):
        LLMClassifier(**params(tokenizer_dir, max_steps=1, optimizer="adamw_8bit")).fit(train, log=lambda m: None)
    with pytest.raises(CudaRequiredError, match="fp16 training"):
        LLMClassifier(**params(tokenizer_dir, max_steps=1, precision="fp16")).fit(train, log=lambda m: None)


@pytest.mark.parametrize("name", ["gemma2-9b-qlora", "gemma2-9b-distill", "llama3-8b-qlora", "smollm2-135m-cpu"])
def test_bundled_recipes_validate(name: str) -> None:
    from arenapref.config import load_config

    config = load_config(name)
    assert config["model"]["type"] == "llm"
    model = LLMClassifier(**config["model"]["params"])  # validates every section, loads nothing
    assert model.config_.text.max_length >= 256


@pytest.mark.parametrize("head", ["default", "mlp"])
def test_zero_head_init_starts_uniform_and_still_learns(head: str, tokenizer_dir: Path,
                                                        data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, valid = data
    tokenizer = build_tokenizer(make_config(**params(tokenizer_dir)).model)

    def built(init: str) -> torch.nn.Module:
        spec = make_config(**params(tokenizer_dir)).model
        spec.head, spec.head_init = head, init
        return build_classifier(spec, tokenizer, seed=0)

    ids = torch.tensor([tokenizer("which answer is better")["input_ids"]])
    with torch.no_grad():
        zero_logits = built("zero")(input_ids=ids).logits
        normal_logits = built("normal")(input_ids=ids).logits
    assert torch.equal(zero_logits, torch.zeros_like(zero_logits))
    assert normal_logits.abs().max() > 0
    p = params(tokenizer_dir, max_steps=60)
    p["model"] = {**p["model"], "head": head, "head_init": "zero"}
    model = LLMClassifier(**p).fit(train, log=lambda m: None)
    assert model.train_result_.history[0]["train_loss"] == pytest.approx(UNIFORM_LOG_LOSS, abs=0.02)
    assert log_loss(targets_of(valid), model.predict_proba(valid, swap_tta=True)) < UNIFORM_LOG_LOSS - 0.1


def test_head_init_is_checked(tokenizer_dir: Path) -> None:
    p = params(tokenizer_dir)
    p["model"] = {**p["model"], "head_init": "xavier"}
    with pytest.raises(ValueError, match="model.head_init"):
        make_config(**p)


def test_length_offset_starts_at_the_length_baseline_and_learns_beyond_it(
        tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """``model.offset: length``: with a zero head the classifier is the length baseline fitted on its
    training rows, exactly; trained, it learns what length does not explain (here: the words)."""
    from arenapref.models.length import LengthModel

    def same_lengths(pairs: pd.DataFrame) -> pd.DataFrame:  # "right" and "wrong": length cannot tell A from B
        out = pairs.copy()
        for col in ("response_a", "response_b"):
            out[col] = [[t.replace("correct", "right") for t in turns] for turns in out[col]]
        return out

    train, valid = (same_lengths(d) for d in data)
    baseline = LengthModel().fit(train).predict_proba(valid, swap_tta=True)

    def fitted(**spec: object) -> LLMClassifier:
        p = params(tokenizer_dir, **spec)
        p["model"] = {**p["model"], "head_init": "zero", "offset": "length"}
        return LLMClassifier(**p).fit(train, log=lambda m: None)

    untrained = fitted(max_steps=1, lr=0.0, head_lr=0.0)
    np.testing.assert_allclose(untrained.predict_proba(valid, swap_tta=True), baseline, atol=1e-6)
    model = fitted(max_steps=60)
    got = model.predict_proba(valid, swap_tta=True)
    np.testing.assert_allclose(got, swap_proba(model.predict_proba(swap_pairs(valid), swap_tta=True)), atol=1e-6)
    y = targets_of(valid)
    assert log_loss(y, got) < log_loss(y, baseline) - 0.1, (log_loss(y, got), log_loss(y, baseline))


def test_offset_is_checked(tokenizer_dir: Path) -> None:
    p = params(tokenizer_dir)
    p["model"] = {**p["model"], "offset": "gbdt"}
    with pytest.raises(ValueError, match="model.offset"):
        make_config(**p)


def test_a_tie_free_source_trains_the_a_vs_b_margin_only() -> None:
    """``train.no_tie_sources``: such a row's loss is -log(p_A / (p_A + p_B)) for an A win, and the tie
    logit gets no gradient from it, so a source without ties does not teach that ties never happen."""
    from arenapref.models.llm.losses import decisive_cross_entropy
    from arenapref.models.llm.train import example_losses

    logits = torch.tensor([[1.0, 0.2, 0.5], [0.3, -0.4, 2.0]], requires_grad=True)
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    p = torch.softmax(logits.detach(), dim=-1).numpy()
    expected = [-np.log(p[0, 0] / (p[0, 0] + p[0, 1])), -np.log(p[1, 1] / (p[1, 0] + p[1, 1]))]
    np.testing.assert_allclose(decisive_cross_entropy(logits, targets).detach().numpy(), expected, rtol=1e-6)
    cfg = make_config(model={"init_config": {}})
    mixed = example_losses(logits, targets, None, cfg, torch.tensor([True, False]))
    full = soft_cross_entropy(logits, targets)
    assert float(mixed[0].detach()) == pytest.approx(expected[0], rel=1e-6)
    assert float(mixed[1].detach()) == float(full[1].detach())
    mixed[0].backward()
    assert logits.grad[0, 2] == 0 and logits.grad[0, 0] < 0 and bool((logits.grad[1] == 0).all())


def test_no_tie_sources_leave_the_offset_and_validation_to_the_tied_rows(
        tokenizer_dir: Path, data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    from arenapref.models.length import LengthModel

    train, valid = data
    tie_free = train.loc[targets_of(train)[:, 2] == 0].assign(source="battles")
    p = params(tokenizer_dir, max_steps=2, no_tie_sources=["battles"], valid_fraction=0.0)
    p["model"] = {**p["model"], "head_init": "zero", "offset": "length"}
    model = LLMClassifier(**p).fit(pd.concat([train, tie_free], ignore_index=True), log=lambda m: None)
    expected = LengthModel().fit(train).predict_proba(valid)
    assert model.offset_model_ is not None
    np.testing.assert_allclose(model.offset_model_.predict_proba(valid), expected)
    encoded = model._encode(pd.concat([valid, tie_free.iloc[:5]], ignore_index=True), teachers=False)
    assert encoded.decisive is not None and encoded.decisive.sum() == 5 and not encoded.decisive[:len(valid)].any()
