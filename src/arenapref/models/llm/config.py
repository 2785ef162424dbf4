"""The LLM recipe as dataclasses: one per YAML section (model, lora, text, train, distill, infer).

Unknown keys are an error that names the section and the allowed keys, so a typo in a recipe never
silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from arenapref.text.truncate import TruncationConfig

PRECISIONS = ("fp32", "bf16", "fp16")
INFER_PRECISIONS = ("fp32", "bf16", "fp16", "int8_dynamic", "8bit", "4bit")
SWAP_MODES = ("none", "random", "full")
HEAD_INITS = ("normal", "zero")
OFFSETS = (None, "length")


@dataclass
class ModelSpec:
    base: str | None = None                 # hub id, local folder, or "package:NAME" (an installed package dir)
    gguf_file: str | None = None            # a .gguf inside ``base`` (de-quantised on load); auto if only one
    init_config: dict[str, Any] | None = None  # random init from a config dict (tests, scale benchmarks)
    tokenizer: str | None = None            # defaults to ``base``
    dtype: str = "fp32"                     # weights dtype while training: fp32 | bf16
    quantization: str | None = None         # None | "4bit" (QLoRA: NF4 + double quant) | "8bit"; CUDA only
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None  # e.g. "eager" for Gemma-2 soft-capping, "sdpa"
    keep_head: bool = False                 # ``base`` is an arenapref classifier (e.g. RUN/model/weights of a
                                            # stage trained on extra data): keep its trained 3-class head
    head: str = "default"                   # "default": the model's own classification head; "mlp": 2-layer
    head_init: str = "normal"               # "normal": N(0, 0.02) head; "zero": the head's last layer starts at 0,
                                            # so the first prediction is uniform (pooled decoder states have large
                                            # norms: a N(0, 0.02) head starts over-confident)
    offset: str | None = None               # None | "length": the head's logits are added to the log-probabilities
                                            # of a length baseline fitted on the same training rows, so the LLM
                                            # learns what length does not explain (it cannot see the length of a
                                            # truncated answer); saved with the model


@dataclass
class LoraSpec:
    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: Any = "all-linear"      # "all-linear" or a list such as [q_proj, k_proj, v_proj]
    top_layers: int | None = None           # LoRA only in the last N blocks: backward stops there (CPU speed)


@dataclass
class TrainSpec:
    epochs: float = 1.0
    max_steps: int | None = None            # optimizer steps; overrides epochs when set
    micro_batch_size: int = 4
    grad_accum: int = 4
    lr: float = 2e-4
    head_lr: float | None = None            # separate LR for the classification head (default: lr)
    weight_decay: float = 0.0
    optimizer: str = "adamw"                # adamw | adamw_8bit (bitsandbytes, CUDA)
    schedule: str = "cosine"                # cosine | linear | constant
    warmup_ratio: float = 0.05
    max_grad_norm: float | None = 1.0
    label_smoothing: float = 0.0
    precision: str = "fp32"                 # fp32 | bf16 | fp16 (autocast)
    swap: str = "full"                      # none | random | full
    random_swap_prob: float = 0.5
    eval_every: int | None = None           # optimizer steps between validation passes
    patience: int | None = None             # evaluations without improvement before stopping
    valid_fraction: float = 0.0             # grouped hold-out from the training rows when no eval set is given
    eval_swap_tta: bool = False
    no_tie_sources: list[str] = field(default_factory=list)  # sources that left ties out (e.g. the Llama-3-70B
                                            # battles): their rows train the A-vs-B margin only, and are left
                                            # out of the validation log loss and of the offset's fit
    checkpoint_dir: str | None = None       # where checkpoints go (resume reads the latest)
    checkpoint_every: int | None = None
    resume: bool = False
    stop_after_steps: int | None = None     # end this call early (time-boxed jobs); resume continues
    log_every: int = 10


@dataclass
class DistillSpec:
    teachers: list[str] = field(default_factory=list)  # oof.parquet / submission CSVs with probabilities
    alpha: float = 0.5                      # weight of CE on the labels; 1 - alpha on the teacher KL
    temperature: float = 1.0


@dataclass
class InferSpec:
    max_length: int | None = None           # defaults to text.max_length
    batch_size: int = 16
    max_batch_tokens: int = 16384           # padded tokens per batch (length-sorted dynamic batching)
    precision: str = "fp32"                 # fp32 | bf16 | fp16 | int8_dynamic (CPU) | 8bit | 4bit (CUDA)
    merge_lora: bool = True


@dataclass
class LLMConfig:
    model: ModelSpec
    lora: LoraSpec
    text: TruncationConfig
    train: TrainSpec
    distill: DistillSpec
    infer: InferSpec
    seed: int = 42


SECTIONS: dict[str, type] = {"model": ModelSpec, "lora": LoraSpec, "text": TruncationConfig,
                             "train": TrainSpec, "distill": DistillSpec, "infer": InferSpec}


def _section(kind: type, name: str, values: dict[str, Any] | None) -> Any:
    values = dict(values or {})
    allowed = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"llm config section {name!r}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    if kind is TruncationConfig and "shares" in values:
        values["shares"] = tuple(values["shares"])
    return kind(**values)


def make_config(seed: int = 42, **sections: dict[str, Any] | None) -> LLMConfig:
    """Build and validate the config from plain dicts (the ``model.params`` of a YAML recipe)."""
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"llm config: unknown section(s) {unknown}; allowed: {sorted(SECTIONS)} and seed")
    cfg = LLMConfig(seed=int(seed), **{k: _section(v, k, sections.get(k)) for k, v in SECTIONS.items()})
    if cfg.model.base is None and cfg.model.init_config is None:
        raise ValueError("llm config: set model.base (hub id / folder / package:NAME) or model.init_config")
    if cfg.train.precision not in PRECISIONS:
        raise ValueError(f"train.precision must be one of {PRECISIONS}, got {cfg.train.precision!r}")
    if cfg.infer.precision not in INFER_PRECISIONS:
        raise ValueError(f"infer.precision must be one of {INFER_PRECISIONS}, got {cfg.infer.precision!r}")
    if cfg.train.swap not in SWAP_MODES:
        raise ValueError(f"train.swap must be one of {SWAP_MODES}, got {cfg.train.swap!r}")
    if cfg.train.schedule not in ("cosine", "linear", "constant"):
        raise ValueError(f"train.schedule must be cosine, linear or constant, got {cfg.train.schedule!r}")
    if cfg.train.optimizer not in ("adamw", "adamw_8bit"):
        raise ValueError(f"train.optimizer must be adamw or adamw_8bit, got {cfg.train.optimizer!r}")
    if cfg.model.quantization not in (None, "4bit", "8bit"):
        raise ValueError(f"model.quantization must be null, 4bit or 8bit, got {cfg.model.quantization!r}")
    if cfg.model.head not in ("default", "mlp"):
        raise ValueError(f"model.head must be default or mlp, got {cfg.model.head!r}")
    if cfg.model.head_init not in HEAD_INITS:
        raise ValueError(f"model.head_init must be one of {HEAD_INITS}, got {cfg.model.head_init!r}")
    if cfg.model.offset not in OFFSETS:
        raise ValueError(f"model.offset must be null or one of {OFFSETS[1:]}, got {cfg.model.offset!r}")
    if not 0.0 <= cfg.distill.alpha <= 1.0 or cfg.distill.temperature <= 0:
        raise ValueError("distill.alpha must be in [0, 1] and distill.temperature > 0")
    if cfg.train.micro_batch_size < 1 or cfg.train.grad_accum < 1:
        raise ValueError("train.micro_batch_size and train.grad_accum must be >= 1")
    return cfg


def config_to_dict(cfg: LLMConfig) -> dict[str, Any]:
    out = dataclasses.asdict(cfg)
    out["text"]["shares"] = list(cfg.text.shares)
    return out
