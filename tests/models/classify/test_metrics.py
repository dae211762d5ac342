"""Calibration and ranking metrics against independent computations (scikit-learn's calibration_curve, hand
counts) and their invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve

from patron.errors import InputError
from patron.models.classify.metrics import (
    classification_metrics,
    expected_calibration_error,
    lift_table,
    reliability_table,
)


def test_reliability_equals_sklearn_calibration_curve() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=5000)
    y = (rng.uniform(size=5000) < p).astype(int)
    table = reliability_table(y, p, n_bins=10)
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["fraction_positive"], frac, atol=1e-12)
    np.testing.assert_allclose(table["mean_predicted"], mean, atol=1e-12)
    assert table["count"].sum() == 5000


def test_ece_by_hand() -> None:
    # Bin [0.1, 0.2): p = 0.1, 0.1, labels 0, 1 -> |0.1 - 0.5| = 0.4, weight 2/4.
    # Bin [0.9, 1.0]: p = 0.9, 1.0, labels 1, 1 -> |0.95 - 1| = 0.05, weight 2/4.
    y = np.array([0, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 1.0])
    assert expected_calibration_error(y, p) == pytest.approx(0.5 * 0.4 + 0.5 * 0.05)


def test_perfectly_calibrated_scores_have_small_ece() -> None:
    rng = np.random.default_rng(2)
    p = rng.uniform(size=200_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.005


def test_lift_and_gain() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0] * 10)
    p = np.where(y == 1, 0.9, 0.1) + np.linspace(0, 0.01, 100)
    table = lift_table(y, p)
    assert table["customers"].tolist() == [10] * 10
    assert table["lift"].iloc[0] == pytest.approx(5.0)  # 100 % positives vs 20 % overall
    assert table["cumulative_gain"].iloc[1] == pytest.approx(1.0)
    assert table["cumulative_gain"].iloc[-1] == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=2, max_size=200))
def test_metric_invariants(rows: list[tuple[int, float]]) -> None:
    y, p = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    ece = expected_calibration_error(y, p)
    assert 0 <= ece <= 1
    table = lift_table(y, p)
    assert table["customers"].sum() == len(y)
    gain = table["cumulative_gain"].to_numpy()
    if y.sum() > 0:
        assert np.all(np.diff(gain) >= -1e-12) and gain[-1] == pytest.approx(1.0)
    metrics = classification_metrics(y, p)
    assert 0 <= metrics["brier"] <= 1


def test_bad_input_is_named() -> None:
    with pytest.raises(InputError, match="labels must be 0 or 1"):
        expected_calibration_error([0, 2], [0.1, 0.2])
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        expected_calibration_error([0, 1], [0.1, 1.2])
    with pytest.raises(InputError, match="2 labels but 1 predictions"):
        lift_table([0, 1], [0.5])
