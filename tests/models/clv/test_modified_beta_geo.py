"""MBG/NBD (``patron.models.clv.modified_beta_geo``): published numbers, closed forms, recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from patron.models.clv import ModifiedBetaGeoModel
from patron.models.clv.modified_beta_geo import mbgnbd_loglik, mbgnbd_simulate
from tests.models.clv.data import cdnow_summary, online_retail_sample_summary


def test_cdnow_estimates(shared_data: Path) -> None:
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007) on CDNOW: r 0.5248, alpha 6.1830, a 0.8913, b 1.6139,
    LL -9582.13 (reference maximum-likelihood values in ../shared/data/README.md, as lifetimes reports them)."""
    m = ModifiedBetaGeoModel().fit(cdnow_summary(shared_data))
    p = m.params_
    assert p["r"] == pytest.approx(0.5248, abs=1e-3)
    assert p["alpha"] == pytest.approx(6.1830, abs=1e-3)
    assert p["a"] == pytest.approx(0.8913, abs=1e-3)
    assert p["b"] == pytest.approx(1.6139, abs=1e-3)
    assert m.log_likelihood_ == pytest.approx(-9582.13, abs=0.01)


def test_likelihood_equals_direct_integration() -> None:
    """Batislam et al. (2007) eq. 6 against integrating the individual likelihood (1-p)^(x+1) λ^x e^(-λT)
    + p (1-p)^x λ^x e^(-λ t_x) over the mixing laws."""
    r, alpha, a, b = 0.8, 3.0, 1.5, 2.5
    x, t_x, T = 2.0, 10.0, 30.0

    def inner(p: float) -> float:
        def f(lam: float) -> float:
            lik = (1 - p) ** (x + 1) * lam**x * np.exp(-lam * T) + p * (1 - p) ** x * lam**x * np.exp(
                -lam * t_x
            )
            return lik * stats.gamma.pdf(lam, r, scale=1 / alpha)

        return integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-8)[0] * stats.beta.pdf(p, a, b)

    ref = integrate.quad(inner, 0, 1, epsabs=0, epsrel=1e-7)[0]
    assert mbgnbd_loglik(r, alpha, a, b, np.array([x]), t_x, T)[0] == pytest.approx(np.log(ref), abs=1e-5)


def test_last_day_customers() -> None:
    summary = online_retail_sample_summary()
    m = ModifiedBetaGeoModel().fit(summary)
    last_day = summary[summary["T"] == 0]
    assert np.allclose(m.individual_log_likelihood(last_day), 0.0)
    assert np.isfinite(m.expected_purchases(last_day, 10)).all()


def test_simulation_recovery_fast() -> None:
    truth = np.array([0.5, 6.0, 0.9, 1.6])
    rng = np.random.default_rng(1)
    T = rng.uniform(20, 40, size=10_000)
    x, t_x = mbgnbd_simulate(truth, T, rng)
    m = ModifiedBetaGeoModel().fit(pd.DataFrame({"frequency": x, "recency": t_x, "T": T}))
    assert np.all(np.abs((m.params_.to_numpy() - truth) / m.summary_["se"].to_numpy()) < 4)
