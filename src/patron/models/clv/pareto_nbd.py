"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), as derived in Fader & Hardie (2005).

Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987), "Counting Your Customers: Who Are They and What Will They Do
Next?", Management Science 33(1), 1-24; Fader, P. S. & Hardie, B. G. S. (2005), "A Note on Deriving the Pareto/NBD
Model and Related Expressions" (the likelihood is their eq. 11, P(alive) eq. 18, E[Y(t) | x, t_x, T] eq. 22).

The likelihood's usual closed form is a *difference* of two Gaussian hypergeometric functions 2F1 times powers
(α+t_x)^-(r+s+x): it overflows for frequencies in the hundreds and loses all digits when t_x is close to T. We use the
integral it comes from (FH 2005, the step before eq. 11):

``L = Γ(r+x) α^r β^s / Γ(r) [ (α+T)^-(r+x) (β+T)^-s + s J ],  J = ∫_{t_x}^{T} (α+y)^-(r+x) (β+y)^-(s+1) dy``

(the second term is "alive at each purchase, dropped out at y in (t_x, T]"). J is a positive integral of a smooth,
convex, decreasing log-integrand, so we evaluate it in log space by Gauss-Legendre quadrature after the change of
variable ``φ = ln(ρ + y - t_x)`` with ``ρ = 1/k`` (``k`` the log-integrand's decay rate at t_x). That map puts a
node inside the narrow peak at y ≈ t_x that very frequent buyers have (width ~ (α+t_x)/(r+x)) and turns the power-law
tail into a gentle exponential, so a fixed rule is accurate to ~1e-12 relative for any x (tested up to x = 10^5) and
any T; a log-sum-exp over the nodes means nothing can overflow. The gradient is the same quadrature applied to the
parameter derivatives of the integrand (differentiation under the integral sign), so it is exact up to that error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln, roots_legendre

from patron.models.clv._base import CLVModel, by_value
from patron.models.clv._purchase import PurchaseModelMixin

# Gauss-Legendre rules on [0, 1] by node count. Every row gets the smallest rule that is accurate to ~1e-12 for it
# (see _rule_for_rows); rows outside the analysed region keep the 40-node rule.
_RULES = {
    n: (0.5 * (u + 1.0), 0.5 * w) for n, (u, w) in ((n, roots_legendre(n)) for n in (10, 12, 16, 20, 32, 40))
}
_N_NODES = 40
_U, _W = _RULES[_N_NODES]
_CHUNK = 8_192  # rows per block: keeps each (rows x nodes) temporary to ~2.5 MB, inside the cache
# (upper bound on the φ-interval length, node count) for rows whose integrand is analytic in a strip of half-width
# about π around the interval (q >= 1 below). Gauss-Legendre converges like ρ^(-2n), ρ the Bernstein ellipse of the
# strip, so the interval length sets n. Thresholds measured against a 120-node rule over 400k random rows (x up to
# 1e5, α, β from 1e-3 to 1e4, T up to 1e4): worst error 1e-9 absolute on ln J of order 1e5, i.e. rounding
# (test_reduced_rules_match_the_40_node_rule).
_SPAN_RULES = ((1.0, 10), (2.0, 12), (3.0, 16), (4.0, 20), (6.0, 32))


def _rule_for_rows(span, q):
    """Node count per row.

    With φ' = φ - ln ρ the integrand is ``e^φ' (1 + a'(e^φ'-1)/c)^-c (1 + b'(e^φ'-1)/d)^-d`` (a' + b' = 1); its
    branch points sit at ``e^z = 1 - c/a'`` and ``1 - d/b'``. ``d/b' >= d > 1`` always, and ``c/a' = q = c + d A/B``:
    when q >= 1 both branch points are at imaginary part π, so convergence depends only on the interval length
    ``span``. When q < 1 one lies on the real axis just left of the interval (small r + x with β >> α): the full
    40-node rule.
    """
    n = np.full(span.shape, _N_NODES)
    easy = q >= 1.0
    for top, nodes in reversed(_SPAN_RULES):
        n[easy & (span < top)] = nodes
    return n


def _log_integral(c, alpha, d, beta, t_x, T):
    """ln J and the normalised moments of J's integrand, J = ∫_{t_x}^{T} (α+y)^-c (β+y)^-d dy (Gauss-Legendre in
    φ = ln(ρ + y - t_x)); -inf where t_x = T. Returns (lJ, M[ln(α+y)], M[1/(α+y)], M[ln(β+y)], M[1/(β+y)])."""
    n = t_x.shape[0]
    out = [np.full(n, -np.inf), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)]
    delta = T - t_x
    idx = np.flatnonzero(delta > 0)
    if not len(idx):
        return out
    c, alpha, d, beta, t_x, delta = (v[idx] for v in (c, alpha, d, beta, t_x, delta))
    A = alpha + t_x
    B = beta + t_x
    k = c / A + d / B  # decay rate of the log-integrand at t_x
    rho = 1.0 / k
    span = np.log1p(delta * k)  # φ runs over [ln ρ, ln(ρ + Δ)]
    # ln of the integrand times dy/dφ at the start of the interval: the integrand falls in y and dy/dφ = ρ + v
    # grows by at most e^span, so exp(lg - top) <= e^span can neither overflow nor vanish at every node.
    top = -c * np.log(A) - d * np.log(B) + np.log(rho)
    rule = _rule_for_rows(span, c + d * A / B)
    for nodes in np.unique(rule):
        u, w = _RULES[int(nodes)]
        group = np.flatnonzero(rule == nodes)
        chunk = max(1, _CHUNK * 40 // int(nodes))
        for start in range(0, len(group), chunk):
            g = group[start : start + chunk]
            sp = span[g][:, None]
            rh = rho[g][:, None]
            v = rh * np.expm1(sp * u)  # y - t_x at the nodes
            v = np.minimum(v, delta[g][:, None])  # rounding at the upper end
            ya = A[g][:, None] + v
            yb = B[g][:, None] + v
            la = np.log(ya)
            lb = np.log(yb)
            e = np.exp(-c[g][:, None] * la - d[g][:, None] * lb + np.log(rh + v) - top[g][:, None]) * w
            tot = e.sum(axis=1)
            rows = idx[g]
            out[0][rows] = top[g] + np.log(span[g] * tot)
            out[1][rows] = np.einsum("ij,ij->i", e, la) / tot
            out[2][rows] = np.einsum("ij,ij->i", e, 1.0 / ya) / tot
            out[3][rows] = np.einsum("ij,ij->i", e, lb) / tot
            out[4][rows] = np.einsum("ij,ij->i", e, 1.0 / yb) / tot
    return out


def _per_row(n, *values):
    return [np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in values]


def pnbd_loglik_grad(r, alpha, s, beta, x, t_x, T):
    """Per-customer Pareto/NBD log-likelihood (FH 2005 eq. 11, from its integral form) and its gradient.

    Returns ``(ll, (d_r, d_alpha, d_s, d_beta))``. Finite for every valid input (x >= 0, 0 <= t_x <= T); a customer
    with x = 0 and T = 0 contributes 0.
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    # Parameters stay scalars when they are (no covariates): the terms in them alone are then computed once, and
    # the special functions of r + x once per distinct x (compressed data is sorted by frequency).
    r_, al, s_, be = (np.asarray(v, dtype=float) for v in (r, alpha, s, beta))
    t_x, T = _per_row(n, t_x, T)
    c = r_ + x
    lJ, m_la, m_ia, m_lb, m_ib = _log_integral(*_per_row(n, c, al, s_ + 1.0, be), t_x, T)
    l_aT = np.log(al + T)
    l_bT = np.log(be + T)
    lE1 = -c * l_aT - s_ * l_bT
    l2 = np.log(s_) + lJ
    lS = np.logaddexp(lE1, l2)
    w2 = np.exp(l2 - lS)
    w1 = 1.0 - w2
    if r_.ndim == 0:
        lg_c, psi_c = by_value(x, lambda u: (gammaln(r_ + u), digamma(r_ + u)))
    else:
        lg_c, psi_c = gammaln(c), digamma(c)
    l_al, l_be = np.log(al), np.log(be)
    ll = lg_c + (r_ * l_al + s_ * l_be - gammaln(r_)) + lS
    d_r = psi_c + (l_al - digamma(r_)) - w1 * l_aT - w2 * m_la
    d_alpha = r_ / al - c * (w1 / (al + T) + w2 * m_ia)
    d_s = l_be - w1 * l_bT + w2 * (1.0 / s_ - m_lb)
    d_beta = s_ / be - w1 * s_ / (be + T) - w2 * (s_ + 1.0) * m_ib
    return ll, (d_r, d_alpha, d_s, d_beta)


def pnbd_loglik(r, alpha, s, beta, x, t_x, T):
    """Per-customer Pareto/NBD log-likelihood (FH 2005 eq. 11)."""
    return pnbd_loglik_grad(r, alpha, s, beta, x, t_x, T)[0]


def pnbd_probability_alive(r, alpha, s, beta, x, t_x, T):
    """P(alive | x, t_x, T) = (α+T)^-(r+x) (β+T)^-s / [(α+T)^-(r+x) (β+T)^-s + s J] (FH 2005 eq. 18, the alive share
    of the likelihood), computed from log terms."""
    x = np.asarray(x, dtype=float)
    n = x.shape[0]
    r_, al, s_, be, t_x, T = _per_row(n, r, alpha, s, beta, t_x, T)
    lJ = _log_integral(r_ + x, al, s_ + 1.0, be, t_x, T)[0]
    lE1 = -(r_ + x) * np.log(al + T) - s_ * np.log(be + T)
    return np.exp(lE1 - np.logaddexp(lE1, np.log(s_) + lJ))


def _survival_integral(s, beta, t):
    """∫_0^t (β/(β+u))^s du / β... in the form used by E[X(t)]: [1 - (β/(β+t))^(s-1)] / (s-1), with its s -> 1
    limit ln(1 + t/β); expm1/log1p keep it accurate near s = 1."""
    lr = np.log1p(t / beta)
    sm1 = s - 1.0
    safe = np.where(np.abs(sm1) < 1e-10, 1.0, sm1)
    return np.where(np.abs(sm1) < 1e-10, lr, -np.expm1(-sm1 * lr) / safe)


def pnbd_expected_new(t, r, alpha, s, beta):
    """E[X(t)] for a new customer, SMC (1987) / FH (2005) eq. 17: ``r β / (α (s-1)) [1 - (β/(β+t))^(s-1)]``."""
    t = np.asarray(t, dtype=float)
    return r * beta / alpha * _survival_integral(s, beta, t)


def pnbd_expected_purchases(t, r, alpha, s, beta, x, t_x, T):
    """E[Y(t) | x, t_x, T], FH (2005) eq. 22: P(alive) times the new-customer expectation at the posterior
    parameters (r+x, α+T, s, β+T)."""
    x = np.asarray(x, dtype=float)
    alive = pnbd_probability_alive(r, alpha, s, beta, x, t_x, T)
    return alive * pnbd_expected_new(t, r + x, alpha + T, s, beta + T)


def _nb_logpmf(n, r, alpha, t):
    """ln P(N(t) = n) for a Poisson count whose rate is Gamma(r, α): the NBD."""
    return (
        gammaln(r + n)
        - gammaln(r)
        - gammaln(n + 1)
        + r * np.log(alpha / (alpha + t))
        + n * np.log(t / (alpha + t))
    )


def pnbd_pmf_new(n, t, r, alpha, s, beta):
    """P(X(t) = n) for a customer just acquired (SMC 1987; FH 2006 "Deriving an expression for P(X(t) = x) under the
    Pareto/NBD model"), from its defining mixture: lifetime τ ~ Exp(μ), μ ~ Gamma(s, β);
    ``P = NBD(n; r, α, t) (β/(β+t))^s + ∫_0^t NBD(n; r, α, τ) s β^s (β+τ)^-(s+1) dτ`` (Gauss-Legendre in τ)."""
    n = float(n)
    t = float(t)
    r, alpha, s, beta = (np.asarray(v, dtype=float) for v in (r, alpha, s, beta))
    if t == 0:
        return np.broadcast_to(np.where(n == 0, 1.0, 0.0), np.broadcast(r, alpha, s, beta).shape).astype(
            float
        )
    stay = np.exp(_nb_logpmf(n, r, alpha, t) + s * (np.log(beta) - np.log(beta + t)))
    tau = t * _U
    shp = np.broadcast(r, alpha, s, beta).shape
    rr, aa, ss, bb = (np.broadcast_to(v, shp)[..., None] for v in (r, alpha, s, beta))
    with np.errstate(divide="ignore"):
        lnb = np.where(tau > 0, _nb_logpmf(n, rr, aa, tau), np.where(n == 0, 0.0, -np.inf))
    dens = np.log(ss) + ss * np.log(bb) - (ss + 1.0) * np.log(bb + tau)
    left = (np.exp(lnb + dens) * (t * _W)).sum(axis=-1)
    return stay + left


def pnbd_pmf(n, t, r, alpha, s, beta, x, t_x, T):
    """P(Y(t) = n | x, t_x, T): active customers follow the new-customer law at the posterior (r+x, α+T, s, β+T)
    (memorylessness of the exponential lifetime); inactive ones buy nothing."""
    x = np.asarray(x, dtype=float)
    alive = pnbd_probability_alive(r, alpha, s, beta, x, t_x, T)
    return alive * pnbd_pmf_new(n, t, r + x, alpha + T, s, beta + T) + (1.0 - alive) * (n == 0)


def pnbd_simulate(params, T, rng: np.random.Generator):
    """Simulate (frequency, recency) under Pareto/NBD: λ ~ Gamma(r, rate α), μ ~ Gamma(s, rate β), lifetime
    τ ~ Exp(μ); purchases are Poisson(λ) while alive, so x ~ Poisson(λ min(τ, T)) and t_x is the largest of x
    uniform times on [0, min(τ, T)] (SMC 1987 assumptions)."""
    r, alpha, s, beta = params
    T = np.asarray(T, dtype=float)
    n = T.shape[0]
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    mu = rng.gamma(s, 1.0 / beta, size=n)
    tau = rng.exponential(1.0, size=n) / mu
    horizon = np.minimum(tau, T)
    x = rng.poisson(lam * horizon)
    t_x = np.zeros(n)
    pos = x > 0
    t_x[pos] = horizon[pos] * rng.beta(x[pos], 1.0)
    return x.astype(float), t_x


class ParetoNBDModel(PurchaseModelMixin, CLVModel):
    """Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987) fitted by maximum likelihood.

    Parameters ``r, alpha`` (gamma heterogeneity of the purchase rate) and ``s, beta`` (gamma heterogeneity of the
    dropout rate). With ``covariates``, ``alpha_i = alpha * exp(z_i @ coef)``.
    """

    _param_names = ("r", "alpha", "s", "beta")
    _linked_param = "alpha"
    _coarse_columns = ("recency", "T")

    def _loglik_grad(self, params: Mapping[str, Any], data: Mapping[str, np.ndarray]):
        p = params
        ll, g = pnbd_loglik_grad(
            p["r"], p["alpha"], p["s"], p["beta"], data["frequency"], data["recency"], data["T"]
        )
        return ll, dict(zip(self._param_names, g, strict=True))

    def _start_points(self, data, weights):
        mean_T = max(float(np.average(data["T"], weights=weights)), 1e-3)
        return [
            np.array([1.0, mean_T, 1.0, mean_T]),
            np.array([1.0, 1.0, 1.0, 1.0]),
            np.array([0.2, 0.2 * mean_T, 0.5, 4.0 * mean_T]),
        ]

    @staticmethod
    def _alive(p, d):
        return pnbd_probability_alive(
            p["r"], p["alpha"], p["s"], p["beta"], d["frequency"], d["recency"], d["T"]
        )

    @staticmethod
    def _expected(p, d, t):
        return pnbd_expected_purchases(
            t, p["r"], p["alpha"], p["s"], p["beta"], d["frequency"], d["recency"], d["T"]
        )

    @staticmethod
    def _expected_path(p, d, times):
        x, T = d["frequency"], d["T"]
        alive = pnbd_probability_alive(p["r"], p["alpha"], p["s"], p["beta"], x, d["recency"], T)
        times = np.asarray(times, dtype=float)[:, None]
        return alive * pnbd_expected_new(times, p["r"] + x, p["alpha"] + T, p["s"], p["beta"] + T)

    @staticmethod
    def _pmf(p, d, t, n):
        return pnbd_pmf(n, t, p["r"], p["alpha"], p["s"], p["beta"], d["frequency"], d["recency"], d["T"])

    @staticmethod
    def _expected_new(p, t):
        return pnbd_expected_new(t, p["r"], p["alpha"], p["s"], p["beta"])

    @staticmethod
    def _simulate(p, T, rng):
        return pnbd_simulate((p["r"], p["alpha"], p["s"], p["beta"]), T, rng)
