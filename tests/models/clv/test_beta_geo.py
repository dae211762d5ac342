"""BG/NBD (``patron.models.clv.beta_geo``): published numbers, closed forms, input checks, recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from patron.errors import InputError
from patron.models.clv import BetaGeoModel
from patron.models.clv.beta_geo import (
    beta_quadrature,
    bgnbd_expected_new,
    bgnbd_expected_new_closed_form,
    bgnbd_loglik,
    bgnbd_pmf_new,
    bgnbd_simulate,
)
from tests.models.clv.data import cdnow_summary, online_retail_sample_summary


@pytest.fixture(scope="module")
def fitted(shared_data: Path) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow_summary(shared_data))


def test_cdnow_published_estimates(fitted: BetaGeoModel) -> None:
    """Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2), section 4:
    r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4 (4-decimal values from the data README's refit)."""
    p = fitted.params_
    assert p["r"] == pytest.approx(0.2426, abs=1e-3)
    assert p["alpha"] == pytest.approx(4.4136, abs=1e-3)
    assert p["a"] == pytest.approx(0.7930, abs=1e-3)
    assert p["b"] == pytest.approx(2.4261, abs=1e-3)
    assert fitted.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    assert fitted.converged_
    assert fitted.n_customers_ == 2357
    assert fitted.n_unique_rows_ < 2357  # identical rows were compressed


def test_conditional_expectation_published(fitted: BetaGeoModel) -> None:
    """FHL (2005) section 4: a customer with x = 2, t_x = 30.43, T = 38.86 weeks is expected to make 1.226
    purchases in the next 39 weeks (eq. 10)."""
    X = pd.DataFrame(
        {"frequency": [2], "recency": [30.43], "T": [38.86]}, index=pd.Index(["c"], name="customer_id")
    )
    out = fitted.expected_purchases(X, 39)
    assert out.name == "expected_purchases"
    assert out.index.name == "customer_id"
    assert out["c"] == pytest.approx(1.226, abs=5e-4)


def test_summary_frame_has_standard_errors(fitted: BetaGeoModel) -> None:
    s = fitted.summary_
    assert list(s.columns) == ["estimate", "se", "lower_95", "upper_95"]
    assert (s["se"] > 0).all()
    assert (s["lower_95"] < s["estimate"]).all() and (s["estimate"] < s["upper_95"]).all()
    # the observed information is well conditioned on CDNOW: r is estimated to about 5%
    assert s.loc["r", "se"] / s.loc["r", "estimate"] < 0.1


def test_pmf_sums_to_one_and_matches_expectation() -> None:
    """FHL (2005) eq. (8) is a distribution whose mean is eq. (7)."""
    r, alpha, a, b, t = 0.2426, 4.4136, 0.793, 2.4261, 39.0
    n = np.arange(0, 400)
    pmf = bgnbd_pmf_new(n, t, r, alpha, a, b)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
    m = BetaGeoModel()
    m.theta_ = np.log([r, alpha, a, b])
    assert (n * pmf).sum() == pytest.approx(m._expected_new(dict(r=r, alpha=alpha, a=a, b=b), t), rel=1e-4)


def test_likelihood_equals_direct_integration() -> None:
    """Independent check of eq. (6): integrate the individual likelihood over the gamma and beta mixing laws."""
    r, alpha, a, b = 0.8, 3.0, 1.5, 2.5
    x, t_x, T = 3.0, 20.0, 30.0

    def inner(p: float) -> float:
        def f(lam: float) -> float:
            lik = (1 - p) ** x * lam**x * np.exp(-lam * T) + p * (1 - p) ** (x - 1) * lam**x * np.exp(
                -lam * t_x
            )
            return lik * stats.gamma.pdf(lam, r, scale=1 / alpha)

        return integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-8)[0] * stats.beta.pdf(p, a, b)

    ref = integrate.quad(inner, 0, 1, epsabs=0, epsrel=1e-7)[0]
    assert bgnbd_loglik(r, alpha, a, b, np.array([x]), t_x, T)[0] == pytest.approx(np.log(ref), abs=1e-5)


def test_customers_seen_on_the_last_day_are_valid() -> None:
    """T == 0 with frequency 0 (first purchase on the last day) contributes log-likelihood 0 and gets finite
    predictions; the bundled Online Retail sample has such customers."""
    summary = online_retail_sample_summary()
    assert ((summary["T"] == 0) & (summary["frequency"] == 0)).any()
    m = BetaGeoModel().fit(summary)
    assert m.converged_
    last_day = summary[summary["T"] == 0]
    assert np.allclose(m.individual_log_likelihood(last_day), 0.0)
    assert np.isfinite(m.expected_purchases(last_day, 52)).all()
    assert (m.probability_alive(last_day) == 1.0).all()
    # a one-year sample shows almost no dropout: a runs to 0 (the limiting model is a plain NBD), and is flagged
    assert "a" in m.at_boundary_


@pytest.mark.parametrize(
    ("row", "column", "match"),
    [
        ({"frequency": -1, "recency": 0, "T": 5}, "frequency", "frequency"),
        ({"frequency": 1, "recency": 6, "T": 5}, "recency", "recency <= T"),
        ({"frequency": 0, "recency": 0, "T": -1}, "T", "T >= 0"),
        ({"frequency": 1, "recency": 0, "T": 0}, "T", "T > 0 for a customer with repeat purchases"),
        ({"frequency": np.nan, "recency": 0, "T": 3}, "frequency", "finite"),
        ({"frequency": 1, "recency": np.inf, "T": 3}, "recency", "finite"),
    ],
)
def test_invalid_input_is_rejected_with_the_customer(row: dict, column: str, match: str) -> None:
    good = {"frequency": 2, "recency": 3.0, "T": 10.0}
    X = pd.DataFrame([good, row, good], index=pd.Index(["ok1", "bad-7", "ok2"], name="customer_id"))
    with pytest.raises(InputError, match=match) as info:
        BetaGeoModel().fit(X)
    assert info.value.column == column
    assert "bad-7" in str(info.value)


def test_missing_column_is_named() -> None:
    with pytest.raises(InputError, match="'T'"):
        BetaGeoModel().fit(pd.DataFrame({"frequency": [1], "recency": [1.0]}))


def test_customer_id_column_and_sample_weight_match_duplicated_rows(shared_data: Path) -> None:
    """Weights are counts: fitting on rows with weights equals fitting on the rows repeated."""
    data = cdnow_summary(shared_data).head(600)
    w = np.arange(600) % 3 + 1
    weighted = BetaGeoModel().fit(data.reset_index(), sample_weight=w)
    repeated = BetaGeoModel().fit(data.loc[data.index.repeat(w)])
    assert np.allclose(weighted.params_, repeated.params_, rtol=1e-5)
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, abs=1e-6)


def test_simulation_recovery_fast() -> None:
    """10k simulated customers with CDNOW's parameters: every estimate within 4 standard errors of the truth."""
    truth = np.array([0.25, 4.0, 0.8, 2.5])
    rng = np.random.default_rng(7)
    T = rng.uniform(20, 40, size=10_000)
    x, t_x = bgnbd_simulate(truth, T, rng)
    m = BetaGeoModel().fit(pd.DataFrame({"frequency": x, "recency": t_x, "T": T}))
    z = (m.params_.to_numpy() - truth) / m.summary_["se"].to_numpy()
    assert np.all(np.abs(z) < 4), z


@pytest.mark.slow
def test_simulation_recovery_100k() -> None:
    """100k simulated customers: each parameter within 10% of the truth (and within 4 standard errors)."""
    truth = np.array([0.25, 4.0, 0.8, 2.5])
    rng = np.random.default_rng(11)
    T = rng.uniform(20, 40, size=100_000)
    x, t_x = bgnbd_simulate(truth, T, rng)
    m = BetaGeoModel().fit(pd.DataFrame({"frequency": x, "recency": t_x, "T": T}))
    assert np.allclose(m.params_.to_numpy(), truth, rtol=0.1)
    assert np.all(np.abs((m.params_.to_numpy() - truth) / m.summary_["se"].to_numpy()) < 4)


def test_interval_columns(fitted: BetaGeoModel, shared_data: Path) -> None:
    X = cdnow_summary(shared_data).head(50)
    out = fitted.expected_purchases(X, 39, level=[80, 95])
    assert list(out.columns) == [
        "expected_purchases",
        "expected_purchases-lo-80",
        "expected_purchases-hi-80",
        "expected_purchases-lo-95",
        "expected_purchases-hi-95",
    ]
    assert (out["expected_purchases-lo-95"] <= out["expected_purchases-lo-80"] + 1e-12).all()
    assert (out["expected_purchases-lo-80"] <= out["expected_purchases-hi-80"]).all()
    again = fitted.expected_purchases(X, 39, level=[80, 95])
    pd.testing.assert_frame_equal(out, again)  # fixed seed


@pytest.mark.parametrize(
    ("t", "r", "alpha", "a", "b"),
    [
        (39, 0.2426, 4.4136, 0.793, 2.4261),
        (39, 2.24, 42.9, 0.793, 4.43),
        (10, 1, 2, 3, 4),
        (100, 0.5, 3, 2, 1),
    ],
)
def test_expected_new_matches_equation_7(t, r, alpha, a, b) -> None:
    """The quadrature agrees with the printed closed form (FHL 2005 eq. 7) where that form is accurate."""
    assert bgnbd_expected_new(t, r, alpha, a, b) == pytest.approx(
        bgnbd_expected_new_closed_form(t, r, alpha, a, b), rel=1e-10
    )


@pytest.mark.parametrize(("a", "b"), [(0.8, 2.4), (0.3, 5000.0), (40.0, 0.2)])
def test_beta_quadrature_moments(a, b) -> None:
    p, w = beta_quadrature(48, a, b)
    assert w.sum() == pytest.approx(1.0)
    assert (w * p).sum() == pytest.approx(stats.beta(a, b).mean(), rel=1e-10)
    assert (w * p**3).sum() == pytest.approx(stats.beta(a, b).moment(3), rel=1e-8)
