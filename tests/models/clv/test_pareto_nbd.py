"""Pareto/NBD (``patron.models.clv.pareto_nbd``): published numbers, the stable likelihood, closed forms, recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import gammaln, hyp2f1

from patron.models.clv import ParetoNBDModel
from patron.models.clv.pareto_nbd import (
    pnbd_expected_new,
    pnbd_loglik,
    pnbd_loglik_grad,
    pnbd_pmf_new,
    pnbd_probability_alive,
    pnbd_simulate,
)
from tests.models.clv.data import cdnow_summary, online_retail_sample_summary


def closed_form_loglik(r, alpha, s, beta, x, t_x, T):
    """FH (2005) eq. 11 with scipy's 2F1 (the textbook form; fine for moderate x, overflows for large x)."""
    if alpha >= beta:
        big, b2 = alpha, s + 1
    else:
        big, b2 = beta, r + x
    z = lambda y: abs(alpha - beta) / (big + y)  # noqa: E731
    m = r + s + x
    a0 = hyp2f1(m, b2, m + 1, z(t_x)) / (big + t_x) ** m - hyp2f1(m, b2, m + 1, z(T)) / (big + T) ** m
    lik = np.exp(gammaln(r + x) - gammaln(r)) * alpha**r * beta**s
    lik *= 1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / m * a0
    return np.log(lik)


def test_cdnow_published_estimates(shared_data: Path) -> None:
    """Fader, Hardie & Lee (2005, Marketing Science 24(2), section 4) fit Pareto/NBD to CDNOW as the benchmark:
    r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0 (4-decimal refit in the data README)."""
    m = ParetoNBDModel().fit(cdnow_summary(shared_data))
    p = m.params_
    assert p["r"] == pytest.approx(0.5533, abs=1e-3)
    assert p["alpha"] == pytest.approx(10.5777, abs=1e-3)
    assert p["s"] == pytest.approx(0.6062, abs=1e-3)
    assert p["beta"] == pytest.approx(11.6677, abs=2e-3)  # beta is the least determined (se about 6)
    assert m.log_likelihood_ == pytest.approx(-9594.97, abs=0.01)
    assert m.converged_


@pytest.mark.parametrize(
    ("params", "x", "t_x", "T"),
    [
        ((0.55, 10.58, 0.61, 11.67), 0, 0.0, 38.0),
        ((0.55, 10.58, 0.61, 11.67), 4, 30.0, 38.0),
        ((0.55, 10.58, 0.61, 11.67), 4, 37.999, 38.0),
        ((2.0, 1.0, 3.0, 20.0), 12, 5.0, 60.0),  # alpha < beta branch
        ((0.3, 30.0, 1.5, 0.5), 7, 2.0, 9.0),  # alpha >> beta, z close to 1
    ],
)
def test_likelihood_matches_the_hypergeometric_closed_form(params, x, t_x, T) -> None:
    """Independent computation: the textbook 2F1 form (FH 2005 eq. 11) where it is representable."""
    ours = pnbd_loglik(*params, np.array([float(x)]), t_x, T)[0]
    assert ours == pytest.approx(closed_form_loglik(*params, x, t_x, T), abs=1e-8)


@pytest.mark.parametrize("x", [5000, 20_000, 100_000])
@pytest.mark.parametrize(("t_x", "T"), [(0.5, 100.0), (30.0, 39.0), (38.99999, 39.0), (1e-6, 1e4)])
def test_extreme_frequency_is_finite_and_accurate(x: int, t_x: float, T: float) -> None:
    """Thousands of purchases: the 2F1 form overflows ((α+t_x)^(r+s+x)); ours stays finite and matches an
    adaptive quadrature of the same integral done in scaled form."""
    r, alpha, s, beta = 0.55, 10.58, 0.61, 11.67
    ll, grad = pnbd_loglik_grad(r, alpha, s, beta, np.array([float(x)]), t_x, T)
    assert np.isfinite(ll).all() and all(np.isfinite(g).all() for g in grad)
    c = r + x
    shift = c * np.log(alpha + t_x) + (s + 1) * np.log(beta + t_x)
    f = lambda y: np.exp(shift - c * np.log(alpha + y) - (s + 1) * np.log(beta + y))  # noqa: E731
    width = (alpha + t_x) / c
    pts = [t_x + k * width for k in (1, 10, 100, 1000) if t_x + k * width < T]
    J = integrate.quad(f, t_x, T, epsabs=0, epsrel=1e-12, limit=1000, points=pts or None)[0]
    lJ = np.log(J) - shift
    lE1 = -c * np.log(alpha + T) - s * np.log(beta + T)
    ref = gammaln(c) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(lE1, np.log(s) + lJ)
    assert ll[0] == pytest.approx(ref, rel=1e-10)


def test_last_day_customer_contributes_zero() -> None:
    assert pnbd_loglik(0.5, 10.0, 0.6, 11.0, np.array([0.0]), 0.0, 0.0)[0] == pytest.approx(0.0, abs=1e-14)
    assert pnbd_probability_alive(0.5, 10.0, 0.6, 11.0, np.array([0.0]), 0.0, 0.0)[0] == pytest.approx(1.0)


def test_online_retail_sample_fits_with_last_day_customers() -> None:
    summary = online_retail_sample_summary()
    m = ParetoNBDModel().fit(summary)
    assert m.converged_
    last_day = summary[summary["T"] == 0]
    assert np.allclose(m.individual_log_likelihood(last_day), 0.0)
    assert np.isfinite(m.expected_purchases(summary, 52)).all()


def test_pmf_sums_to_one_with_the_right_mean() -> None:
    """P(X(t) = n) (SMC 1987) is a distribution whose mean is E[X(t)] (FH 2005 eq. 17)."""
    r, alpha, s, beta, t = 0.55, 10.58, 0.61, 11.67, 39.0
    n = np.arange(0, 600)
    pmf = np.array([pnbd_pmf_new(k, t, r, alpha, s, beta) for k in n]).ravel()
    assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
    assert (n * pmf).sum() == pytest.approx(pnbd_expected_new(t, r, alpha, s, beta), rel=1e-4)


def test_expected_new_at_s_equal_one_is_the_limit() -> None:
    assert pnbd_expected_new(10.0, 1.0, 2.0, 1.0, 3.0) == pytest.approx(
        pnbd_expected_new(10.0, 1.0, 2.0, 1.0 + 1e-7, 3.0), rel=1e-6
    )


def test_simulation_recovery_fast() -> None:
    """10k simulated customers: every estimate within 4 standard errors of the truth."""
    truth = np.array([0.55, 10.5, 0.6, 12.0])
    rng = np.random.default_rng(3)
    T = rng.uniform(20, 40, size=10_000)
    x, t_x = pnbd_simulate(truth, T, rng)
    m = ParetoNBDModel().fit(pd.DataFrame({"frequency": x, "recency": t_x, "T": T}))
    assert np.all(np.abs((m.params_.to_numpy() - truth) / m.summary_["se"].to_numpy()) < 4)


@pytest.mark.slow
def test_simulation_recovery_100k() -> None:
    """100k simulated customers: r, alpha, s within 15% and beta within 30% (the dropout scale is the least
    identified in 40 weeks), all within 4 standard errors."""
    truth = np.array([0.55, 10.5, 0.6, 12.0])
    rng = np.random.default_rng(5)
    T = rng.uniform(20, 40, size=100_000)
    x, t_x = pnbd_simulate(truth, T, rng)
    m = ParetoNBDModel().fit(pd.DataFrame({"frequency": x, "recency": t_x, "T": T}))
    est = m.params_.to_numpy()
    assert np.allclose(est[:3], truth[:3], rtol=0.15)
    assert est[3] == pytest.approx(truth[3], rel=0.3)
    assert np.all(np.abs((est - truth) / m.summary_["se"].to_numpy()) < 4)


def _random_rows(n: int, seed: int):
    """Rows spread over many orders of magnitude: x up to 1e5, alpha and beta 1e-3..1e4, T 1e-3..1e4, t_x anywhere
    in [0, T] (U-shaped, so near both ends often)."""
    rng = np.random.default_rng(seed)
    r, alpha, s, beta = (
        np.exp(rng.uniform(np.log(lo), np.log(hi), n)) for lo, hi in ((0.02, 50), (1e-3, 1e4)) * 2
    )
    x = np.floor(np.exp(rng.uniform(0, np.log(1e5), n))) - 1
    T = np.exp(rng.uniform(np.log(1e-3), np.log(1e4), n))
    return r, alpha, s, beta, x, T * rng.beta(0.3, 0.3, n), T


def test_reduced_rules_match_the_40_node_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows whose integrand is analytic near the interval get 10-32 Gauss-Legendre nodes instead of 40: log-likelihood
    and gradient equal those of the 40-node rule everywhere (relative 1e-10) on 200k random rows, and on CDNOW-like
    simulated customers."""
    import patron.models.clv.pareto_nbd as pnbd

    rng = np.random.default_rng(8)
    T = rng.uniform(20, 40, 50_000)
    sim = (0.55, 10.58, 0.61, 11.67), *pnbd_simulate((0.55, 10.58, 0.61, 11.67), T, rng), T
    cases = [(*p, x, t_x, T) for p, x, t_x, T in [sim]] + [_random_rows(200_000, 9)]
    for args in cases:
        fast_ll, fast_g = pnbd_loglik_grad(*args)
        with monkeypatch.context() as mp:
            mp.setattr(pnbd, "_SPAN_RULES", ())
            ll, g = pnbd_loglik_grad(*args)
        assert np.all(np.isfinite(fast_ll))
        np.testing.assert_allclose(fast_ll, ll, rtol=1e-10, atol=1e-10)
        for a, b in zip(fast_g, g, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9 * np.max(np.abs(b)))
    # Most realistic rows use the cheap rules (the point of them).
    x, t_x, T = sim[1:]
    c, A, B = 0.55 + x, 10.58 + t_x, 11.67 + t_x
    span = np.log1p((T - t_x) * (c / A + 1.61 / B))
    assert np.mean(pnbd._rule_for_rows(span, c + 1.61 * A / B) <= 16) > 0.9
