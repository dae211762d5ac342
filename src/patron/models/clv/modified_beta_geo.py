"""MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007), where a customer may also drop out right
after the first purchase.

Batislam, E. P., Denizel, M. & Filiztekin, A. (2007), "Empirical validation and comparison of models for customer base
analysis", International Journal of Research in Marketing 24(3), 201-209 (the likelihood, their eq. 6, and the
conditional expectation, eq. 9). The same model is Hoppe & Wagner's (2007) "CBG/NBD" with its central variant.

Pure numerics first, then the :class:`ModifiedBetaGeoModel` estimator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln

from patron.models.clv._base import by_value
from patron.models.clv.beta_geo import BetaGeoFamily, bgnbd_expected_new, bgnbd_expected_path, bgnbd_pmf_new


def mbgnbd_loglik_grad(r, alpha, a, b, x, t_x, T):
    """Per-customer MBG/NBD log-likelihood (Batislam et al. 2007, eq. 6) and its exact gradient.

    ``L = B(a, b+x+1)/B(a, b) Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
    + B(a+1, b+x)/B(a, b) Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))``; the ratio B(a+1, b+x)/B(a, b+x+1) = a/(b+x) is
    factored out so both terms meet in one ``logaddexp``. x = 0 and T = 0 gives 0. Returns
    ``(ll, (d_r, d_alpha, d_a, d_b))``.
    """
    x = np.asarray(x, dtype=float)
    rx = r + x
    l_T = np.log(alpha + T)
    l_tx = np.log(alpha + t_x)
    u1 = -rx * l_T
    u2 = np.log(a) - np.log(b + x) - rx * l_tx
    lse = np.logaddexp(u1, u2)
    w2 = np.exp(u2 - lse)
    w1 = 1.0 - w2
    if np.ndim(r) == 0 and np.ndim(a) == 0 and np.ndim(b) == 0:
        cx, psi_rx, psi_bx, psi_abx = by_value(
            x,
            lambda u: (
                gammaln(r + u) + betaln(a, b + u + 1.0),
                digamma(r + u),
                digamma(b + u + 1.0),
                digamma(a + b + u + 1.0),
            ),
        )
    else:
        cx = gammaln(rx) + betaln(a, b + x + 1.0)
        psi_rx, psi_bx, psi_abx = digamma(rx), digamma(b + x + 1.0), digamma(a + b + x + 1.0)
    ll = cx - gammaln(r) + r * np.log(alpha) - betaln(a, b) + lse
    d_r = psi_rx - digamma(r) + np.log(alpha) - w1 * l_T - w2 * l_tx
    d_alpha = r / alpha - rx * (w1 / (alpha + T) + w2 / (alpha + t_x))
    psi_ab = digamma(a + b)
    d_a = psi_ab - psi_abx + w2 / a
    d_b = psi_bx - psi_abx - digamma(b) + psi_ab - w2 / (b + x)
    return ll, (d_r, d_alpha, d_a, d_b)


def mbgnbd_loglik(r, alpha, a, b, x, t_x, T):
    """Per-customer MBG/NBD log-likelihood (Batislam et al. 2007, eq. 6)."""
    return mbgnbd_loglik_grad(r, alpha, a, b, x, t_x, T)[0]


def mbgnbd_probability_alive(r, alpha, a, b, x, t_x, T):
    """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x)) (Batislam et al. 2007), via the log-odds."""
    x = np.asarray(x, dtype=float)
    log_odds = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return expit(-log_odds)


def mbgnbd_expected_new(t, r, alpha, a, b):
    """E[X(t)] for a new customer (Batislam et al. 2007, eq. 8): ``b/(a-1) [1 - (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))]``.

    Equal to P(survives the first dropout chance) = b/(a+b) times the BG/NBD expectation with b+1.
    """
    return b / (a + b) * bgnbd_expected_new(t, r, alpha, a, b + 1.0)


def mbgnbd_expected_purchases(t, r, alpha, a, b, x, t_x, T):
    """E[Y(t) | x, t_x, T] (Batislam et al. 2007, eq. 9): P(alive) times the BG/NBD new-customer expectation at the
    posterior parameters (r+x, α+T, a, b+x+1) — an active customer has survived x+1 dropout chances."""
    x = np.asarray(x, dtype=float)
    alive = mbgnbd_probability_alive(r, alpha, a, b, x, t_x, T)
    return alive * bgnbd_expected_new(t, r + x, alpha + T, a, b + x + 1.0)


def mbgnbd_pmf(n, t, r, alpha, a, b, x, t_x, T):
    """P(Y(t) = n | x, t_x, T): an active customer follows the BG/NBD new-customer law (FHL 2005 eq. 8) at the
    posterior (r+x, α+T, a, b+x+1); an inactive one buys nothing."""
    x = np.asarray(x, dtype=float)
    alive = mbgnbd_probability_alive(r, alpha, a, b, x, t_x, T)
    return alive * bgnbd_pmf_new(n, t, r + x, alpha + T, a, b + x + 1.0) + (1.0 - alive) * (
        np.asarray(n) == 0
    )


def mbgnbd_simulate(params, T, rng: np.random.Generator):
    """Simulate (frequency, recency) under MBG/NBD: as BG/NBD but the dropout coin is also tossed right after the
    first purchase, so the number of repeat purchases until dropout is K ~ Geometric(p) on {0, 1, ...}."""
    r, alpha, a, b = params
    T = np.asarray(T, dtype=float)
    n = T.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    N = rng.poisson(lam * T)
    K = rng.geometric(p) - 1
    x = np.minimum(K, N)
    t_x = np.zeros(n)
    pos = x > 0
    t_x[pos] = T[pos] * rng.beta(x[pos], N[pos] - x[pos] + 1)
    return x.astype(float), t_x


class ModifiedBetaGeoModel(BetaGeoFamily):
    """MBG/NBD purchase model (Batislam, Denizel & Filiztekin 2007) fitted by maximum likelihood.

    Same parameters as :class:`~patron.models.clv.BetaGeoModel` (``r, alpha, a, b``); ``covariates`` scale alpha.
    """

    def _loglik_grad(self, params: Mapping[str, Any], data: Mapping[str, np.ndarray]):
        p = params
        ll, g = mbgnbd_loglik_grad(
            p["r"], p["alpha"], p["a"], p["b"], data["frequency"], data["recency"], data["T"]
        )
        return ll, dict(zip(self._param_names, g, strict=True))

    @staticmethod
    def _alive(p, d):
        return mbgnbd_probability_alive(
            p["r"], p["alpha"], p["a"], p["b"], d["frequency"], d["recency"], d["T"]
        )

    @staticmethod
    def _expected(p, d, t):
        return mbgnbd_expected_purchases(
            t, p["r"], p["alpha"], p["a"], p["b"], d["frequency"], d["recency"], d["T"]
        )

    @staticmethod
    def _expected_path(p, d, times):
        x = d["frequency"]
        alive = mbgnbd_probability_alive(p["r"], p["alpha"], p["a"], p["b"], x, d["recency"], d["T"])
        return alive * bgnbd_expected_path(times, p["r"] + x, p["alpha"] + d["T"], p["a"], p["b"] + x + 1.0)

    @staticmethod
    def _pmf(p, d, t, n):
        return mbgnbd_pmf(n, t, p["r"], p["alpha"], p["a"], p["b"], d["frequency"], d["recency"], d["T"])

    @staticmethod
    def _expected_new(p, t):
        return mbgnbd_expected_new(t, p["r"], p["alpha"], p["a"], p["b"])

    @staticmethod
    def _simulate(p, T, rng):
        return mbgnbd_simulate((p["r"], p["alpha"], p["a"], p["b"]), T, rng)
