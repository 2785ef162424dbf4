"""Adapter tools for saved LLM model folders: average fold adapters into one, merge LoRA into full weights.

Averaging LoRA weights (A and B matrices element-wise, and the trained head) is the cheap fold ensemble of
the Kaggle solutions: one forward pass at inference instead of one per fold. It is not the same as
averaging the folds' predictions (B·A is not linear in the pair), so measure it before relying on it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from arenapref.runs import atomic_dir, read_json, write_json

MANIFEST = "model.json"  # models.registry.MANIFEST (not imported: the registry imports model modules)
ADAPTER = "adapter"
WEIGHTS = "adapter_model.safetensors"


def average_adapters(model_dirs: list[str | Path], out: str | Path, *, force: bool = False) -> Path:
    """Write a model folder whose adapter is the element-wise mean of the given folders' adapters."""
    from safetensors.torch import load_file, save_file

    dirs = [Path(d) for d in model_dirs]
    if len(dirs) < 2:
        raise ValueError("average_adapters needs at least two model folders")
    for d in dirs:
        if not (d / ADAPTER / WEIGHTS).exists():
            raise FileNotFoundError(f"{d}: no LoRA adapter ({ADAPTER}/{WEIGHTS}); save with save_mode adapter")
    configs = [read_json(d / ADAPTER / "adapter_config.json") for d in dirs]
    keys = ("r", "lora_alpha", "target_modules", "layers_to_transform", "modules_to_save", "base_model_name_or_path")
    for d, cfg in zip(dirs[1:], configs[1:]):
        diff = [k for k in keys if _norm(cfg.get(k)) != _norm(configs[0].get(k))]
        if diff:
            raise ValueError(f"{d}: different adapter configs from {dirs[0]} ({', '.join(diff)}); cannot average")
    states = [load_file(str(d / ADAPTER / WEIGHTS)) for d in dirs]
    names = set(states[0])
    for d, state in zip(dirs[1:], states[1:]):
        if set(state) != names:
            raise ValueError(f"{d}: adapter tensors differ from {dirs[0]}; cannot average")
    mean = {n: torch.stack([s[n].float() for s in states]).mean(dim=0).to(states[0][n].dtype) for n in sorted(names)}
    out = Path(out)
    with atomic_dir(out, force=force) as tmp:
        shutil.copytree(dirs[0], tmp, dirs_exist_ok=True)
        save_file(mean, str(tmp / ADAPTER / WEIGHTS))
        write_json(tmp / MANIFEST, {"type": "llm"})
    return out


def merge_adapter(model_dir: str | Path, out: str | Path, *, force: bool = False) -> Path:
    """Re-save a LoRA model folder with the adapter merged into full weights (no peft needed to serve it)."""
    from arenapref.models.llm.model import LLMClassifier

    model = LLMClassifier.load(Path(model_dir))
    model.save_mode = "full"
    out = Path(out)
    with atomic_dir(out, force=force) as tmp:
        model.save(tmp)
        write_json(tmp / MANIFEST, {"type": model.name})  # so models.load_model / arenapref predict read it
    return out


def _norm(value: object) -> object:
    return sorted(value) if isinstance(value, (list, set, tuple)) else value
