"""BG/BB: the beta-geometric/beta-Bernoulli model of discrete-time, non-contractual purchasing.

Fader, Hardie & Shang (2010), "Customer-Base Analysis in a Discrete-Time Noncontractual Setting", Marketing
Science 29(6), 1086-1108 (FHS below). Each of ``n`` transaction opportunities (a yearly donation drive, a weekly
event...) is either used or not:

* while alive, a customer transacts at an opportunity with probability ``p`` (p ~ Beta(alpha, beta) across customers);
* at the beginning of each opportunity a living customer dies with probability ``theta`` (theta ~ Beta(gamma, delta)).

Data per customer: ``frequency`` x (number of repeat transactions, 0..n), ``recency`` t_x (the opportunity of the
last transaction, 0 if none; x <= t_x <= n) and ``n_periods`` n (the opportunities observed). The pure functions
below take numpy arrays and broadcast; the estimator :class:`BetaGeoBetaBinomModel` wraps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln

from patron.errors import InputError
from patron.models.clv._base import CLVModel, reject

PARAM_NAMES = ("alpha", "beta", "gamma", "delta")
# Below this |gamma - 1| the closed forms with a 1/(gamma - 1) factor lose accuracy to cancellation; there we sum
# the defining series instead (exact, just slower).
_GAMMA_ONE = 1e-4


def _as_arrays(*values: Any) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in values]


def valid_data(x: Any, t_x: Any, n: Any) -> np.ndarray:
    """True where (x, t_x, n) is possible: integers with 0 <= x <= t_x <= n, and t_x = 0 exactly when x = 0."""
    x, t_x, n = _as_arrays(x, t_x, n)
    integral = (x == np.round(x)) & (t_x == np.round(t_x)) & (n == np.round(n))
    return integral & (x >= 0) & (x <= t_x) & (t_x <= n) & ((x == 0) == (t_x == 0))


def log_likelihood(
    alpha: float, beta: float, gamma: float, delta: float, x: Any, t_x: Any, n: Any
) -> np.ndarray:
    """Per-customer log-likelihood, FHS eq. (5), computed in log space.

    L = B(a+x, b+n-x)/B(a,b) * B(g, d+n)/B(g,d)
        + sum_{i=0}^{n-t_x-1} B(a+x, b+t_x-x+i)/B(a,b) * B(g+1, d+t_x+i)/B(g,d).

    The first term is "alive through all n opportunities"; term i is "died at the start of opportunity
    t_x+i+1". Terms are combined with a running log-sum-exp so no term under- or overflows. Impossible data
    gives ``-inf``.
    """
    return log_likelihood_and_gradient(alpha, beta, gamma, delta, x, t_x, n)[0]


def log_likelihood_and_gradient(
    alpha: float, beta: float, gamma: float, delta: float, x: Any, t_x: Any, n: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-customer log-likelihood (FHS eq. 5) and its exact gradient with respect to (alpha, beta, gamma, delta).

    Each term is a product of beta functions, so d log(term)/d parameter is a difference of digammas; the gradient
    of log L is the softmax-weighted average of the terms' gradients (weights term_k / L). Both are accumulated in
    one pass over i with a running log-sum-exp (online softmax), so memory is O(customers) for any n.
    """
    x, t_x, n = np.broadcast_arrays(*_as_arrays(x, t_x, n))
    ok = valid_data(x, t_x, n)
    a, b, g, d = float(alpha), float(beta), float(gamma), float(delta)
    base_p = betaln(a, b)
    base_t = betaln(g, d)
    ab = digamma(a + b) - digamma(a)
    bb = digamma(a + b) - digamma(b)
    gd = digamma(g + d)
    # Term "alive through n".
    acc = betaln(a + x, b + n - x) - base_p + betaln(g, d + n) - base_t
    ga = digamma(a + x) - digamma(a + b + n) + ab
    gb = digamma(b + n - x) - digamma(a + b + n) + bb
    gg = gd - digamma(g + d + n)
    gdl = digamma(d + n) - digamma(g + d + n) - digamma(d) + gd
    grads = [ga, gb, gg, gdl]
    n_extra = np.where(ok, n - t_x, 0)
    k_max = int(n_extra.max()) if n_extra.size else 0
    common_a = digamma(a + x) + ab
    common_g = digamma(g + 1) - digamma(g) + gd
    for i in range(k_max):
        live = ok & (i < n_extra)
        if not live.any():
            break
        s = t_x + i
        lt = betaln(a + x, b + s - x) - base_p + betaln(g + 1, d + s) - base_t
        lt = np.where(live, lt, -np.inf)
        new = np.logaddexp(acc, lt)
        w_old = np.exp(acc - new)
        w_new = np.where(live, np.exp(lt - new), 0.0)
        ti = [
            common_a - digamma(a + b + s),
            digamma(b + s - x) - digamma(a + b + s) + bb,
            common_g - digamma(g + d + s + 1),
            digamma(d + s) - digamma(g + d + s + 1) - digamma(d) + gd,
        ]
        grads = [go * w_old + np.where(live, tn, 0.0) * w_new for go, tn in zip(grads, ti, strict=True)]
        acc = new
    ll = np.where(ok, acc, -np.inf)
    out = {name: np.where(ok, gr, np.nan) for name, gr in zip(PARAM_NAMES, grads, strict=True)}
    return ll, out


def probability_alive(
    alpha: float, beta: float, gamma: float, delta: float, x: Any, t_x: Any, n: Any, m: Any = 1
) -> np.ndarray:
    """P(alive at opportunity n + m | x, t_x, n), FHS eq. (11) (m = 1 there; general m multiplies theta's survival).

    = B(a+x, b+n-x)/B(a,b) * B(g, d+n+m)/B(g,d) / L(a, b, g, d | x, t_x, n).
    """
    x, t_x, n, m = np.broadcast_arrays(*_as_arrays(x, t_x, n, m))
    a, b, g, d = float(alpha), float(beta), float(gamma), float(delta)
    ll = log_likelihood(a, b, g, d, x, t_x, n)
    lp = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + m) - betaln(g, d)
    return np.clip(np.exp(lp - ll), 0.0, 1.0)


def _survival_sum(gamma: float, delta: float, n: np.ndarray, n_star: np.ndarray) -> np.ndarray:
    """sum_{k=1}^{n*} B(g, d+n+k)/B(g,d): expected number of the next n* opportunities a customer alive at n
    survives to, times P(alive at n) (the integral over theta). Closed form FHS eq. (13)'s bracket:

    d/(g-1) * G(g+d)/G(1+d) * [G(1+d+n)/G(g+d+n) - G(1+d+n+n*)/G(g+d+n+n*)],

    evaluated as A * (-expm1(log B - log A)) to keep the difference accurate, and by the series near g = 1.
    """
    g, d = float(gamma), float(delta)
    if abs(g - 1.0) < _GAMMA_ONE:
        k_max = int(np.max(n_star)) if np.size(n_star) else 0
        total = np.zeros(np.broadcast(n, n_star).shape)
        for k in range(1, k_max + 1):
            total = total + np.where(k <= n_star, np.exp(betaln(g, d + n + k) - betaln(g, d)), 0.0)
        return total
    const = np.log(d) + gammaln(g + d) - gammaln(1 + d)
    log_a = gammaln(1 + d + n) - gammaln(g + d + n)
    log_b = gammaln(1 + d + n + n_star) - gammaln(g + d + n + n_star)
    return np.exp(const + log_a) * -np.expm1(log_b - log_a) / (g - 1.0)


def expected_purchases(
    alpha: float, beta: float, gamma: float, delta: float, x: Any, t_x: Any, n: Any, n_star: Any
) -> np.ndarray:
    """Expected transactions in the next ``n_star`` opportunities (n+1 .. n+n*) given (x, t_x, n), FHS eq. (13).

    E = 1/L * B(a+x+1, b+n-x)/B(a,b) * sum_{k=1}^{n*} B(g, d+n+k)/B(g,d).
    """
    x, t_x, n, n_star = np.broadcast_arrays(*_as_arrays(x, t_x, n, n_star))
    a, b, g, d = float(alpha), float(beta), float(gamma), float(delta)
    ll = log_likelihood(a, b, g, d, x, t_x, n)
    lp = betaln(a + x + 1, b + n - x) - betaln(a, b)
    with np.errstate(divide="ignore"):
        return np.exp(lp - ll + np.log(_survival_sum(g, d, n, n_star)))


def expected_purchases_new_customer(
    alpha: float, beta: float, gamma: float, delta: float, n: Any
) -> np.ndarray:
    """E[X(n)]: expected transactions in the first n opportunities of a randomly chosen customer, FHS eq. (7).

    = a/(a+b) * sum_{t=1}^{n} B(g, d+t)/B(g,d)   (= a/(a+b) * d/(g-1) * [1 - G(g+d)G(1+d+n)/(G(g+d+n)G(1+d))]).
    """
    (n,) = _as_arrays(n)
    a, b = float(alpha), float(beta)
    return a / (a + b) * _survival_sum(gamma, delta, np.zeros_like(n), n)


def probability_of_n_purchases(
    alpha: float, beta: float, gamma: float, delta: float, n: int, k: Any
) -> np.ndarray:
    """P(X(n) = k): probability a randomly chosen customer makes k transactions in n opportunities, FHS eq. (8).

    = C(n,k) B(a+k, b+n-k)/B(a,b) B(g, d+n)/B(g,d)
      + sum_{i=k}^{n-1} C(i,k) B(a+k, b+i-k)/B(a,b) B(g+1, d+i)/B(g,d).
    """
    (k,) = _as_arrays(k)
    a, b, g, d = float(alpha), float(beta), float(gamma), float(delta)
    n = int(n)

    def lchoose(top: Any, bottom: Any) -> np.ndarray:
        return (
            gammaln(np.asarray(top) + 1.0) - gammaln(np.asarray(bottom) + 1.0) - gammaln(top - bottom + 1.0)
        )

    out = np.exp(lchoose(n, k) + betaln(a + k, b + n - k) - betaln(a, b) + betaln(g, d + n) - betaln(g, d))
    for i in range(n):
        term = np.exp(
            lchoose(i, k) + betaln(a + k, b + i - k) - betaln(a, b) + betaln(g + 1, d + i) - betaln(g, d)
        )
        out = out + np.where(k <= i, term, 0.0)
    return np.where((k >= 0) & (k <= n), out, 0.0)


def simulate(
    alpha: float, beta: float, gamma: float, delta: float, n: int, size: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw ``size`` customers from the BG/BB process over ``n`` opportunities.

    Returns arrays ``frequency``, ``recency``, ``n_periods`` and the latent ``p``, ``theta`` and ``alive`` (alive
    after opportunity n). A customer dies at the start of opportunity k with probability theta given alive before
    (FHS sec. 2), so the opportunities it lives through number min(L - 1, n) with L ~ Geometric(theta).
    """
    p = rng.beta(alpha, beta, size)
    theta = rng.beta(gamma, delta, size)
    death = rng.geometric(np.clip(theta, 1e-300, 1.0))  # the opportunity at whose start the customer dies
    lived = np.minimum(death - 1, n)
    buys = rng.random((size, n)) < p[:, None]
    buys &= np.arange(1, n + 1)[None, :] <= lived[:, None]
    x = buys.sum(axis=1)
    last = np.where(x > 0, n - np.argmax(buys[:, ::-1], axis=1), 0)
    return {
        "frequency": x.astype(float),
        "recency": last.astype(float),
        "n_periods": np.full(size, float(n)),
        "p": p,
        "theta": theta,
        "alive": death > n,
    }


class BetaGeoBetaBinomModel(CLVModel):
    """BG/BB estimator (FHS 2010) on a discrete-opportunity summary.

    X has columns ``frequency`` (repeat transactions x), ``recency`` (opportunity of the last one, t_x; 0 if none)
    and ``n_periods`` (opportunities observed, n); a column ``T`` is accepted in place of ``n_periods`` (the
    pymc-marketing spelling). Compressed data (one row per pattern with a count, as the donations data is shipped)
    is fitted with ``sample_weight=counts``.

    Fitted attributes: ``params_`` (alpha, beta, gamma, delta), ``log_likelihood_``, ``summary_`` (estimate, se,
    lower_95, upper_95 from the observed information), ``aic_``, ``bic_``.
    """

    _data_columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "n_periods")
    _param_names: ClassVar[tuple[str, ...]] = PARAM_NAMES
    _linked_param: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__(covariates=None)

    def _extract(self, X: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        if "n_periods" not in X.columns and "T" in X.columns:
            X = X.rename(columns={"T": "n_periods"})
        return super()._extract(X)

    def _check_data(self, data: Mapping[str, np.ndarray], ids: np.ndarray) -> None:
        x, t_x, n = data["frequency"], data["recency"], data["n_periods"]
        for name, v in (("frequency", x), ("recency", t_x), ("n_periods", n)):
            reject(v != np.round(v), ids, name, "a whole number of opportunities", v)
        reject(n < 1, ids, "n_periods", "n_periods >= 1", n)
        reject(x < 0, ids, "frequency", "a count >= 0", x)
        reject(t_x > n, ids, "recency", "recency <= n_periods", t_x)
        reject(x > t_x, ids, "frequency", "frequency <= recency (one transaction per opportunity)", x)
        reject((x == 0) & (t_x != 0), ids, "recency", "recency 0 for a customer with frequency 0", t_x)

    def _loglik_grad(
        self, params: Mapping[str, Any], data: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return log_likelihood_and_gradient(
            params["alpha"], params["beta"], params["gamma"], params["delta"],
            data["frequency"], data["recency"], data["n_periods"],
        )  # fmt: skip

    def _start_points(self, data: Mapping[str, np.ndarray], weights: np.ndarray) -> list[np.ndarray]:
        # Moment start for p: the mean transaction rate over observed opportunities.
        rate = float(np.clip(weights @ (data["frequency"] / data["n_periods"]) / weights.sum(), 0.05, 0.95))
        return [
            np.array([rate, 1 - rate, 1.0, 1.0]),
            np.array([1.0, 1.0, 1.0, 1.0]),
            np.array([0.5, 0.5, 0.5, 3.0]),
        ]

    # ---------------------------------------------------------------- predictions
    @staticmethod
    def _args(params: Mapping[str, Any]) -> tuple[float, float, float, float]:
        return params["alpha"], params["beta"], params["gamma"], params["delta"]

    def expected_purchases(self, X: Any, t: Any, level: Any = None) -> pd.Series | pd.DataFrame:
        """Expected transactions in the next ``t`` opportunities per customer (FHS eq. 13), named
        ``expected_purchases``; with ``level=[80, ...]`` adds ``-lo-80``/``-hi-80`` columns."""
        _check_horizon(t)
        return self._predict(
            "expected_purchases",
            lambda p, d: expected_purchases(*self._args(p), d["frequency"], d["recency"], d["n_periods"], t),
            X,
            level,
        )

    def probability_alive(self, X: Any, level: Any = None, m: int = 1) -> pd.Series | pd.DataFrame:
        """P(alive at opportunity n + m) per customer (FHS eq. 11 for m = 1), named ``probability_alive``."""
        _check_horizon(m)
        return self._predict(
            "probability_alive",
            lambda p, d: probability_alive(*self._args(p), d["frequency"], d["recency"], d["n_periods"], m),
            X,
            level,
        )

    def expected_purchases_new_customer(self, t: Any) -> pd.Series:
        """E[X(t)] for a new customer over its first ``t`` opportunities (FHS eq. 7), indexed by t."""
        self._check_fitted()
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        _check_horizon(t_arr)
        vals = expected_purchases_new_customer(*self._args(self.params_), t_arr)
        return pd.Series(vals, index=pd.Index(t_arr, name="t"), name="expected_purchases")


def _check_horizon(t: Any) -> None:
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise InputError(
            "a BG/BB horizon counts opportunities", column="t", expected="whole numbers >= 0", found=t
        )
