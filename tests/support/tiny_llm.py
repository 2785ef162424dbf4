"""Offline building blocks for tests and scale benchmarks: a byte-level BPE tokenizer trained in a second,
and randomly initialised decoder configs (Llama, Gemma-2, Qwen2) of any size."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from arenapref.text.render import HEADERS, QUESTION, TURN_SEPARATOR

SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")


def build_bpe_tokenizer(out_dir: str | Path, texts: Iterable[str], vocab_size: int = 512) -> Path:
    """Train a byte-level BPE on ``texts`` and save it as a transformers tokenizer folder.

    Byte-level: every string (any script, emoji, code) tokenises without unknown tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    # the template pieces go in too, so the fixed part of every rendered pair stays short
    template = [*HEADERS.values(), TURN_SEPARATOR, QUESTION] * 50
    tok.train_from_iterator([*template, *texts], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    out = Path(out_dir)
    fast.save_pretrained(out)
    return out


def decoder_config(family: str, *, vocab_size: int = 512, hidden: int = 32, layers: int = 2, heads: int = 4,
                   kv_heads: int = 2, intermediate: int | None = None, max_positions: int = 2048) -> dict[str, Any]:
    """``model.init_config`` for a random decoder: ``llama``, ``gemma2`` or ``qwen2``."""
    base: dict[str, Any] = {
        "vocab_size": vocab_size, "hidden_size": hidden, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "intermediate_size": intermediate or 4 * hidden, "max_position_embeddings": max_positions,
    }
    if family == "llama":
        return {"model_type": "llama", **base}
    if family == "qwen2":
        return {"model_type": "qwen2", **base}
    if family == "gemma2":
        return {"model_type": "gemma2", "head_dim": hidden // heads, "sliding_window": 64, **base}
    raise ValueError(f"unknown family {family!r}: llama, gemma2 or qwen2")


def signal_pairs(n: int, seed: int = 0) -> Any:
    """A learnable toy task for recipe tests: the response that says "correct" wins, ties say "same".

    Real models are benchmarked on real rows (bench/llm_cpu.py); this only checks that the loop learns.
    """
    import numpy as np

    from arenapref.data.schema import make_pairs

    rng = np.random.default_rng(seed)
    words = ["apple", "river", "stone", "cloud", "maple", "tiger", "piano", "lemon", "north", "glass"]
    prompts, ra, rb, targets = [], [], [], []
    for _ in range(n):
        cls = int(rng.integers(0, 3))
        filler = [" ".join(rng.choice(words, 4)) for _ in range(3)]
        good, bad = f"correct {filler[0]}", f"wrong {filler[1]}"
        a, b = {0: (good, bad), 1: (bad, good), 2: (f"same {filler[0]}", f"same {filler[1]}")}[cls]
        prompts.append(f"question {filler[2]}")
        ra.append(a)
        rb.append(b)
        targets.append(np.eye(3)[cls])
    return make_pairs(prompts, ra, rb, targets=np.asarray(targets), source="signal")
