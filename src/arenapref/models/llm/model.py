"""``LLMClassifier``: a transformer sequence classifier behind the ``PreferenceModel`` interface.

Saved folder (``save``)::

    llm.json           the recipe (every section), training summary, save mode
    tokenizer/         the tokenizer (with its pad token)
    adapter/           peft LoRA adapter + head (``save_mode: adapter``; the base is re-read from model.base)
    weights/           config.json + model.safetensors of the merged model (``save_mode: full``)
    offset/            length.json: the length baseline whose log-probabilities the logits are added to
                       (``model.offset: length``)

``save_mode: auto`` stores an adapter when the base can be re-read (a hub id, folder or package) and
LoRA is on, and the merged weights otherwise (random-init models, full fine-tuning).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from arenapref.data.folds import prompt_groups
from arenapref.data.schema import has_labels, swap_pairs
from arenapref.metrics import normalise_proba
from arenapref.models.length import LengthModel
from arenapref.models.llm.backbone import (
    HFModel,
    apply_lora,
    build_classifier,
    build_tokenizer,
    require_cuda,
)
from arenapref.models.llm.config import LLMConfig, config_to_dict, make_config
from arenapref.models.llm.distill import teacher_proba
from arenapref.models.llm.encoding import SWAP_COLUMNS, EncodedPairs, encode_pairs
from arenapref.models.llm.infer import for_inference, predict_logits, softmax
from arenapref.models.llm.train import TrainResult, run_training
from arenapref.runs import read_json, write_json
from arenapref.text.render import PairRenderer, tokenizer_encoder


def merge_lora(net: HFModel) -> HFModel:
    """Fold the LoRA update into the base weights (exact in fp32); a plain model is returned as is."""
    return net.merge_and_unload() if hasattr(net, "merge_and_unload") else net


class LLMClassifier:
    name = "llm"

    def __init__(self, model: dict[str, Any], lora: dict[str, Any] | None = None, text: dict[str, Any] | None = None,
                 train: dict[str, Any] | None = None, distill: dict[str, Any] | None = None,
                 infer: dict[str, Any] | None = None, seed: int = 42, save_mode: str = "auto",
                 progress: bool = False) -> None:
        self.model = model
        self.lora = lora
        self.text = text
        self.train = train
        self.distill = distill
        self.infer = infer
        self.seed = seed
        self.save_mode = save_mode
        self.progress = progress
        self.config_: LLMConfig = make_config(seed=seed, model=model, lora=lora, text=text, train=train,
                                              distill=distill, infer=infer)
        if save_mode not in ("auto", "adapter", "full"):
            raise ValueError(f"save_mode must be auto, adapter or full, got {save_mode!r}")
        self.offset_model_: LengthModel | None = None

    # ----------------------------------------------------------------- building blocks
    def renderer(self, *, inference: bool = False) -> PairRenderer:
        text = self.config_.text
        if inference and self.config_.infer.max_length:
            text = dataclasses.replace(text, max_length=self.config_.infer.max_length)
        bos = self.tokenizer_.bos_token_id if getattr(self.tokenizer_, "add_bos_token", True) else None
        return PairRenderer(tokenizer_encoder(self.tokenizer_), text, bos_id=bos)

    def _split(self, pairs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        fraction = self.config_.train.valid_fraction
        if fraction <= 0:
            return pairs, None
        groups = prompt_groups(pairs)
        uniq = np.unique(groups)
        rng = np.random.default_rng(self.seed)
        held = rng.choice(uniq, size=max(1, int(round(fraction * len(uniq)))), replace=False)
        is_valid = np.isin(groups, held)
        return pairs.loc[~is_valid], pairs.loc[is_valid]

    def _encode(self, pairs: pd.DataFrame, *, teachers: bool) -> EncodedPairs:
        teacher = teacher_proba(self.config_.distill.teachers, pairs["id"]) if teachers else None
        offsets = None
        if self.offset_model_ is not None:
            offsets = (self._offset(pairs), self._offset(swap_pairs(pairs)))
        return encode_pairs(self.renderer(), pairs, teacher=teacher, with_swapped=True, offsets=offsets,
                            decisive=self._decisive(pairs))

    def _decisive(self, pairs: pd.DataFrame) -> np.ndarray | None:
        """Rows from a source that left ties out (``train.no_tie_sources``), or None when none is named."""
        names = self.config_.train.no_tie_sources
        if not names or "source" not in pairs.columns:
            return None
        return pairs["source"].astype(str).isin(names).to_numpy()

    def _offset(self, pairs: pd.DataFrame) -> np.ndarray:
        """(n, 3) log-probabilities of the offset model for the pairs as given (``model.offset``)."""
        assert self.offset_model_ is not None
        return np.log(np.clip(self.offset_model_.predict_proba(pairs), 1e-7, 1.0))

    # ----------------------------------------------------------------- interface
    def fit(self, pairs: pd.DataFrame, *, eval_pairs: pd.DataFrame | None = None, log: Any = print) -> LLMClassifier:
        cfg = self.config_
        pairs = pairs.loc[has_labels(pairs)].reset_index(drop=True)
        if len(pairs) == 0:
            raise ValueError("no labelled rows to train on")
        if cfg.model.quantization:
            require_cuda(f"QLoRA ({cfg.model.quantization} base weights)")
        self.tokenizer_ = build_tokenizer(cfg.model)
        net = build_classifier(cfg.model, self.tokenizer_, seed=cfg.seed, quantization=cfg.model.quantization)
        if cfg.lora.enabled:
            net = apply_lora(net, cfg.lora, quantized=cfg.model.quantization is not None,
                             gradient_checkpointing=cfg.model.gradient_checkpointing)
        elif cfg.model.gradient_checkpointing:
            net.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if eval_pairs is not None:
            train_pairs, valid_pairs = pairs, eval_pairs.loc[has_labels(eval_pairs)].reset_index(drop=True)
        else:
            train_pairs, valid_pairs = self._split(pairs)
        # the baseline sees the training rows only, like the LLM (a 12-feature logistic regression: its
        # in-sample log-probabilities are close to what it gives unseen rows)
        decisive = self._decisive(train_pairs)
        tied = train_pairs if decisive is None or decisive.all() else train_pairs.loc[~decisive]
        self.offset_model_ = LengthModel().fit(tied) if cfg.model.offset == "length" else None
        train_set = self._encode(train_pairs, teachers=bool(cfg.distill.teachers))
        valid_set = self._encode(valid_pairs, teachers=False) if valid_pairs is not None else None
        self.truncation_report_ = train_set.report
        log(f"llm: {len(train_set):,} training pairs ({int(train_set.report['truncated'].sum()):,} truncated), "
            f"{0 if valid_set is None else len(valid_set):,} validation pairs")
        self.train_result_: TrainResult = run_training(net, cfg, train_set, valid_set,
                                                       self.tokenizer_.pad_token_id, log=log)
        self.net_ = net
        self._ready: nn.Module | None = None
        return self

    def _inference_net(self) -> nn.Module:
        if self._ready is None:
            precision = self.config_.infer.precision
            quantized = self.config_.model.quantization is not None or precision in ("8bit", "4bit")
            if not quantized and (self.config_.infer.merge_lora or precision == "int8_dynamic"):
                self.net_ = merge_lora(self.net_)  # merging edits the base in place: keep only the merged model
            # bf16 converts net_ in place; int8 makes a quantised copy and leaves net_ in fp32
            self._ready = for_inference(self.net_, "fp32" if precision in ("8bit", "4bit") else precision)
        return self._ready

    def logits(self, pairs: pd.DataFrame, *, swapped: bool = False) -> np.ndarray:
        renderer = self.renderer(inference=True)
        cols = ("response_b", "response_a") if swapped else ("response_a", "response_b")
        seqs = [renderer.render(p, a, b, row_id=str(i)).input_ids
                for i, p, a, b in zip(pairs["id"], pairs["prompt"], pairs[cols[0]], pairs[cols[1]])]
        spec = self.config_.infer
        logits = predict_logits(self._inference_net(), seqs, self.tokenizer_.pad_token_id,
                                batch_size=spec.batch_size, max_batch_tokens=spec.max_batch_tokens,
                                progress=self.progress)
        if self.offset_model_ is not None:
            logits = logits + self._offset(swap_pairs(pairs) if swapped else pairs)
        return logits

    def predict_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray:
        if len(pairs) == 0:
            return np.zeros((0, 3))
        proba = softmax(self.logits(pairs))
        if swap_tta:
            proba = 0.5 * (proba + softmax(self.logits(pairs, swapped=True))[:, SWAP_COLUMNS])
        return normalise_proba(proba)

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("model", "lora", "text", "train", "distill", "infer", "seed",
                                              "save_mode")}

    def _mode(self) -> str:
        if self.save_mode != "auto":
            return self.save_mode
        return "adapter" if self.config_.lora.enabled and self.config_.model.base is not None else "full"

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        mode = self._mode()
        self.tokenizer_.save_pretrained(path / "tokenizer")
        if mode == "adapter":
            if not hasattr(self.net_, "peft_config"):
                raise ValueError("save_mode adapter needs an un-merged LoRA model; save before predicting, or use "
                                 "save_mode: full")
            self.net_.save_pretrained(path / "adapter")
        else:
            from safetensors.torch import save_model

            if self.config_.infer.precision == "int8_dynamic" and self._ready is not None:
                raise ValueError("an int8-quantised model cannot be saved; save before predicting")
            merged = merge_lora(self.net_)
            self.net_ = merged
            self._ready = None
            (path / "weights").mkdir(exist_ok=True)
            merged.config.save_pretrained(path / "weights")
            save_model(merged, str(path / "weights" / "model.safetensors"))
        if self.offset_model_ is not None:
            self.offset_model_.save(path / "offset")
        result = self.train_result_
        write_json(path / "llm.json", {
            "params": self.get_params(), "resolved": config_to_dict(self.config_), "save_mode": mode,
            "train": {"steps": result.steps_done, "best_step": result.best_step,
                      "best_val_log_loss": result.best_val_log_loss, "stopped_early": result.stopped_early,
                      "examples_per_second": result.examples_per_second, "history": result.history},
        })

    @classmethod
    def load(cls, path: Path, **overrides: Any) -> LLMClassifier:
        """Read a saved folder; ``overrides`` replace whole sections (e.g. ``infer={"precision": "bf16"}``)."""
        path = Path(path)
        _refuse_code_files(path)
        state = read_json(path / "llm.json")
        model = cls(**{**state["params"], **overrides})
        cfg = model.config_
        from transformers import AutoTokenizer

        model.tokenizer_ = AutoTokenizer.from_pretrained(path / "tokenizer")
        precision = cfg.infer.precision
        quant = precision if precision in ("8bit", "4bit") else None
        if state["save_mode"] == "full":
            net = build_classifier(cfg.model, model.tokenizer_, seed=cfg.seed, weights_dir=path / "weights",
                                   dtype="fp32")
        else:
            from peft import PeftModel

            base = build_classifier(cfg.model, model.tokenizer_, seed=cfg.seed, quantization=quant, dtype="fp32"
                                    if quant is None else "bf16")
            net = PeftModel.from_pretrained(base, path / "adapter")
        net.eval()
        model.net_ = net
        model._ready = None
        model.offset_model_ = LengthModel.load(path / "offset") if cfg.model.offset else None
        model.train_result_ = TrainResult(steps_done=state["train"]["steps"], best_step=state["train"]["best_step"],
                                          best_val_log_loss=state["train"]["best_val_log_loss"],
                                          history=state["train"]["history"])
        return model

    def __repr__(self) -> str:
        return f"LLMClassifier(base={self.config_.model.base!r}, lora={self.config_.lora.enabled})"



# formats that run code when read (pickle inside .bin/.pt, remote code in .py): a saved model is
# safetensors + JSON only, so finding one of these means the folder was not written by arenapref
_CODE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".py", ".ckpt")


def _refuse_code_files(path: Path) -> None:
    from arenapref.runs import RunError

    for file in sorted(Path(path).rglob("*")):
        if file.suffix.lower() in _CODE_SUFFIXES:
            raise RunError(f"{file}: a saved LLM model holds safetensors and JSON only; refusing a file that "
                           "could run code when read")
