"""Damage a gbdt model's booster.txt many ways (as if its manifest had been rewritten too) and load it.

Run as a script in its own process, so that a crash of LightGBM's native parser shows as a signal
exit code instead of killing the test session: ``python fuzz_booster.py MODEL_DIR N_SUBST N_TRUNC SEED``.
Prints ``refused R loaded L`` and exits 0 when every case either loaded and predicted, or was refused
with a RunError/ValueError.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from arenapref.models.gbdt import GBDTModel

PAIRS = pd.DataFrame({"id": ["1"], "prompt": [["Why?"]], "response_a": [["Because."]],
                      "response_b": [["## Reason\n- it is so"]], "source": ["x"],
                      "model_a": [None], "model_b": [None],
                      "winner_model_a": [float("nan")], "winner_model_b": [float("nan")], "winner_tie": [float("nan")]})


def cases(text: bytes, n_subst: int, n_trunc: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = [text[:int(len(text) * f)] for f in (rng.random() for _ in range(n_trunc))]
    alphabet = b"0123456789-=.\n e"
    for _ in range(n_subst):
        data = bytearray(text)
        for _ in range(rng.choice((1, 1, 2, 5))):
            data[rng.randrange(len(data))] = rng.choice(alphabet)
        out.append(bytes(data))
    return out


def main() -> int:
    model_dir, n_subst, n_trunc, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    original = (model_dir / "booster.txt").read_bytes()
    refused = loaded = 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "model"
        shutil.copytree(model_dir, work)
        for data in cases(original, n_subst, n_trunc, seed):
            (work / "booster.txt").write_bytes(data)
            try:
                GBDTModel.load(work).predict_proba(PAIRS, swap_tta=True)
                loaded += 1
            except ValueError:  # RunError is a ValueError
                refused += 1
    print(f"refused {refused} loaded {loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
