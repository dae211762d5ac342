"""sBG (Fader & Hardie 2007): published numbers, closed forms against series, simulation and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.errors import ConfigError, InputError
from patron.models.clv import shifted_beta_geo as sbg
from patron.models.clv.shifted_beta_geo import ShiftedBetaGeoModel

HIGHEND = [1000, 869, 743, 653, 593, 551, 517, 491]
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


@pytest.fixture(scope="module")
def cohorts(shared_data):
    return pd.read_csv(shared_data / "sbg_cohorts.csv.gz").set_index("customer_id")


@pytest.mark.parametrize(
    ("cohort", "alpha", "beta", "ll"),
    [("highend", 0.668, 3.806, -1611.16), ("regular", 0.704, 1.182, -1680.27)],
)
def test_published_estimates(cohorts, cohort, alpha, beta, ll):
    """Fader & Hardie (2007), "How to Project Customer Retention", J. Interactive Marketing 21(1), sec. 3:
    high end alpha 0.668, beta 3.806; regular alpha 0.704, beta 1.182 (LL from the data README)."""
    model = ShiftedBetaGeoModel().fit(cohorts[cohorts["cohort"] == cohort])
    assert model.params_["alpha"] == pytest.approx(alpha, abs=5e-4)
    assert model.params_["beta"] == pytest.approx(beta, abs=5e-4)
    assert model.log_likelihood_ == pytest.approx(ll, abs=0.01)
    assert (model.summary_["se"] > 0).all()


@pytest.mark.parametrize("survivors", [HIGHEND, REGULAR])
def test_survivor_counts_match_per_customer_data(cohorts, survivors):
    frame = sbg.survivors_to_frame(survivors)
    model = ShiftedBetaGeoModel().fit(frame, sample_weight=frame["count"])
    a, b = model.params_
    assert model.log_likelihood_ == pytest.approx(sbg.survivors_log_likelihood(a, b, survivors), abs=1e-8)
    # The fitted survival curve reproduces the observed survivors closely (FH07 fig. 3).
    fitted = 1000 * sbg.survival(a, b, np.arange(8))
    np.testing.assert_allclose(fitted, survivors, rtol=0.03)


def test_standard_errors_match_numerical_second_derivatives():
    frame = sbg.survivors_to_frame(HIGHEND)
    model = ShiftedBetaGeoModel().fit(frame, sample_weight=frame["count"])
    theta = np.log(model.params_.to_numpy())

    def total(th):
        return sbg.survivors_log_likelihood(*np.exp(th), HIGHEND)

    h = 1e-4
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            H[i, j] = (
                total(theta + ei + ej)
                - total(theta + ei - ej)
                - total(theta - ei + ej)
                + total(theta - ei - ej)
            ) / (4 * h * h)
    se = model.params_.to_numpy() * np.sqrt(np.diag(np.linalg.inv(-H)))
    np.testing.assert_allclose(model.summary_["se"].to_numpy(), se, rtol=1e-3)


def test_gradient_matches_central_differences():
    t = np.array([1, 2, 3, 5, 8, 8, 4.0])
    T = np.array([8, 8, 8, 8, 8, 9, 4.0])
    _, g = sbg.log_likelihood_and_gradient(0.7, 1.2, t, T)
    h = 1e-6
    np.testing.assert_allclose(
        g["alpha"],
        (sbg.log_likelihood(0.7 + h, 1.2, t, T) - sbg.log_likelihood(0.7 - h, 1.2, t, T)) / (2 * h),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        g["beta"],
        (sbg.log_likelihood(0.7, 1.2 + h, t, T) - sbg.log_likelihood(0.7, 1.2 - h, t, T)) / (2 * h),
        rtol=1e-6,
    )


def test_curves_and_lifetimes_against_direct_series():
    a, b, d = 0.668, 3.806, 0.1
    t = np.arange(0, 4000)
    s = sbg.survival(a, b, t)
    # P(L = t) sums with S(T) to one; retention is the survival ratio.
    assert sbg.churn_probability(a, b, np.arange(1, 11)).sum() + s[10] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(sbg.retention_rate(a, b, t[1:20]), s[1:20] / s[:19], rtol=1e-12)
    assert sbg.discounted_expected_lifetime(a, b, d) == pytest.approx(np.sum(s / (1 + d) ** t), rel=1e-9)
    for n in (1, 5, 8):
        direct = np.sum(s[n:] / s[n - 1] / (1 + d) ** (t[n:] - n))
        assert sbg.discounted_expected_residual_lifetime(a, b, n, d) == pytest.approx(direct, rel=1e-9)


def test_simulation_recovers_parameters():
    """100k customers, 12 periods: both parameters within 5% and 4 reported standard errors."""
    truth = np.array([0.7, 1.2])
    sim = sbg.simulate(*truth, T=12, size=100_000, rng=np.random.default_rng(2007))
    model = ShiftedBetaGeoModel().fit(pd.DataFrame({"recency": sim["recency"], "T": sim["T"]}))
    est = model.params_.to_numpy()
    np.testing.assert_allclose(est, truth, rtol=0.05)
    assert np.all(np.abs(est - truth) < 4 * model.summary_["se"].to_numpy())


def test_estimator_predictions(cohorts):
    model = ShiftedBetaGeoModel().fit(cohorts[cohorts["cohort"] == "regular"])
    sample = cohorts.loc[[1001, 2000]]  # a churned and an active customer
    alive = model.probability_alive(sample)
    assert alive.loc[1001] == 0 and alive.loc[2000] == pytest.approx(sbg.retention_rate(*model.params_, 8))
    derl = model.expected_residual_lifetime(sample, 0.1)
    assert derl.loc[1001] == 0 and derl.loc[2000] > 1
    curve = model.survival_curve(range(10))
    assert curve["survival"].is_monotonic_decreasing and curve["retention"].dropna().is_monotonic_increasing
    assert model.discounted_expected_lifetime(0.1) > 1


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ({"recency": 9, "T": 8}, "recency"),
        ({"recency": 0, "T": 8}, "recency"),
        ({"recency": 2, "T": 2.5}, "T"),
    ],
)
def test_impossible_data_is_rejected(row, column):
    frame = pd.DataFrame([{"recency": 1, "T": 8}, row])
    with pytest.raises(InputError, match=repr(column)):
        ShiftedBetaGeoModel().fit(frame)


def test_bad_survivors_and_discount():
    with pytest.raises(InputError, match="must not increase"):
        sbg.survivors_to_frame([1000, 800, 900])
    with pytest.raises(ConfigError, match="discount_rate"):
        sbg.discounted_expected_lifetime(0.7, 1.2, 0)
