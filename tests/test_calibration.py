"""Temperature / vector scaling and expected calibration error on synthetic draws with a known truth."""

from __future__ import annotations

import numpy as np
import pytest

from arenapref.data.schema import swap_proba
from arenapref.ensemble.calibration import TemperatureScaling, VectorScaling, calibrator_from_state
from arenapref.metrics import (
    classwise_ece,
    expected_calibration_error,
    log_loss,
    paired_difference,
    reliability_bins,
)


def _truth_and_labels(seed: int, n: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet(np.ones(3), size=n)
    y = (rng.random(n)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
    return truth, np.eye(3)[np.minimum(y, 2)]


def _sharpen(p: np.ndarray, power: float) -> np.ndarray:
    q = p ** power
    return q / q.sum(axis=1, keepdims=True)


def test_temperature_undoes_overconfidence() -> None:
    truth, targets = _truth_and_labels(0)
    over = _sharpen(truth, 2.5)
    cal = TemperatureScaling().fit(over, targets)
    assert cal.temperature_ == pytest.approx(2.5, rel=0.15)
    assert log_loss(targets, cal.transform(over)) < log_loss(targets, over) - 0.05
    assert expected_calibration_error(targets, cal.transform(over)) < expected_calibration_error(targets, over)


def test_vector_scaling_fixes_a_tie_bias_temperature_cannot() -> None:
    truth, targets = _truth_and_labels(1)
    biased = truth * np.array([1.0, 1.0, 3.0])                 # tie systematically over-predicted
    biased /= biased.sum(axis=1, keepdims=True)
    temp = TemperatureScaling().fit(biased, targets)
    vec = VectorScaling().fit(biased, targets)
    assert log_loss(targets, vec.transform(biased)) < log_loss(targets, temp.transform(biased)) - 0.01
    assert vec.params_[2] < -0.5                               # learned a negative tie bias (log 1/3 ≈ -1.1)


@pytest.mark.parametrize("make", [TemperatureScaling, VectorScaling])
def test_calibrators_are_swap_equivariant_and_round_trip(make: type) -> None:
    truth, targets = _truth_and_labels(2, n=800)
    proba = _sharpen(truth, 1.7)
    cal = make().fit(proba, targets)
    np.testing.assert_allclose(cal.transform(swap_proba(proba)), swap_proba(cal.transform(proba)), atol=1e-12)
    again = calibrator_from_state(cal.state())
    np.testing.assert_allclose(again.transform(proba), cal.transform(proba))


def test_ece_is_small_for_the_truth_and_large_for_overconfidence() -> None:
    truth, targets = _truth_and_labels(3, n=20000)
    assert expected_calibration_error(targets, truth) < 0.02
    assert classwise_ece(targets, truth) < 0.02
    assert expected_calibration_error(targets, _sharpen(truth, 4.0)) > 0.08


def test_reliability_bins_count_every_row() -> None:
    conf = np.array([0.0, 0.05, 0.5, 0.99, 1.0])
    bins = reliability_bins(conf, np.array([0, 0, 1, 1, 1]), n_bins=10)
    assert bins["count"].sum() == 5 and bins["count"][0] == 2 and bins["count"][-1] == 2
    assert bins["observed"][5] == 1.0 and bins["confidence"][-1] == pytest.approx(0.995)


def test_paired_difference_sees_a_real_gain_and_not_a_tie() -> None:
    rng = np.random.default_rng(3)
    y = np.eye(3)[rng.integers(0, 3, size=400)]
    uniform = np.full((400, 3), 1 / 3)
    informed = 0.6 * y + 0.4 * uniform  # puts more mass on the truth on every row
    diff, low, high = paired_difference(y, informed, uniform)
    assert diff == pytest.approx(log_loss(y, informed) - log_loss(y, uniform))
    assert low <= diff <= high < 0
    back = paired_difference(y, uniform, informed)  # the same resamples: the mirror image
    assert back == pytest.approx((-diff, -high, -low))
    assert paired_difference(y, uniform, uniform) == (0.0, 0.0, 0.0)
    # better on half the rows, worse by as much on the others: the interval holds zero
    better, worse = 0.5 * y + 0.5 * uniform, 0.5 * (1 - y) / 2 + 0.5 * uniform
    mixed = np.where((np.arange(400) % 2 == 0)[:, None], better, worse)
    reference = np.where((np.arange(400) % 2 == 0)[:, None], worse, better)
    diff, low, high = paired_difference(y, mixed, reference)
    assert diff == pytest.approx(0.0, abs=1e-12) and low < 0 < high
    assert np.isnan(paired_difference(y[:0], uniform[:0], uniform[:0])[0])
