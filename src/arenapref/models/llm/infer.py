"""Inference: length-sorted dynamic batches, precision conversion (bf16 / dynamic int8 on CPU), logits out."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from arenapref.models.llm.encoding import collate, length_sorted_batches


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16/fp16 autocast on the model's device; a no-op for fp32."""
    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()


def for_inference(model: nn.Module, precision: str) -> nn.Module:
    """Convert an fp32 (merged) model for inference: ``bf16`` casts weights, ``int8_dynamic`` quantises every
    ``nn.Linear`` to int8 with dynamic activation scales (CPU only). 8/4-bit happen at load time (CUDA)."""
    model.eval()
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "fp16":
        return model.to(torch.float16)
    if precision == "int8_dynamic":
        import warnings

        from torch.ao.quantization import quantize_dynamic

        # torch.ao eager quantisation is deprecated in favour of torchao but still works (measured in the docs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
            return quantize_dynamic(model.float(), {nn.Linear}, dtype=torch.qint8)
    return model


def model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.inference_mode()
def predict_logits(model: nn.Module, seqs: list[list[int]], pad_id: int, *, batch_size: int = 16,
                   max_batch_tokens: int = 16384, progress: bool = False) -> np.ndarray:
    """(n, 3) float64 logits in the order of ``seqs``."""
    out = np.zeros((len(seqs), 3))
    if not seqs:
        return out
    device = model_device(model)
    batches = length_sorted_batches([len(s) for s in seqs], batch_size, max_batch_tokens)
    for idx in _progress(batches, progress):
        ids, mask = collate([seqs[i] for i in idx], pad_id)
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        out[idx] = logits.float().cpu().numpy()
    return out


def _progress(batches: list[np.ndarray], enabled: bool) -> Iterator[np.ndarray]:
    if not enabled:
        yield from batches
        return
    from tqdm.auto import tqdm

    yield from tqdm(batches, desc="predict batches")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
