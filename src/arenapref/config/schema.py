"""The recipe schema: every key of a recipe YAML, typed, range-checked, with its default.

Defaults live with the code that uses them and are read from there, never restated: the GBDT
constructor and ``DEFAULT_LGB_PARAMS`` (``models/gbdt.py``), the TF-IDF and sentence-encoder blocks'
constructors, the length and prior models' constructors, the LLM dataclasses
(``models/llm/config.py``, ``text/truncate.py``) and ``BlendSpec``. The top-level sections (seed, cv,
data, predict) have no other home, so their defaults are here. ``tests/test_config_schema.py`` checks
that every constructor argument and dataclass field has exactly one schema field.

Every section forbids unknown keys and is strict: ``'false'`` is not a boolean, ``'0.1'`` not a number.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import inspect
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from arenapref.ensemble.pipeline import BlendSpec
from arenapref.features.embed import EmbedFeatures
from arenapref.features.tfidf import TfidfPairFeatures
from arenapref.models.gbdt import DEFAULT_LGB_PARAMS, GBDTModel
from arenapref.models.length import LengthModel
from arenapref.models.llm.config import DistillSpec, InferSpec, LoraSpec, ModelSpec, TrainSpec
from arenapref.models.prior import PriorModel
from arenapref.text.truncate import TruncationConfig

PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]        # (0, 1]
OpenFraction = Annotated[float, Field(gt=0, lt=1)]    # (0, 1)
UnitFloat = Annotated[float, Field(ge=0, le=1)]       # [0, 1]
HalfOpenUnit = Annotated[float, Field(ge=0, lt=1)]    # [0, 1)
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]      # numpy seeds must fit 32 bits
Tokens = Annotated[int, Field(ge=16)]                 # TruncationConfig's lower bound


def key_error(key: str, message: str, suggest: str | None = None) -> PydanticCustomError:
    """An error about ``key`` inside the section being validated (the formatter appends it to the path;
    ``suggest``: a sibling key the user probably meant)."""
    return PydanticCustomError("key_error", "{message}", {"key": key, "message": message, "suggest": suggest})


def init_defaults(cls: type) -> dict[str, Any]:
    """Keyword defaults of ``cls.__init__``: the model's own defaults, read rather than restated."""
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}


def dataclass_defaults(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def default(defaults: dict[str, Any], name: str, doc: str, **extra: Any) -> Any:
    """A pydantic field whose default is ``defaults[name]`` (copied per instance when mutable)."""
    value = defaults[name]
    if isinstance(value, tuple):
        value = list(value)  # YAML has lists; TruncationConfig turns shares back into a tuple
    if isinstance(value, (list, dict)):
        return Field(default_factory=functools.partial(copy.deepcopy, value), description=doc, **extra)
    return Field(default=value, description=doc, **extra)


class Section(BaseModel):
    """One YAML mapping: unknown keys are errors, values are not coerced, defaults are validated too."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True, validate_assignment=True)
    # fields whose None means "not set: inherit" (from the top-level seed, or the library's default):
    # left out of the resolved recipe instead of written as null
    drop_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: Any) -> Any:
        data = handler(self)
        for name in self.drop_none:
            if data.get(name) is None:
                data.pop(name, None)
        return data


# --------------------------------------------------------------------------- top-level sections
class CVSection(Section):
    n_folds: Annotated[int, Field(ge=2, le=100)] = Field(
        5, description="grouped K-fold CV: folds by prompt, so a prompt never sits on both sides")


class DataSection(Section):
    on_bad_row: Literal["error", "skip"] = Field(
        "error", description="a malformed row stops training (error) or is skipped and reported (skip)")
    allow_soft_labels: bool = Field(False, description="accept fractional labels (pseudo-labels, soft datasets)")
    extra: list[str] = Field(default_factory=list, description=(
        "extra training files: they join every fold's training side and the final model, never validation"))
    extra_max_rows: PosInt | None = Field(None, description=(
        "cap on the rows taken from each public set named `public:NAME` in extra (a seeded sample); null: all"))


class PredictSection(Section):
    swap_tta: bool = Field(True, description="average each prediction with the A/B-swapped one")


_BLEND = dataclass_defaults(BlendSpec)


class BlendSection(Section):
    method: Literal["simplex", "fixed", "stack"] = default(
        _BLEND, "method", "simplex: weights fitted on out-of-fold log loss | fixed: `weights` | stack: logistic regression")
    space: Literal["prob", "log"] = default(_BLEND, "space", "prob: weighted mixture | log: weighted geometric mean")
    weights: list[NonNegFloat] | None = default(_BLEND, "weights", "fixed only: one per run, normalised to sum 1",
                                                min_length=1)
    stack_C: PosFloat = default(_BLEND, "stack_C", "stack only: inverse L2 strength of the logistic regression")
    calibrate: Literal["none", "temperature", "vector"] = default(
        _BLEND, "calibrate", "calibration fitted in nested CV: none | temperature | vector")
    postprocess: bool = default(_BLEND, "postprocess", "identical / one-empty-response rules")
    rule_strength: NonNegFloat = default(_BLEND, "rule_strength", "strength of the post-processing rules")

    @model_validator(mode="after")
    def _weights_with_fixed(self) -> BlendSection:
        if self.method == "fixed" and not self.weights:
            raise key_error("weights", "method 'fixed' needs weights (one per run)")
        if self.method != "fixed" and self.weights:
            raise key_error("weights", f"weights are only used with method 'fixed', not {self.method!r}")
        return self


# --------------------------------------------------------------------------- LightGBM parameters
# set by GBDTModel._params or by other keys of the recipe: a value here would be overridden or clash
RESERVED_LGB: dict[str, str] = {
    "objective": "fixed by arenapref (3-class multiclass)",
    "num_class": "fixed by arenapref (3 classes)",
    "metric": "fixed by arenapref (multi_logloss)",
    "verbosity": "fixed by arenapref",
    "deterministic": "fixed by arenapref (reproducible runs)",
    "force_col_wise": "fixed by arenapref (column-wise histograms: the same trees, faster here)",
    "force_row_wise": "fixed by arenapref (column-wise histograms)",
    "seed": "set by the recipe's seed (or model.params.seed)",
    "num_threads": "set by model.params.n_jobs",
    "num_iterations": "set by model.params.n_estimators",
    "early_stopping_round": "set by model.params.early_stopping_rounds",
    "categorical_feature": "set by arenapref (model.params.source_feature)",
}


@functools.cache
def lgb_aliases() -> dict[str, list[str]]:
    """LightGBM's own parameter table: main name → [main name, aliases...] (as the library ships it)."""
    from lightgbm.basic import _ConfigAliases

    return _ConfigAliases._get_all_param_aliases()


@functools.cache
def lgb_group_of() -> dict[str, str]:
    """Any LightGBM name or alias → its main name."""
    return {alias: main for main, names in lgb_aliases().items() for alias in names}


def lgb_field(name: str, doc: str) -> Any:
    """A typed LightGBM parameter: its default from DEFAULT_LGB_PARAMS (else None: LightGBM's own), and
    every LightGBM alias accepted under the name written (so an error names the key as the user wrote it)."""
    main = lgb_group_of()[name]
    names = [name, *(a for a in lgb_aliases()[main] if a != name)]
    return Field(default=DEFAULT_LGB_PARAMS.get(name), description=doc, validation_alias=AliasChoices(*names))


class LGBParams(Section):
    """LightGBM parameters. Typed and range-checked for the common ones; any other LightGBM parameter
    (by its name or an alias) passes through as a scalar or list. Aliases are stored under one name."""

    model_config = ConfigDict(extra="allow", strict=True, validate_default=True, validate_assignment=True)
    __pydantic_extra__: dict[str, Any]

    learning_rate: PosFloat = lgb_field("learning_rate", "shrinkage per boosting round")
    num_leaves: Annotated[int, Field(ge=2, le=131072)] = lgb_field("num_leaves", "leaves per tree")
    max_depth: int = lgb_field("max_depth", "depth limit per tree; <= 0: none")
    min_child_samples: NonNegInt = lgb_field("min_child_samples", "rows per leaf, at least")
    extra_trees: bool = lgb_field("extra_trees", "randomised split thresholds")
    feature_fraction: Fraction = lgb_field("feature_fraction", "features sampled per tree")
    bagging_fraction: Fraction = lgb_field("bagging_fraction", "rows sampled per bagging round")
    bagging_freq: NonNegInt = lgb_field("bagging_freq", "bag every k rounds; 0: no bagging")
    lambda_l2: NonNegFloat = lgb_field("lambda_l2", "L2 regularisation of leaf values")
    max_bin: Annotated[int, Field(ge=2)] = lgb_field("max_bin", "histogram bins per feature")
    # typed when given; LightGBM's own default otherwise (left out of the resolved recipe)
    lambda_l1: NonNegFloat | None = lgb_field("lambda_l1", "L1 regularisation of leaf values")
    min_sum_hessian_in_leaf: NonNegFloat | None = lgb_field("min_sum_hessian_in_leaf", "hessian sum per leaf, at least")
    min_gain_to_split: NonNegFloat | None = lgb_field("min_gain_to_split", "gain a split needs")
    feature_fraction_bynode: Fraction | None = lgb_field("feature_fraction_bynode", "features sampled per node")
    path_smooth: NonNegFloat | None = lgb_field("path_smooth", "smoothing of leaf values towards the parent")
    min_data_in_bin: PosInt | None = lgb_field("min_data_in_bin", "rows per histogram bin, at least")
    boosting: Literal["gbdt", "rf", "dart"] | None = lgb_field("boosting", "boosting type")
    drop_rate: UnitFloat | None = lgb_field("drop_rate", "dart only: dropout rate")
    linear_tree: bool | None = lgb_field("linear_tree", "linear models in the leaves")

    drop_none: ClassVar[frozenset[str]] = frozenset(
        {"lambda_l1", "min_sum_hessian_in_leaf", "min_gain_to_split", "feature_fraction_bynode", "path_smooth",
         "min_data_in_bin", "boosting", "drop_rate", "linear_tree"})

    @model_validator(mode="before")
    @classmethod
    def _canonical_names(cls, data: Any) -> Any:
        """Map every LightGBM alias to one stored name; unknown, reserved or repeated names are errors."""
        if not isinstance(data, dict):
            return data
        group_of = lgb_group_of()
        typed = {group_of.get(name, name): name for name in cls.model_fields}  # main name → schema name
        out: dict[str, Any] = {}
        given: dict[str, str] = {}  # stored name → key as written
        for key, value in data.items():
            if not isinstance(key, str):
                raise key_error(str(key), "LightGBM parameter names are strings")
            main = group_of.get(key)
            if main is None:
                names = sorted(set(group_of) | set(cls.model_fields))
                close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
                if close:
                    raise key_error(key, "unknown key", suggest=close[0])
                raise key_error(key, "unknown key (not a LightGBM parameter or alias)")
            if main in RESERVED_LGB:
                raise key_error(key, f"not settable here: {RESERVED_LGB[main]}")
            if main in given:
                raise key_error(key, f"same LightGBM parameter as {given[main]} ({main}); keep one")
            given[main] = key
            if main in typed:
                out[key] = value  # any alias of a typed field: pydantic's validation_alias takes it
                continue
            if not _lgb_value_ok(value):
                raise key_error(key, f"must be a number, boolean, string or list, got {show(value)}")
            out[main] = value  # other parameters are stored under LightGBM's main name
        return out


def _lgb_value_ok(value: Any) -> bool:
    if isinstance(value, list):
        return all(_lgb_value_ok(v) for v in value)
    return isinstance(value, (bool, int, float, str))


# --------------------------------------------------------------------------- model params per type
_TFIDF = init_defaults(TfidfPairFeatures)
_EMBED = init_defaults(EmbedFeatures)
_GBDT = init_defaults(GBDTModel)
_LENGTH = init_defaults(LengthModel)
_PRIOR = init_defaults(PriorModel)


class TfidfParams(Section):
    max_features: PosInt = default(_TFIDF, "max_features", "vocabulary size of the TF-IDF vectoriser")
    ngram_max: Annotated[int, Field(ge=1, le=5)] = default(_TFIDF, "ngram_max", "word n-grams 1..ngram_max")
    svd_components: NonNegInt = default(_TFIDF, "svd_components", "SVD directions of the A-B TF-IDF difference; 0: off")
    fit_max_pairs: PosInt = default(_TFIDF, "fit_max_pairs", "pairs the vocabulary is fitted on (a seeded sample)")


class EmbedParams(Section):
    model: str = default(_EMBED, "model", "sentence encoder: package:NAME, a local folder or a hub id")
    max_length: PosInt = default(_EMBED, "max_length", "word pieces per side (head-truncated)")
    batch_size: PosInt = default(_EMBED, "batch_size", "texts per encoder batch")
    dtype: Literal["auto", "fp32", "bf16"] = default(_EMBED, "dtype", "auto: bf16 where the CPU has it, else fp32")
    directions: NonNegInt = default(_EMBED, "directions", "emb_dir_diff_* components (SVD of e_A - e_B)")
    cache_dir: str | None = default(_EMBED, "cache_dir", "embedding cache; null: $ARENAPREF_CACHE/embed or ~/.cache")
    seed: Seed | None = Field(None, description="SVD seed; default: the model's seed")

    drop_none: ClassVar[frozenset[str]] = frozenset({"seed"})


class GBDTParams(Section):
    lgb_params: LGBParams = Field(default_factory=LGBParams, description="LightGBM parameters")
    n_estimators: PosInt = default(_GBDT, "n_estimators", "boosting rounds at most (early stopping picks fewer)")
    early_stopping_rounds: PosInt = default(_GBDT, "early_stopping_rounds", "rounds without improvement before stopping")
    valid_fraction: OpenFraction = default(_GBDT, "valid_fraction", "grouped early-stopping hold-out of the training rows")
    swap_augment: bool = default(_GBDT, "swap_augment", "train on every pair in both orientations")
    use_tfidf: bool = default(_GBDT, "use_tfidf", "add the TF-IDF feature block")
    tfidf: TfidfParams = Field(default_factory=TfidfParams, description="TF-IDF block (when use_tfidf)")
    refit_full: bool = default(_GBDT, "refit_full", "refit on all rows with the early-stopped round count")
    seed: Seed | None = Field(None, description="model seed; default: the recipe's seed")
    n_jobs: PosInt = default(_GBDT, "n_jobs", "LightGBM threads")
    progress: bool = default(_GBDT, "progress", "progress bars while computing features")
    source_weights: dict[str, NonNegFloat] | None = default(
        _GBDT, "source_weights", "sample weight per training source (sources not named keep 1)")
    source_feature: str | None = default(
        _GBDT, "source_feature", "target domain's source: the source becomes a feature (see docs/data.md)")
    embed: EmbedParams | None = Field(None, description="sentence-encoder feature block; null: off")

    drop_none: ClassVar[frozenset[str]] = frozenset({"seed"})


class LengthParams(Section):
    C: PosFloat = default(_LENGTH, "C", "inverse L2 strength of the logistic regression")
    swap_augment: bool = default(_LENGTH, "swap_augment", "train on every pair in both orientations")


class PriorParams(Section):
    symmetric: bool = default(_PRIOR, "symmetric", "average the class prior with its A/B swap")


class NoParams(Section):
    """A blend's members and weights are made by ``arenapref blend`` (see the ``blend:`` section)."""


# --------------------------------------------------------------------------- LLM sections
_MS, _LORA, _TEXT = dataclass_defaults(ModelSpec), dataclass_defaults(LoraSpec), dataclass_defaults(TruncationConfig)
_TRAIN, _DISTILL, _INFER = dataclass_defaults(TrainSpec), dataclass_defaults(DistillSpec), dataclass_defaults(InferSpec)
# LLMClassifier's own keyword defaults (reading them would import torch; a test compares them)
LLM_INIT_DEFAULTS: dict[str, Any] = {"save_mode": "auto", "progress": False}


class LLMModelSpec(Section):
    base: str | None = default(_MS, "base", "hub id, local folder, or package:NAME (an installed package's folder)")
    gguf_file: str | None = default(_MS, "gguf_file", "a .gguf inside base (de-quantised on load); auto if only one")
    init_config: dict[str, Any] | None = default(_MS, "init_config", "random init from a config dict (tests)")
    tokenizer: str | None = default(_MS, "tokenizer", "tokenizer source; null: base")
    dtype: Literal["fp32", "bf16", "fp16"] = default(_MS, "dtype", "weights dtype while training")
    quantization: Literal["4bit", "8bit"] | None = default(_MS, "quantization", "QLoRA base quantisation (CUDA only)")
    gradient_checkpointing: bool = default(_MS, "gradient_checkpointing", "recompute activations (less memory)")
    attn_implementation: str | None = default(_MS, "attn_implementation", "e.g. eager (Gemma-2 soft-capping), sdpa")
    keep_head: bool = default(_MS, "keep_head", "base is an arenapref classifier: keep its trained 3-class head")
    head: Literal["default", "mlp"] = default(_MS, "head", "classification head: the model's own or a 2-layer MLP")
    head_init: Literal["normal", "zero"] = default(_MS, "head_init", "initial head weights: N(0, 0.02), or a zero "
                                                   "last layer (uniform first prediction, no over-confident start)")
    offset: Literal["length"] | None = default(_MS, "offset", "length: the logits are added to the log-probabilities of "
                                               "a length baseline fitted on the training rows (the LLM learns what "
                                               "length does not explain)")

    @model_validator(mode="after")
    def _has_weights(self) -> LLMModelSpec:
        if self.base is None and self.init_config is None:
            raise key_error("base", "required: a hub id, folder or package:NAME (or set init_config)")
        return self


class LoraParams(Section):
    enabled: bool = default(_LORA, "enabled", "train LoRA adapters (false: the head only)")
    r: PosInt = default(_LORA, "r", "LoRA rank")
    alpha: PosInt = default(_LORA, "alpha", "LoRA scaling numerator (alpha / r)")
    dropout: HalfOpenUnit = default(_LORA, "dropout", "dropout on the LoRA input")
    target_modules: Any = default(_LORA, "target_modules", "all-linear or a list of module names",
                                  json_schema_extra={"shown_type": "'all-linear' or list of str"})
    top_layers: PosInt | None = default(_LORA, "top_layers", "LoRA only in the last N blocks; null: all")

    @field_validator("target_modules", mode="before")
    @classmethod
    def _modules(cls, value: Any) -> Any:
        if value == "all-linear" or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            return value
        raise PydanticCustomError("shown", "must be 'all-linear' or a non-empty list of module names, got {got}",
                                  {"got": show(value)})


class TextParams(Section):
    max_length: Tokens = default(_TEXT, "max_length", "tokens per pair while training")
    shares: Annotated[list[NonNegFloat], Field(min_length=3, max_length=3)] = default(
        _TEXT, "shares", "token shares of prompt, A, B (water-filled)")
    min_response_tokens: NonNegInt = default(_TEXT, "min_response_tokens", "tokens each response keeps, at least")
    mode: Literal["right", "left", "head_tail"] = default(_TEXT, "mode", "where long texts are cut")
    head_fraction: UnitFloat = default(_TEXT, "head_fraction", "head_tail: share of the kept tokens from the head")

    @field_validator("shares")
    @classmethod
    def _positive_sum(cls, value: list[float]) -> list[float]:
        if sum(value) <= 0:
            raise PydanticCustomError("shown", "must not all be 0, got {got}", {"got": show(value)})
        return value


class TrainParams(Section):
    epochs: PosFloat = default(_TRAIN, "epochs", "passes over the training rows")
    max_steps: PosInt | None = default(_TRAIN, "max_steps", "optimizer steps; overrides epochs when set")
    micro_batch_size: PosInt = default(_TRAIN, "micro_batch_size", "pairs per forward pass")
    grad_accum: PosInt = default(_TRAIN, "grad_accum", "micro-batches per optimizer step")
    lr: PosFloat = default(_TRAIN, "lr", "learning rate (LoRA)")
    head_lr: PosFloat | None = default(_TRAIN, "head_lr", "learning rate of the classification head; null: lr")
    weight_decay: NonNegFloat = default(_TRAIN, "weight_decay", "AdamW weight decay")
    optimizer: Literal["adamw", "adamw_8bit"] = default(_TRAIN, "optimizer", "adamw_8bit needs bitsandbytes + CUDA")
    schedule: Literal["cosine", "linear", "constant"] = default(_TRAIN, "schedule", "learning-rate schedule")
    warmup_ratio: HalfOpenUnit = default(_TRAIN, "warmup_ratio", "share of the steps spent warming up")
    max_grad_norm: PosFloat | None = default(_TRAIN, "max_grad_norm", "gradient clipping; null: off")
    label_smoothing: HalfOpenUnit = default(_TRAIN, "label_smoothing", "cross-entropy label smoothing")
    precision: Literal["fp32", "bf16", "fp16"] = default(_TRAIN, "precision", "autocast precision")
    swap: Literal["none", "random", "full"] = default(_TRAIN, "swap", "A/B swap: none | random orientation | both")
    random_swap_prob: UnitFloat = default(_TRAIN, "random_swap_prob", "swap: random only: probability of swapping")
    eval_every: PosInt | None = default(_TRAIN, "eval_every", "optimizer steps between validation passes")
    patience: PosInt | None = default(_TRAIN, "patience", "evaluations without improvement before stopping")
    valid_fraction: HalfOpenUnit = default(_TRAIN, "valid_fraction", "grouped hold-out when no eval set is given")
    eval_swap_tta: bool = default(_TRAIN, "eval_swap_tta", "validate with swap test-time augmentation")
    no_tie_sources: list[str] = default(_TRAIN, "no_tie_sources", "sources that left ties out: their rows train "
                                        "the A-vs-B margin only (not the tie rate), outside validation and offset")
    checkpoint_dir: str | None = default(_TRAIN, "checkpoint_dir", "where checkpoints go (resume reads the latest)")
    checkpoint_every: PosInt | None = default(_TRAIN, "checkpoint_every", "optimizer steps between checkpoints")
    resume: bool = default(_TRAIN, "resume", "continue from the latest checkpoint")
    stop_after_steps: PosInt | None = default(_TRAIN, "stop_after_steps", "end this call early; resume continues")
    log_every: PosInt = default(_TRAIN, "log_every", "optimizer steps between log lines")


class DistillParams(Section):
    teachers: list[str] = default(_DISTILL, "teachers", "teacher runs (oof.parquet) or CSVs of probabilities")
    alpha: UnitFloat = default(_DISTILL, "alpha", "weight of CE on the labels; 1 - alpha on the teacher KL")
    temperature: PosFloat = default(_DISTILL, "temperature", "softmax temperature of the distillation KL")


class InferParams(Section):
    max_length: Tokens | None = default(_INFER, "max_length", "tokens per pair at inference; null: text.max_length")
    batch_size: PosInt = default(_INFER, "batch_size", "pairs per batch")
    max_batch_tokens: PosInt = default(_INFER, "max_batch_tokens", "padded tokens per batch (length-sorted)")
    precision: Literal["fp32", "bf16", "fp16", "int8_dynamic", "8bit", "4bit"] = default(
        _INFER, "precision", "int8_dynamic: CPU; 8bit / 4bit: CUDA")
    merge_lora: bool = default(_INFER, "merge_lora", "merge the adapter into the weights for inference")


class LLMParams(Section):
    model: LLMModelSpec = Field(description="the backbone (model.base is required)")
    lora: LoraParams = Field(default_factory=LoraParams, description="LoRA adapters")
    text: TextParams = Field(default_factory=TextParams, description="pair rendering and truncation")
    train: TrainParams = Field(default_factory=TrainParams, description="fine-tuning")
    distill: DistillParams = Field(default_factory=DistillParams, description="distillation from teachers")
    infer: InferParams = Field(default_factory=InferParams, description="inference")
    seed: Seed | None = Field(None, description="model seed; default: the recipe's seed")
    save_mode: Literal["auto", "adapter", "full"] = default(LLM_INIT_DEFAULTS, "save_mode",
                                                           "what the run keeps: adapter, full weights, or auto")
    progress: bool = default(LLM_INIT_DEFAULTS, "progress", "progress bars")

    drop_none: ClassVar[frozenset[str]] = frozenset({"seed"})


# --------------------------------------------------------------------------- the model section
class PriorSection(Section):
    type: Literal["prior"]
    params: PriorParams = Field(default_factory=PriorParams, description="class-prior baseline")


class LengthSection(Section):
    type: Literal["length"]
    params: LengthParams = Field(default_factory=LengthParams, description="logistic regression on lengths")


class GBDTSection(Section):
    type: Literal["gbdt"]
    params: GBDTParams = Field(default_factory=GBDTParams, description="LightGBM on hand-made + TF-IDF features")


class LLMSection(Section):
    type: Literal["llm"]
    params: LLMParams = Field(description="LoRA sequence classifier (params.model.base is required)")


class BlendModelSection(Section):
    type: Literal["blend"]
    params: NoParams = Field(default_factory=NoParams, description="none: see the blend: section")


ModelSection = Annotated[PriorSection | LengthSection | GBDTSection | LLMSection | BlendModelSection,
                         Field(discriminator="type")]
MODEL_SECTIONS: dict[str, type[Section]] = {"prior": PriorSection, "length": LengthSection, "gbdt": GBDTSection,
                                            "llm": LLMSection, "blend": BlendModelSection}
DEFAULT_MODEL_TYPE = "gbdt"


class Recipe(Section):
    """A whole recipe; ``arenapref config reference`` lists every key."""

    seed: Seed = Field(42, description="seed of the folds and of the model (unless model.params.seed)")
    cv: CVSection = Field(default_factory=CVSection, description="cross-validation")
    data: DataSection = Field(default_factory=DataSection, description="reading the training data")
    model: ModelSection = Field(default_factory=lambda: GBDTSection(type="gbdt"),
                                description="model.type picks the params below")
    predict: PredictSection = Field(default_factory=PredictSection, description="prediction settings of the run")
    blend: BlendSection | None = Field(None, description="`arenapref blend` settings (blend recipes)")
    runs: list[str] | None = Field(None, description="`arenapref blend`: member run directories (or --run)")
    data_paths: list[str] | None = Field(None, description="written by train: the training files (informational)")

    drop_none: ClassVar[frozenset[str]] = frozenset({"blend", "runs", "data_paths"})

    @model_validator(mode="before")
    @classmethod
    def _default_model_type(cls, data: Any) -> Any:
        # `model: {params: ...}` without a type means the default model, as it always has
        if isinstance(data, dict) and isinstance(data.get("model"), dict) and "type" not in data["model"]:
            data = {**data, "model": {"type": DEFAULT_MODEL_TYPE, **data["model"]}}
        return data

    @model_validator(mode="after")
    def _inherit_seed(self) -> Recipe:
        params = self.model.params
        if "seed" in type(params).model_fields and params.seed is None:  # type: ignore[union-attr]
            params.seed = self.seed  # type: ignore[union-attr]
        return self


def show(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it in YAML (null / true / 'text' / 3), shortened."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
