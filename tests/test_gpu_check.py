"""bench/gpu_check.sh --dry-run: the GPU check's code path on the CPU with a tiny random model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run_prints_every_step(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "ARENAPREF_GPU_CHECK_TIMEOUT": "600"}
    proc = subprocess.run([str(ROOT / "bench" / "gpu_check.sh"), "--dry-run", "--out", str(tmp_path / "w")],
                          capture_output=True, text=True, timeout=620, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout.split("note\n", 1)[1]
    for name in ("bf16-lora", "qlora-4bit", "infer-8bit", "fold-average"):
        line = next(row for row in table.splitlines() if row.startswith(name))
        loss = float(line.split()[3])
        assert 0.3 < loss < 3.0, line
    assert "CPU twin" in table and "DRY RUN" in proc.stdout
    assert (tmp_path / "w" / "fold-average" / "adapter" / "adapter_model.safetensors").is_file()


def test_gpu_check_without_gpu_refuses_clearly() -> None:
    import torch

    if torch.cuda.is_available():
        return
    proc = subprocess.run([str(ROOT / "bench" / "gpu_check.sh")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 2 and "no CUDA GPU" in proc.stderr
