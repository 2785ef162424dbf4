"""Sentence-encoder throughput (all-MiniLM-L6-v2 from the offline PyPI package) on real arena answers.

    .venv/bin/python bench/encoder_speed.py [--texts 256] [--max-length 256]

Encodes the first N responses of the shared arena rows (length-sorted batches of 32, as the embed
feature block does) and N copies of a text long enough to fill all ``max_length`` tokens, in fp32 and
bf16, with 2 torch threads. Prints texts/s per setting and the smallest cosine between the fp32 and
bf16 vectors of the same text.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import arena_rows, machine  # noqa: E402

from arenapref.features.embed import DEFAULT_MODEL, SentenceEncoder, side_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(2)
    pairs = arena_rows(args.data)
    real = [side_text(t) for t in pairs["response_a"].iloc[:args.texts]]
    full = ["word " * (4 * args.max_length)] * args.texts
    print(f"bench/encoder_speed.py: {DEFAULT_MODEL}, max_length {args.max_length}, batch 32, torch threads 2; "
          f"{machine()}")
    print(f"{'dtype':<6} {'real answers, texts/s':>22} {'full length, texts/s':>21}")
    vectors = {}
    for dtype in ("fp32", "bf16"):
        encoder = SentenceEncoder(DEFAULT_MODEL, max_length=args.max_length, batch_size=32, dtype=dtype)
        encoder.encode(real[:32])  # load and warm up
        rates = []
        for texts in (real, full):
            start = time.perf_counter()
            out = encoder.encode(texts)
            rates.append(len(texts) / (time.perf_counter() - start))
            if texts is real:
                vectors[dtype] = out
        print(f"{dtype:<6} {rates[0]:>22.1f} {rates[1]:>21.1f}")
    cosine = (vectors["fp32"] * vectors["bf16"]).sum(axis=1)
    print(f"min cosine fp32 vs bf16 over the real answers: {float(np.min(cosine)):.4f}")


if __name__ == "__main__":
    main()
