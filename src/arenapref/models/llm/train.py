"""The training recipe: one plain loop, top to bottom (the torchtune shape), configured by ``TrainSpec``.

    for each optimizer step:
        pick this step's pairs (a seeded permutation per epoch; random swap flips each with prob p;
        full swap adds every pair's swapped copy to the same step)
        split this process's share into micro-batches (length-sorted, so padding stays small)
        for each micro-batch: loss = sum(per-example loss) / examples in the step; backward
        clip, optimizer step, LR schedule step
        every eval_every steps: validation log loss; keep the best trainable weights; early stop
        every checkpoint_every steps: save trainable weights + optimizer + schedule + RNG (resume)

Runs single-process (CPU or one GPU) or under ``accelerate launch`` / ``torchrun`` (WORLD_SIZE > 1):
then ``accelerate`` wraps the model (DDP, or FSDP / DeepSpeed from the launch config), every process
takes every world-th pair of a step, and gradients are averaged across processes.

From the command line: ``arenapref train-llm`` / ``python -m arenapref.commands.train_llm`` (one model
folder, under a launcher too); ``arenapref train`` runs it through ``LLMClassifier.fit`` with CV.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from arenapref.metrics import log_loss
from arenapref.models.llm.backbone import is_head_param, require_cuda
from arenapref.models.llm.config import LLMConfig
from arenapref.models.llm.encoding import SWAP_COLUMNS, EncodedPairs, Examples, collate
from arenapref.models.llm.infer import autocast, predict_logits, softmax
from arenapref.models.llm.losses import decisive_cross_entropy, distillation_loss, soft_cross_entropy
from arenapref.runs import atomic_dir, read_json, write_json

CHECKPOINT = "last"


@dataclass
class TrainResult:
    steps_done: int = 0
    total_steps: int = 0
    best_step: int | None = None
    best_val_log_loss: float | None = None
    stopped_early: bool = False
    examples_seen: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def examples_per_second(self) -> float:
        return self.examples_seen / self.seconds if self.seconds > 0 else float("nan")


# ------------------------------------------------------------------------------------------ helpers
def distributed() -> tuple[Any, int, int]:
    """(accelerator or None, rank, world size); accelerate only when launched with several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None, 0, 1
    from accelerate import Accelerator

    # without cpu=True accelerate ignores a multi-process CPU launch and every process trains alone
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    if accelerator.num_processes != world:
        raise RuntimeError(f"launched with WORLD_SIZE={world} but accelerate sees {accelerator.num_processes} "
                           f"process(es) ({accelerator.distributed_type}); check the launcher environment")
    return accelerator, accelerator.process_index, accelerator.num_processes


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = sorted(set(state) - set(params))
    if missing:
        raise ValueError(f"checkpoint does not match the model: unknown parameters {missing[:3]}")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))


def build_optimizer(model: nn.Module, cfg: LLMConfig) -> torch.optim.Optimizer:
    """AdamW with two groups: the classification head (``head_lr``) and everything else (``lr``)."""
    spec = cfg.train
    head: list[nn.Parameter] = []
    body: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (head if is_head_param(name) else body).append(p)
    groups = [g for g in (
        {"params": body, "lr": spec.lr, "weight_decay": spec.weight_decay},
        {"params": head, "lr": spec.head_lr or spec.lr, "weight_decay": spec.weight_decay},
    ) if g["params"]]
    if spec.optimizer == "adamw_8bit":
        require_cuda("the 8-bit AdamW optimizer")
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(groups, lr=spec.lr)
    return torch.optim.AdamW(groups, lr=spec.lr, foreach=False)


def build_schedule(optimizer: torch.optim.Optimizer, cfg: LLMConfig, total_steps: int) -> Any:
    from transformers import (
        get_constant_schedule_with_warmup,
        get_cosine_schedule_with_warmup,
        get_linear_schedule_with_warmup,
    )

    warmup = int(round(cfg.train.warmup_ratio * total_steps))
    if cfg.train.schedule == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, total_steps)
    if cfg.train.schedule == "linear":
        return get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    return get_constant_schedule_with_warmup(optimizer, warmup)


def step_plan(n: int, cfg: LLMConfig, world: int) -> tuple[int, int, int]:
    """(pairs per optimizer step over all processes, steps per epoch, total steps)."""
    per_step = cfg.train.micro_batch_size * cfg.train.grad_accum * world
    per_epoch = max(1, math.ceil(n / per_step))
    total = cfg.train.max_steps or max(1, math.ceil(cfg.train.epochs * per_epoch))
    return per_step, per_epoch, total


def step_examples(step: int, n: int, cfg: LLMConfig, per_step: int, per_epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair indices and swap flags of optimizer step ``step``: a pure function of (seed, step)."""
    epoch, pos = divmod(step, per_epoch)
    rng = np.random.default_rng([cfg.seed, epoch])
    perm = rng.permutation(n)
    flips = rng.random(n) < cfg.train.random_swap_prob
    idx = perm[pos * per_step:(pos + 1) * per_step]
    if cfg.train.swap == "random":
        return idx, flips[pos * per_step:(pos + 1) * per_step]
    return idx, np.zeros(len(idx), dtype=bool)


def example_losses(logits: torch.Tensor, targets: torch.Tensor, teacher: torch.Tensor | None,
                   cfg: LLMConfig, decisive: torch.Tensor | None = None) -> torch.Tensor:
    if teacher is None:
        losses = soft_cross_entropy(logits, targets, cfg.train.label_smoothing)
    else:
        losses = distillation_loss(logits, targets, teacher, alpha=cfg.distill.alpha,
                                   temperature=cfg.distill.temperature, label_smoothing=cfg.train.label_smoothing)
    if decisive is not None and bool(decisive.any()):
        losses = torch.where(decisive, decisive_cross_entropy(logits, targets), losses)
    return losses


def evaluate(model: nn.Module, data: EncodedPairs, pad_id: int, cfg: LLMConfig) -> float:
    """Validation log loss (optionally swap-averaged), model left in train mode afterwards."""
    model.eval()
    with autocast(next(model.parameters()).device, cfg.train.precision):
        proba = softmax(predict_logits(model, data.ids, pad_id, batch_size=cfg.infer.batch_size,
                                       max_batch_tokens=cfg.infer.max_batch_tokens) + _or_zero(data.offset))
        if cfg.train.eval_swap_tta:
            swapped = softmax(predict_logits(model, data.swapped_ids, pad_id, batch_size=cfg.infer.batch_size,
                                             max_batch_tokens=cfg.infer.max_batch_tokens)
                              + _or_zero(data.swapped_offset))
            proba = 0.5 * (proba + swapped[:, SWAP_COLUMNS])
    model.train()
    # rows of a tie-free source say nothing about the tie rate: left out of the score when others remain
    keep = slice(None) if data.decisive is None or data.decisive.all() else ~data.decisive
    return log_loss(data.targets[keep], proba[keep])


def _or_zero(offset: np.ndarray | None) -> np.ndarray | float:
    return 0.0 if offset is None else offset


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any,
                    state: dict[str, Any], best: dict[str, torch.Tensor] | None) -> None:
    with atomic_dir(path, force=True) as tmp:
        torch.save(trainable_state(model), tmp / "trainable.pt")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(schedule.state_dict(), tmp / "schedule.pt")
        torch.save({"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
                   tmp / "rng.pt")
        if best is not None:
            torch.save(best, tmp / "best.pt")
        write_json(tmp / "state.json", state)


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    schedule: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    load_trainable(model, torch.load(path / "trainable.pt", weights_only=True))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    schedule.load_state_dict(torch.load(path / "schedule.pt", weights_only=True))
    rng = torch.load(path / "rng.pt", weights_only=True)
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    best = torch.load(path / "best.pt", weights_only=True) if (path / "best.pt").exists() else None
    return read_json(path / "state.json"), best


def accumulate_step(model: nn.Module, examples: Examples, cfg: LLMConfig, pad_id: int, device: torch.device, *,
                    micro: int, backward: Any = None, no_sync: Any = None) -> float:
    """Forward/backward of one optimizer step's examples in micro-batches of ``micro``; returns the loss.

    Each micro-batch adds sum(per-example loss) / len(seqs), so the accumulated gradient is that of the
    mean over all examples of the step however unevenly they split. Examples are length-sorted first
    (less padding; the sum does not depend on the order). ``no_sync`` skips the DDP all-reduce on all
    micro-batches but the last. Offset rows are added to the logits (``model.offset``); decisive rows
    take the A-vs-B loss (``train.no_tie_sources``).
    """
    seqs, targets, teacher, offset, decisive = (examples.seqs, examples.targets, examples.teacher,
                                                examples.offset, examples.decisive)
    backward = backward or (lambda loss: loss.backward())
    order = np.argsort([-len(s) for s in seqs], kind="stable")
    chunks = [order[i:i + micro] for i in range(0, len(order), micro)]
    total = 0.0
    for k, rows in enumerate(chunks):
        ids, mask = collate([seqs[i] for i in rows], pad_id)
        context = no_sync() if no_sync is not None and k < len(chunks) - 1 else contextlib.nullcontext()
        with context:
            with autocast(device, cfg.train.precision):
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            if offset is not None:
                logits = logits.float() + torch.as_tensor(offset[rows], dtype=torch.float32, device=device)
            t = torch.as_tensor(targets[rows], dtype=torch.float32, device=device)
            tt = None if teacher is None else torch.as_tensor(teacher[rows], dtype=torch.float32, device=device)
            td = None if decisive is None else torch.as_tensor(decisive[rows], dtype=torch.bool, device=device)
            loss = example_losses(logits, t, tt, cfg, td).sum() / len(seqs)
            backward(loss)
        total += float(loss.detach())
    return total


def _backward(accelerator: Any, scaler: Any) -> Any:
    if scaler is not None:
        return lambda loss: scaler.scale(loss).backward()
    if accelerator is not None:
        return accelerator.backward
    return lambda loss: loss.backward()


# ------------------------------------------------------------------------------------------ the loop
def run_training(model: nn.Module, cfg: LLMConfig, train: EncodedPairs, valid: EncodedPairs | None,
                 pad_id: int, *, log: Any = print) -> TrainResult:
    spec = cfg.train
    if train.teacher is None and cfg.distill.teachers:
        raise ValueError("distill.teachers is set but no teacher probabilities were attached to the data")
    accelerator, rank, world = distributed()
    device = accelerator.device if accelerator else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.precision == "fp16":
        require_cuda("fp16 training (loss scaling)")
    torch.manual_seed(cfg.seed)
    if not any(getattr(model, flag, False) for flag in ("is_loaded_in_4bit", "is_loaded_in_8bit")):
        model.to(device)  # bitsandbytes models are placed at load time and refuse .to()
    model.train()
    per_step, per_epoch, total = step_plan(len(train), cfg, world)
    optimizer = build_optimizer(model, cfg)
    schedule = build_schedule(optimizer, cfg, total)
    scaler = torch.amp.GradScaler("cuda") if spec.precision == "fp16" else None
    wrapped = model
    if accelerator is not None:
        wrapped, optimizer = accelerator.prepare(model, optimizer)
    result = TrainResult(total_steps=total)
    state: dict[str, Any] = {"step": 0, "best": None, "best_step": None, "bad_evals": 0, "history": []}
    best: dict[str, torch.Tensor] | None = None
    ckpt = Path(spec.checkpoint_dir) / CHECKPOINT if spec.checkpoint_dir else None
    if spec.resume:
        if ckpt is None or not (ckpt / "state.json").exists():
            raise FileNotFoundError(f"train.resume is set but there is no checkpoint at {ckpt}")
        state, best = load_checkpoint(ckpt, model, optimizer, schedule)
        log(f"resumed from {ckpt} at step {state['step']}")
    start_step = state["step"]
    started = time.perf_counter()
    step = start_step
    while step < total:
        if spec.stop_after_steps is not None and step - start_step >= spec.stop_after_steps:
            break
        idx, flips = step_examples(step, len(train), cfg, per_step, per_epoch)
        idx, flips = idx[rank::world], flips[rank::world]
        if spec.swap == "full":
            idx, flips = np.concatenate([idx, idx]), np.concatenate([flips, ~flips])
        step_set = train.view(idx, flips)
        n_local = len(step_set.seqs)
        micro = spec.micro_batch_size * (2 if spec.swap == "full" else 1)
        step_loss = accumulate_step(wrapped, step_set, cfg, pad_id, device, micro=micro,
                                    backward=_backward(accelerator, scaler),
                                    no_sync=(lambda: accelerator.no_sync(wrapped)) if accelerator else None)
        if scaler is not None:
            scaler.unscale_(optimizer)
        if spec.max_grad_norm:
            params = [p for p in wrapped.parameters() if p.requires_grad]
            if accelerator is not None:
                accelerator.clip_grad_norm_(params, spec.max_grad_norm)
            else:
                torch.nn.utils.clip_grad_norm_(params, spec.max_grad_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        result.examples_seen += n_local
        record: dict[str, Any] = {"step": step, "train_loss": round(step_loss, 6),
                                  "lr": schedule.get_last_lr()[0]}
        stop = False
        if valid is not None and len(valid) and (
                (spec.eval_every and step % spec.eval_every == 0) or step == total):
            val = evaluate(model, valid, pad_id, cfg)
            record["val_log_loss"] = round(val, 6)
            if state["best"] is None or val < state["best"] - 1e-6:
                state.update(best=val, best_step=step, bad_evals=0)
                best = trainable_state(model)
            else:
                state["bad_evals"] += 1
                stop = bool(spec.patience) and state["bad_evals"] >= spec.patience
        state["history"].append(record)
        if rank == 0 and (step % max(1, spec.log_every) == 0 or "val_log_loss" in record or step == total):
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        state["step"] = step
        if ckpt is not None and rank == 0 and spec.checkpoint_every and (
                step % spec.checkpoint_every == 0 or stop or step == total):
            save_checkpoint(ckpt, model, optimizer, schedule, state, best)
        if stop:
            result.stopped_early = True
            log(f"early stop at step {step}: no improvement in {spec.patience} evaluations")
            break
    if ckpt is not None and rank == 0 and step < total and not result.stopped_early:
        save_checkpoint(ckpt, model, optimizer, schedule, state, best)  # stopped by stop_after_steps
    if accelerator is not None:
        accelerator.wait_for_everyone()
    if best is not None:
        load_trainable(model, best)
    result.seconds = time.perf_counter() - started
    result.steps_done = step
    result.best_step, result.best_val_log_loss = state["best_step"], state["best"]
    result.history = state["history"]
    return result
