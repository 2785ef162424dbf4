"""The judge features of bench/quality_smallm.py: swap symmetry, position-bias cancellation, the cache."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import quality_smallm  # noqa: E402


def test_judge_features_flip_with_the_row_and_cancel_position_bias() -> None:
    rng = np.random.default_rng(0)
    raw = np.log(rng.dirichlet(np.ones(4), size=(50, 2))[..., :3])  # (row, orientation, [A, B, tie])
    d, t = quality_smallm.judge_features(raw).T
    # the row with A and B exchanged: its first orientation is this row's second, and the other way round
    d_swapped, t_swapped = quality_smallm.judge_features(raw[:, ::-1]).T
    np.testing.assert_allclose(d_swapped, -d)
    np.testing.assert_allclose(t_swapped, t)
    biased = raw.copy()
    biased[:, :, 0] += 0.7  # the model likes the first-shown answer, in both orientations
    np.testing.assert_allclose(quality_smallm.judge_features(biased)[:, 0], d)


def test_read_cached_fills_known_slots_and_lists_the_rest(tmp_path: Path) -> None:
    np.save(tmp_path / "k1.npy", np.array([1.0, 2.0, 3.0]), allow_pickle=False)
    out = np.full((2, 2, 3), np.nan)
    todo = quality_smallm.read_cached(out, [(0, 0), (1, 1), (0, 1)], ["k0", "k1", "k2"], tmp_path)
    assert todo == [0, 2]
    np.testing.assert_array_equal(out[1, 1], [1.0, 2.0, 3.0])
    assert np.isnan(out[0]).all()
