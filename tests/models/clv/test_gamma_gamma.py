"""Gamma-Gamma (``patron.models.clv.gamma_gamma``): published numbers, spend predictions, CLV, covariates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from patron.errors import InputError
from patron.models.clv import BetaGeoModel, GammaGammaModel
from patron.models.clv.gamma_gamma import gg_loglik, gg_simulate
from tests.models.clv.data import cdnow_with_spend


@pytest.fixture(scope="module")
def data(shared_data: Path) -> pd.DataFrame:
    return cdnow_with_spend(shared_data)


@pytest.fixture(scope="module")
def gg(data: pd.DataFrame) -> GammaGammaModel:
    return GammaGammaModel().fit(data)


def test_cdnow_published_estimates(gg: GammaGammaModel) -> None:
    """Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", on the 946 CDNOW repeaters:
    p = 6.25, q = 3.74, gamma = 15.44 (4-decimal refit: 6.2489, 3.7446, 15.4476, LL -4055.92)."""
    p = gg.params_
    assert gg.n_customers_ == 946  # non-repeaters are left out of the fit
    assert p["p"] == pytest.approx(6.2489, abs=1e-3)
    assert p["q"] == pytest.approx(3.7446, abs=1e-3)
    assert p["gamma"] == pytest.approx(15.4476, abs=2e-3)
    assert gg.log_likelihood_ == pytest.approx(-4055.92, abs=0.01)


def test_density_integrates_the_mixture() -> None:
    """FH (2013) eq. 3 against integrating Gamma(px, xν) (the law of z̄) over ν ~ Gamma(q, γ)."""
    p, q, g, x, z = 6.0, 3.5, 15.0, 3.0, 40.0
    f = lambda nu: stats.gamma.pdf(z, p * x, scale=1 / (x * nu)) * stats.gamma.pdf(nu, q, scale=1 / g)  # noqa: E731
    ref = integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-10)[0]
    assert gg_loglik(p, q, g, np.array([x]), z)[0] == pytest.approx(np.log(ref), abs=1e-8)


def test_expected_spend(gg: GammaGammaModel, data: pd.DataFrame) -> None:
    """E[M | x, z̄] (FH 2013 eq. 5) is a weighted mean of the population mean p γ / (q - 1) and z̄; non-repeaters
    get the population mean."""
    out = gg.expected_spend(data)
    p, q, g = gg.params_
    pop = p * g / (q - 1)
    none = data["frequency"] == 0
    assert np.allclose(out[none], pop)
    rep = data[~none]
    w = p * rep["frequency"] / (p * rep["frequency"] + q - 1)
    assert np.allclose(out[~none], (1 - w) * pop + w * rep["monetary_value"])


def test_clv_matches_a_direct_sum(gg: GammaGammaModel, data: pd.DataFrame) -> None:
    bg = BetaGeoModel().fit(data)
    X = data.head(20)
    clv = gg.customer_lifetime_value(
        bg, X, horizon=3, discount_rate=0.1, margin=0.5, time_unit_per_period=4.0
    )
    spend = gg.expected_spend(X)
    cum = [bg.expected_purchases(X, t) for t in (0, 4, 8, 12)]
    ref = sum(0.5 * spend * (cum[i] - cum[i - 1]) / 1.1**i for i in (1, 2, 3))
    assert np.allclose(clv, ref)
    lv = gg.customer_lifetime_value(bg, X, horizon=3, discount_rate=0.1, level=[80])
    assert list(lv.columns) == ["clv", "clv-lo-80", "clv-hi-80"]
    assert (lv["clv-lo-80"] <= lv["clv-hi-80"]).all()


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "pareto_nbd"])
def test_score_customers_gives_the_numbers_of_the_separate_methods(
    gg: GammaGammaModel, data: pd.DataFrame, model: str
) -> None:
    """The one-conversion scoring call returns exactly what the four prediction methods return one by one."""
    from patron.models.clv import ModifiedBetaGeoModel, ParetoNBDModel

    cls = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel, "pareto_nbd": ParetoNBDModel}[model]
    X = data.iloc[::7]
    pm = cls().fit(data)
    kw = {"horizon": 26, "discount_rate": 0.01, "margin": 0.3, "time_unit_per_period": 2.0}
    got = gg.score_customers(pm, X, **kw)
    assert list(got.columns) == ["probability_alive", "expected_purchases", "expected_spend", "clv"]
    pd.testing.assert_series_equal(got["probability_alive"], pm.probability_alive(X), check_exact=True)
    pd.testing.assert_series_equal(
        got["expected_purchases"], pm.expected_purchases(X, 52.0), check_exact=True
    )
    pd.testing.assert_series_equal(got["expected_spend"], gg.expected_spend(X), check_exact=True)
    pd.testing.assert_series_equal(got["clv"], gg.customer_lifetime_value(pm, X, **kw), check_exact=True)
    with pytest.raises(InputError, match="horizon"):
        gg.score_customers(pm, X, horizon=2.5)


def test_covariate_scales_mean_spend() -> None:
    """A binary covariate that multiplies everyone's spend by 2 is recovered as log(2) on gamma."""
    rng = np.random.default_rng(0)
    n = 6000
    x = rng.integers(1, 8, size=n).astype(float)
    z = gg_simulate((6.0, 4.0, 15.0), x, rng)
    group = (np.arange(n) % 2).astype(float)
    z = z * np.where(group == 1, 2.0, 1.0)
    frame = pd.DataFrame({"frequency": x, "monetary_value": z, "channel": group})
    m = GammaGammaModel(covariates=["channel"]).fit(frame)
    coef = m.params_["gamma[channel]"]
    se = m.summary_.loc["gamma[channel]", "se"]
    assert abs(coef - np.log(2)) < 4 * se
    assert list(m.summary_.index) == ["p", "q", "gamma", "gamma[channel]"]


def test_non_positive_spend_is_rejected() -> None:
    frame = pd.DataFrame(
        {"frequency": [2, 1], "monetary_value": [10.0, 0.0]},
        index=pd.Index(["a", "zero-spend"], name="customer_id"),
    )
    with pytest.raises(InputError, match="zero-spend"):
        GammaGammaModel().fit(frame)
