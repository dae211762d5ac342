"""sBG: the shifted-beta-geometric model of contractual retention.

Fader & Hardie (2007), "How to Project Customer Retention", Journal of Interactive Marketing 21(1), 76-90 (FH07);
the discounted expected (residual) lifetime is from Fader & Hardie (2010), "Customer-Base Valuation in a Contractual
Setting: The Perils of Ignoring Heterogeneity", Marketing Science 29(1), 85-93 (FH10).

At the end of each period a customer still under contract cancels with probability theta (constant per customer),
theta ~ Beta(alpha, beta) across customers. So the lifetime L (the number of periods a customer is active) is
shifted-geometric given theta and

* P(L = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)            (FH07 eq. 7),
* S(t) = P(L > t) = B(alpha, beta + t) / B(alpha, beta)              (FH07 eq. 8),
* retention r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)   (FH07 eq. 9).

Data per customer (the convention of the shipped ``sbg_cohorts`` data): ``T`` the periods the cohort has been observed
(the current period, 1-based) and ``recency`` the last period the customer was active: ``recency < T`` means the
customer churned after ``recency`` periods (L = recency); ``recency == T`` means still active (L >= T).
Cohort data as survivor counts ``S_0 >= S_1 >= ... >= S_k`` (S_0 customers acquired, S_t still active after t
renewals) is the same data with ``T = k + 1``: see :func:`survivors_to_frame`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma

from patron.errors import ConfigError, InputError
from patron.models.clv._base import CLVModel, reject

PARAM_NAMES = ("alpha", "beta")


def _arrays(*values: Any) -> list[np.ndarray]:
    return np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))


def log_likelihood_and_gradient(
    alpha: float, beta: float, recency: Any, T: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-customer log-likelihood (FH07 eq. 11 split per customer) and its exact gradient.

    Churned (recency < T): log P(L = recency) = betaln(a+1, b+recency-1) - betaln(a, b).
    Active (recency == T): log S(T-1) = betaln(a, b+T-1) - betaln(a, b).
    Impossible data (recency < 1, recency > T, non-integers) gives ``-inf``.
    """
    t, T = _arrays(recency, T)
    a, b = float(alpha), float(beta)
    ok = (t >= 1) & (t <= T) & (t == np.round(t)) & (T == np.round(T))
    churned = t < T
    lb = betaln(a, b)
    dab = digamma(a + b)
    ll = np.where(churned, betaln(a + 1, b + t - 1), betaln(a, b + T - 1)) - lb
    # d/da, d/db of betaln(u, v) are digamma(u) - digamma(u+v) and digamma(v) - digamma(u+v).
    ga = np.where(churned, digamma(a + 1) - digamma(a + b + t), digamma(a) - digamma(a + b + T - 1))
    gb = np.where(
        churned, digamma(b + t - 1) - digamma(a + b + t), digamma(b + T - 1) - digamma(a + b + T - 1)
    )
    ga = ga - digamma(a) + dab
    gb = gb - digamma(b) + dab
    return np.where(ok, ll, -np.inf), {"alpha": np.where(ok, ga, np.nan), "beta": np.where(ok, gb, np.nan)}


def log_likelihood(alpha: float, beta: float, recency: Any, T: Any) -> np.ndarray:
    """Per-customer log-likelihood; see :func:`log_likelihood_and_gradient`."""
    return log_likelihood_and_gradient(alpha, beta, recency, T)[0]


def survivors_log_likelihood(alpha: float, beta: float, survivors: Any) -> float:
    """Cohort log-likelihood from survivor counts S_0..S_k, FH07 eq. (11):

    LL = sum_{t=1}^{k} (S_{t-1} - S_t) log P(L = t) + S_k log S(k).
    """
    s = np.asarray(survivors, dtype=float)
    _check_survivors(s)
    k = len(s) - 1
    t = np.arange(1, k + 1)
    a, b = float(alpha), float(beta)
    lost = s[:-1] - s[1:]
    churn = lost @ (betaln(a + 1, b + t - 1) - betaln(a, b)) if k else 0.0
    return float(churn + s[-1] * (betaln(a, b + k) - betaln(a, b)))


def _check_survivors(s: np.ndarray) -> None:
    if s.ndim != 1 or len(s) < 2:
        raise InputError(
            "survivor counts need at least S_0 and S_1", column="survivors", expected="S_0, S_1, ..."
        )
    if np.any(~np.isfinite(s)) or np.any(s < 0) or np.any(s != np.round(s)):
        raise InputError("survivor counts must be whole numbers >= 0", column="survivors", found=s.tolist())
    bad = np.flatnonzero(np.diff(s) > 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise InputError(
            f"survivors must not increase (S_{i} > S_{i - 1})",
            column="survivors",
            expected=f"S_{i} <= {s[i - 1]:g}",
            found=float(s[i]),
        )


def survivors_to_frame(survivors: Any) -> pd.DataFrame:
    """Per-pattern rows (recency, T, count) equivalent to survivor counts S_0..S_k (T = k + 1).

    Fit with ``ShiftedBetaGeoModel().fit(frame, sample_weight=frame["count"])``.
    """
    s = np.asarray(survivors, dtype=float)
    _check_survivors(s)
    k = len(s) - 1
    recency = np.arange(1, k + 2, dtype=float)
    count = np.append(s[:-1] - s[1:], s[-1])
    return pd.DataFrame({"recency": recency, "T": float(k + 1), "count": count})


def churn_probability(alpha: float, beta: float, t: Any) -> np.ndarray:
    """P(L = t): the probability a new customer's lifetime is exactly t periods (FH07 eq. 7)."""
    (t,) = _arrays(t)
    return np.where(t >= 1, np.exp(betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta)), 0.0)


def survival(alpha: float, beta: float, t: Any) -> np.ndarray:
    """S(t) = P(L > t) = B(a, b + t)/B(a, b): the share of a cohort still active after t renewals (FH07 eq. 8)."""
    (t,) = _arrays(t)
    return np.exp(betaln(alpha, beta + np.maximum(t, 0)) - betaln(alpha, beta))


def retention_rate(alpha: float, beta: float, t: Any) -> np.ndarray:
    """r_t = S(t)/S(t-1) = (b + t - 1)/(a + b + t - 1), t >= 1: the renewal rate in period t (FH07 eq. 9).

    It increases with t: the customers who stay are those with low theta (the "ruse of heterogeneity").
    """
    (t,) = _arrays(t)
    return (beta + t - 1) / (alpha + beta + t - 1)


def discounted_expected_lifetime(alpha: float, beta: float, discount_rate: float) -> float:
    """DEL: sum_{t>=0} S(t)/(1+d)^t, the discounted expected lifetime of a new customer (in periods, counting the
    current one), FH10 eq. (4): DEL = 2F1(1, b; a+b; 1/(1+d))."""
    d = _check_discount(discount_rate)
    return float(_hyp2f1_unit(np.asarray(float(beta)), np.asarray(float(alpha + beta)), 1.0 / (1.0 + d)))


def discounted_expected_residual_lifetime(
    alpha: float, beta: float, n: Any, discount_rate: float
) -> np.ndarray:
    """DERL for a customer active in period n (it has renewed n - 1 times), evaluated just before its n-th renewal
    decision, FH10 eq. (6):

    DERL = B(a, b+n)/B(a, b+n-1) * 2F1(1, b+n; a+b+n; 1/(1+d))
         = sum_{t>=n} S(t)/S(n-1) / (1+d)^(t-n)   (the first future period, n+1, undiscounted).
    """
    d = _check_discount(discount_rate)
    (n,) = _arrays(n)
    head = np.exp(betaln(alpha, beta + n) - betaln(alpha, beta + n - 1))
    return head * _hyp2f1_unit(beta + n, alpha + beta + n, 1.0 / (1.0 + d))


def _hyp2f1_unit(b: np.ndarray, c: np.ndarray, z: float, chunk: int = 512) -> np.ndarray:
    """2F1(1, b; c; z) = sum_k (b)_k/(c)_k z^k for c > b > 0, 0 < z < 1, by direct summation.

    scipy's ``hyp2f1`` returns NaN in parts of this region (e.g. b = 67, c = 136, z = 0.94), so the series is summed
    in chunks of terms (ratios (b+k)/(c+k) z < z, all positive: no cancellation) until the tail bound
    term * z/(1-z) falls below 1e-16 of the sum for every element.
    """
    b, c = np.broadcast_arrays(np.asarray(b, dtype=float), np.asarray(c, dtype=float))
    total = np.zeros(b.shape)
    term = np.ones(b.shape)
    start = 0
    while True:
        k = np.arange(start, start + chunk, dtype=float).reshape((-1,) + (1,) * b.ndim)
        terms = term * np.cumprod(
            np.concatenate([np.ones((1, *b.shape)), (b + k[:-1]) / (c + k[:-1]) * z]), axis=0
        )
        total = total + terms.sum(axis=0)
        term = terms[-1] * (b + k[-1]) / (c + k[-1]) * z
        start += chunk
        if np.all(term * z / (1 - z) <= 1e-16 * total) or start > 10_000_000:
            return total


def _check_discount(discount_rate: float) -> float:
    d = float(discount_rate)
    if not np.isfinite(d) or d <= 0:
        raise ConfigError(
            f"discount_rate must be > 0 per period (got {discount_rate!r}); the sums diverge at 0"
        )
    return d


def simulate(alpha: float, beta: float, T: int, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``size`` customers of one cohort observed for ``T`` periods: theta ~ Beta(a, b), lifetime L ~
    Geometric(theta) on 1, 2, ...; ``recency = min(L, T)`` (T means still active). Also returns ``theta``, ``L``."""
    theta = rng.beta(alpha, beta, size)
    lifetime = rng.geometric(np.clip(theta, 1e-300, 1.0))
    recency = np.minimum(lifetime, T).astype(float)
    return {"recency": recency, "T": np.full(size, float(T)), "theta": theta, "lifetime": lifetime}


class ShiftedBetaGeoModel(CLVModel):
    """sBG estimator (FH07) on per-customer contract data.

    X has columns ``recency`` (last active period, 1-based) and ``T`` (periods observed; ``recency == T`` means still
    active). For survivor counts use :func:`survivors_to_frame` and ``sample_weight=frame["count"]``. Fit one model
    per cohort or segment (the parameters differ, as FH07's "high end" and "regular" customers show).
    """

    _data_columns: ClassVar[tuple[str, ...]] = ("recency", "T")
    _param_names: ClassVar[tuple[str, ...]] = PARAM_NAMES
    _linked_param: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__(covariates=None)

    def _check_data(self, data: Mapping[str, np.ndarray], ids: np.ndarray) -> None:
        t, T = data["recency"], data["T"]
        reject(T != np.round(T), ids, "T", "a whole number of periods", T)
        reject(t != np.round(t), ids, "recency", "a whole number of periods", t)
        reject(T < 1, ids, "T", "T >= 1", T)
        reject(t < 1, ids, "recency", "recency >= 1 (a customer is active in its first period)", t)
        reject(t > T, ids, "recency", "recency <= T", t)

    def _loglik_grad(
        self, params: Mapping[str, Any], data: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return log_likelihood_and_gradient(params["alpha"], params["beta"], data["recency"], data["T"])

    def _start_points(self, data: Mapping[str, np.ndarray], weights: np.ndarray) -> list[np.ndarray]:
        return [np.array([1.0, 1.0]), np.array([0.5, 3.0]), np.array([3.0, 0.5])]

    # ---------------------------------------------------------------- curves (population)
    def survival_curve(self, t: Any) -> pd.DataFrame:
        """Survival S(t) and retention r_t of a new cohort for periods ``t`` (frame indexed by t)."""
        self._check_fitted()
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        a, b = self.params_["alpha"], self.params_["beta"]
        return pd.DataFrame(
            {
                "survival": survival(a, b, t_arr),
                "retention": np.where(t_arr >= 1, retention_rate(a, b, t_arr), np.nan),
            },
            index=pd.Index(t_arr, name="t"),
        )

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL of a new customer (FH10 eq. 4), in periods."""
        self._check_fitted()
        return discounted_expected_lifetime(self.params_["alpha"], self.params_["beta"], discount_rate)

    # ---------------------------------------------------------------- per customer
    def probability_alive(self, X: Any, level: Any = None) -> pd.Series | pd.DataFrame:
        """P(still under contract after the current period T): 0 for churned customers, r_T for active ones."""

        def f(p: Mapping[str, Any], d: Mapping[str, np.ndarray]) -> np.ndarray:
            return np.where(d["recency"] < d["T"], 0.0, retention_rate(p["alpha"], p["beta"], d["T"]))

        return self._predict("probability_alive", f, X, level)

    def expected_residual_lifetime(
        self, X: Any, discount_rate: float, level: Any = None
    ) -> pd.Series | pd.DataFrame:
        """DERL (FH10 eq. 6) per customer: for active customers at their period T, 0 for churned ones."""
        _check_discount(discount_rate)

        def f(p: Mapping[str, Any], d: Mapping[str, np.ndarray]) -> np.ndarray:
            derl = discounted_expected_residual_lifetime(p["alpha"], p["beta"], d["T"], discount_rate)
            return np.where(d["recency"] < d["T"], 0.0, derl)

        return self._predict("expected_residual_lifetime", f, X, level)
