"""Two CPU processes (gloo, launched with torchrun): one DDP optimizer step equals the single-process step."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from support.probe import free_port
from support.tiny_llm import build_bpe_tokenizer, signal_pairs

SCRIPT = textwrap.dedent("""
    import json, os, sys, torch
    torch.set_num_threads(1)
    from arenapref.models.llm.model import LLMClassifier
    from support.tiny_llm import decoder_config, signal_pairs
    from arenapref.models.llm.train import trainable_state
    tok, out, accum = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = LLMClassifier(
        model={"init_config": decoder_config("llama", vocab_size=512), "tokenizer": tok},
        lora={"r": 4, "alpha": 8, "dropout": 0.0}, text={"max_length": 96, "min_response_tokens": 8},
        train={"max_steps": 1, "micro_batch_size": 2, "grad_accum": accum, "lr": 1e-3, "warmup_ratio": 0.0,
               "swap": "random", "max_grad_norm": 1.0})
    model.fit(signal_pairs(8, seed=5), log=lambda m: None)
    rank = int(os.environ.get("RANK", "0"))
    torch.save(trainable_state(model.net_), f"{out}/rank{rank}.pt")
    json.dump({"world": int(os.environ.get("WORLD_SIZE", "1")), "seen": model.train_result_.examples_seen},
              open(f"{out}/rank{rank}.json", "w"))
""")


def test_two_process_gloo_step_matches_single_process(tmp_path: Path) -> None:
    texts = [t for col in ("prompt", "response_a", "response_b") for turns in signal_pairs(64)[col] for t in turns]
    tok = build_bpe_tokenizer(tmp_path / "tok", texts, vocab_size=400)
    (tmp_path / "step.py").write_text(SCRIPT)
    (tmp_path / "ddp").mkdir()
    (tmp_path / "single").mkdir()
    tests_dir = str(Path(__file__).resolve().parent)  # the script imports support.tiny_llm
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH")) if p)}
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
                          str(tmp_path / "step.py"), str(tok), str(tmp_path / "ddp"), "2"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = subprocess.run([sys.executable, str(tmp_path / "step.py"), str(tok), str(tmp_path / "single"), "4"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert single.returncode == 0, single.stderr[-3000:]
    r0, r1 = torch.load(tmp_path / "ddp" / "rank0.pt"), torch.load(tmp_path / "ddp" / "rank1.pt")
    ref = torch.load(tmp_path / "single" / "rank0.pt")
    assert '"world": 2' in (tmp_path / "ddp" / "rank0.json").read_text()
    assert '"seen": 4' in (tmp_path / "ddp" / "rank1.json").read_text()  # each process took half the pairs
    assert set(r0) == set(ref) and len(ref) > 0
    for name in ref:
        torch.testing.assert_close(r0[name], r1[name], rtol=0, atol=0)      # replicas stay identical
        torch.testing.assert_close(r0[name], ref[name], rtol=1e-4, atol=1e-6)  # = the full-batch step


if not hasattr(torch.distributed, "is_gloo_available") or not torch.distributed.is_gloo_available():
    pytestmark = pytest.mark.skip(reason="torch built without gloo")
