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
from patron.models.clv._base import ID_COLUMN, CLVModel, id_index, reject

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
    return _loglik(alpha, beta, gamma, delta, x, t_x, n, gradient=False)[0]


def log_likelihood_and_gradient(
    alpha: float, beta: float, gamma: float, delta: float, x: Any, t_x: Any, n: Any
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-customer log-likelihood (FHS eq. 5) and its exact gradient with respect to (alpha, beta, gamma, delta).

    Each term is a product of beta functions, so d log(term)/d parameter is a difference of digammas; the gradient
    of log L is the softmax-weighted average of the terms' gradients (weights term_k / L). Both are accumulated in
    one pass over i with a running log-sum-exp (online softmax), so memory is O(customers) for any n.
    """
    return _loglik(alpha, beta, gamma, delta, x, t_x, n, gradient=True)


def _loglik(
    alpha: float, beta: float, gamma: float, delta: float, x: Any, t_x: Any, n: Any, *, gradient: bool
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    x, t_x, n = np.broadcast_arrays(*_as_arrays(x, t_x, n))
    shape = x.shape
    x, t_x, n = x.ravel(), t_x.ravel(), n.ravel()
    ok = valid_data(x, t_x, n)
    # Neutral values on impossible rows keep the special functions quiet; those rows end as -inf / NaN.
    x, t_x, n = np.where(ok, x, 0.0), np.where(ok, t_x, 0.0), np.where(ok, n, 1.0)
    a, b, g, d = float(alpha), float(beta), float(gamma), float(delta)
    base = betaln(a, b) + betaln(g, d)
    ab = digamma(a + b) - digamma(a)
    bb = digamma(a + b) - digamma(b)
    gd = digamma(g + d)
    psi_d = digamma(d)
    # Term "alive through n".
    acc = betaln(a + x, b + n - x) + betaln(g, d + n) - base
    grads: list[np.ndarray] = []
    if gradient:
        grads = [
            digamma(a + x) - digamma(a + b + n) + ab,
            digamma(b + n - x) - digamma(a + b + n) + bb,
            gd - digamma(g + d + n),
            digamma(d + n) - digamma(g + d + n) - psi_d + gd,
        ]
    # The "died at t_x+i+1" terms, i = 0 .. n-t_x-1. Rows are ordered by their number of such terms so the rows
    # still summing at step i are a prefix (work = the total number of terms, not rows x the largest n). Between
    # steps the beta functions and digammas advance by their recurrences B(p, q+1) = B(p, q) q/(p+q) and
    # digamma(z+1) = digamma(z) + 1/z: a few arithmetic operations per term instead of special functions.
    n_extra = (n - t_x).astype(np.int64)
    k_max = int(n_extra.max()) if n_extra.size else 0
    if k_max > 0:
        order = np.argsort(-n_extra, kind="stable")
        live = len(order) - np.cumsum(np.bincount(n_extra, minlength=k_max + 1))[:k_max]
        sub = order[: live[0]]
        X, S = x[sub], t_x[sub].copy()
        lt = betaln(a + X, b + S - X) + betaln(g + 1, d + S) - base
        run = acc[sub]
        if gradient:
            run_g = [gr[sub] for gr in grads]
            common_a = digamma(a + X) + ab
            common_g = digamma(g + 1) - digamma(g) + gd
            psi_abs, psi_bsx = digamma(a + b + S), digamma(b + S - X)
            psi_gds, psi_ds = digamma(g + d + S + 1), digamma(d + S)
        for i in range(k_max):
            m = int(live[i])
            new = np.logaddexp(run[:m], lt[:m])
            if gradient:
                w_old, w_new = np.exp(run[:m] - new), np.exp(lt[:m] - new)
                terms = (
                    common_a[:m] - psi_abs[:m],
                    psi_bsx[:m] - psi_abs[:m] + bb,
                    common_g - psi_gds[:m],
                    psi_ds[:m] - psi_gds[:m] - psi_d + gd,
                )
                for rg, tg in zip(run_g, terms, strict=True):
                    rg[:m] = rg[:m] * w_old + tg * w_new
            run[:m] = new
            if i + 1 < k_max:
                s, xs = S[:m], X[:m]
                lt[:m] += np.log1p(-(a + xs) / (a + b + s)) + np.log1p(-(g + 1) / (g + d + s + 1))
                if gradient:
                    psi_abs[:m] += 1 / (a + b + s)
                    psi_bsx[:m] += 1 / (b + s - xs)
                    psi_gds[:m] += 1 / (g + d + s + 1)
                    psi_ds[:m] += 1 / (d + s)
                S[:m] += 1
        acc[sub] = run
        if gradient:
            for gr, rg in zip(grads, run_g, strict=True):
                gr[sub] = rg
    ll = np.where(ok, acc, -np.inf).reshape(shape)
    # (grads is empty when no gradient was asked for: the dict is then empty too.)
    out = {
        name: np.where(ok, gr, np.nan).reshape(shape) for name, gr in zip(PARAM_NAMES, grads, strict=False)
    }
    return ll, out


def probability_alive(
    alpha: float, beta: float, gamma: float, delta: float, x: Any, t_x: Any, n: Any, m: Any = 1
) -> np.ndarray:
    """P(alive at opportunity n + m | x, t_x, n), FHS eq. (11) (m = 1 there; general m multiplies theta's survival).

    = B(a+x, b+n-x)/B(a,b) * B(g, d+n+m)/B(g,d) / L(a, b, g, d | x, t_x, n).
    """
    a, b, g, d = float(alpha), float(beta), float(gamma), float(delta)

    def f(x: np.ndarray, t_x: np.ndarray, n: np.ndarray, m: np.ndarray) -> np.ndarray:
        ll = log_likelihood(a, b, g, d, x, t_x, n)
        lp = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + m) - betaln(g, d)
        return np.clip(np.exp(lp - ll), 0.0, 1.0)

    return _by_pattern(f, x, t_x, n, m)


def _by_pattern(func: Any, *columns: Any) -> np.ndarray:
    """Evaluate ``func`` once per distinct row of whole-number ``columns`` and spread the results back.

    Discrete data has few distinct (x, t_x, n) patterns (at most (n+1)(n+2)/2 per n), so a million customers cost
    the same as a few thousand rows.
    """
    arrays = [a.ravel() for a in np.broadcast_arrays(*_as_arrays(*columns))]
    shape = np.broadcast(*_as_arrays(*columns)).shape
    size = arrays[0].size
    whole = all(np.all(np.isfinite(c) & (c == np.round(c)) & (c >= 0)) for c in arrays)
    if size < 4096 or not whole:
        return np.asarray(func(*arrays)).reshape(shape)
    top = max(int(c.max()) for c in arrays) + 1
    if top ** len(arrays) >= 2**62:
        return np.asarray(func(*arrays)).reshape(shape)
    key = np.zeros(size, dtype=np.int64)
    for c in arrays:
        key = key * top + c.astype(np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    values = np.asarray(func(*(c[first] for c in arrays)))
    return values[inverse.ravel()].reshape(shape)


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
    a, b, g, d = float(alpha), float(beta), float(gamma), float(delta)

    def f(x: np.ndarray, t_x: np.ndarray, n: np.ndarray, n_star: np.ndarray) -> np.ndarray:
        ll = log_likelihood(a, b, g, d, x, t_x, n)
        lp = betaln(a + x + 1, b + n - x) - betaln(a, b)
        with np.errstate(divide="ignore"):
            return np.exp(lp - ll + np.log(_survival_sum(g, d, n, n_star)))

    return _by_pattern(f, x, t_x, n, n_star)


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


_PERIODS = {
    "Y": "Y",
    "year": "Y",
    "Q": "Q",
    "quarter": "Q",
    "M": "M",
    "month": "M",
    "W": "W-SUN",
    "week": "W-SUN",
}


def opportunity_summary(
    transactions: pd.DataFrame,
    *,
    period: str = "Y",
    observation_end: Any = None,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
) -> pd.DataFrame:
    """The BG/BB summary of a transaction log where each calendar ``period`` (``Y``, ``Q``, ``M`` or ``W``: ISO weeks
    from Monday) is one transaction opportunity, as in FHS's annual donations.

    A customer's first period is its acquisition (not an opportunity); ``n_periods`` counts the periods after it up
    to the period of ``observation_end`` (default: the last transaction), ``frequency`` those with a purchase, and
    ``recency`` is the last of them (1 = the period after acquisition; 0 if none). Transactions after
    ``observation_end`` are ignored. Customers acquired in the final period have ``n_periods = 0`` and are dropped
    (they have had no opportunity yet). Returns a frame indexed by customer_id.
    """
    from patron.features._sql import to_timestamp

    if period not in _PERIODS:
        raise InputError("unknown opportunity period", column="period", expected="Y, Q, M or W", found=period)
    for col in (customer_id, timestamp):
        if col not in transactions.columns:
            raise InputError(
                "the transactions frame lacks a column", column=col, found=list(map(str, transactions))
            )
    ts = pd.to_datetime(transactions[timestamp], errors="coerce")
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    if ts.isna().any():
        row = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise InputError(
            "timestamp is missing or not a date", row=row + 2, column=timestamp, expected="a date"
        )
    freq = _PERIODS[period]
    end = to_timestamp(ts.max() if observation_end is None else observation_end, what="observation_end")
    end_ord = pd.Period(end, freq).ordinal
    frame = pd.DataFrame(
        {"customer_id": transactions[customer_id].to_numpy(), "p": pd.PeriodIndex(ts, freq=freq).asi8}
    )
    frame = frame[frame["p"] <= end_ord].drop_duplicates()
    first = frame.groupby("customer_id")["p"].transform("min")
    frame["k"] = frame["p"] - first
    per = frame.groupby("customer_id").agg(
        first=("p", "min"), frequency=("k", lambda k: int((k > 0).sum())), recency=("k", "max")
    )
    out = pd.DataFrame(
        {
            "frequency": per["frequency"].astype(float),
            "recency": per["recency"].astype(float),
            "n_periods": (end_ord - per["first"]).astype(float),
        }
    )
    out.index.name = ID_COLUMN
    return out[out["n_periods"] > 0]


class DiscretePatternsMixin:
    """Fit and predict on the distinct rows of whole-number data (BG/BB, sBG), for a :class:`CLVModel` subclass.

    Discrete data has few distinct rows (at most (n+1)(n+2)/2 BG/BB patterns per n); fitting and predicting work on
    those: an integer key per row and a 1-d ``np.unique`` is much faster than a row-wise unique of a million rows,
    and prediction intervals cost the same for a million customers as for a few thousand.
    """

    _data_columns: ClassVar[tuple[str, ...]]

    def _patterns(self, data: Mapping[str, np.ndarray]) -> tuple[pd.DataFrame, np.ndarray]:
        ints = [data[c].astype(np.int64) for c in self._data_columns]
        top = int(max((int(v.max()) for v in ints if v.size), default=0)) + 1
        key = np.zeros(len(ints[0]), dtype=np.int64)
        for v in ints:
            key = key * top + v
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return pd.DataFrame({c: data[c][first] for c in self._data_columns}), inverse.ravel()

    def fit(self, X: Any, y: Any = None, *, sample_weight: Any = None) -> Any:
        """Fit by maximum likelihood on the distinct data rows, weighted by their counts times ``sample_weight``
        (see :meth:`CLVModel.fit`)."""
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        data, _Z, ids = self._extract(X)  # type: ignore[attr-defined]
        n = len(ids)
        if n == 0:
            raise InputError(f"{type(self).__name__} got no rows to fit", expected="at least one customer")
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float).ravel()
        if sw.shape != (n,):
            raise InputError(
                "sample_weight must have one value per row",
                column="sample_weight",
                expected=f"length {n}",
                found=len(sw),
            )
        reject(~np.isfinite(sw) | (sw < 0), ids, "sample_weight", "a finite weight >= 0", sw)
        patterns, inverse = self._patterns(data)
        weights = np.bincount(inverse, weights=sw, minlength=len(patterns))
        super().fit(patterns, sample_weight=weights)  # type: ignore[misc]
        self.n_customers_ = n
        return self

    def _predict(
        self,
        name: str,
        func: Any,
        X: Any,
        level: Any,
        *,
        n_draws: int = 500,
        random_state: int | np.random.Generator | None = 0,
    ) -> pd.Series | pd.DataFrame:
        """The base's prediction (and intervals) on the distinct rows of X, spread back to its customers."""
        self._check_fitted()  # type: ignore[attr-defined]
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        data, _Z, _ids = self._extract(X)  # type: ignore[attr-defined]
        patterns, inverse = self._patterns(data)
        out = super()._predict(name, func, patterns, level, n_draws=n_draws, random_state=random_state)  # type: ignore[misc]
        index = id_index(X)
        if isinstance(out, pd.Series):
            return pd.Series(out.to_numpy()[inverse], index=index, name=name)
        return pd.DataFrame(out.to_numpy()[inverse], index=index, columns=out.columns)


class BetaGeoBetaBinomModel(DiscretePatternsMixin, CLVModel):
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

    def expected_purchases(
        self,
        X: Any,
        t: Any,
        level: Any = None,
        *,
        n_draws: int = 500,
        random_state: int | np.random.Generator | None = 0,
    ) -> pd.Series | pd.DataFrame:
        """Expected transactions in the next ``t`` opportunities per customer (FHS eq. 13), named
        ``expected_purchases``; with ``level=[80, ...]`` adds ``-lo-80``/``-hi-80`` columns from ``n_draws``
        parameter draws."""
        _check_horizon(t)
        return self._predict(
            "expected_purchases",
            lambda p, d: expected_purchases(*self._args(p), d["frequency"], d["recency"], d["n_periods"], t),
            X,
            level,
            n_draws=n_draws,
            random_state=random_state,
        )

    def probability_alive(
        self,
        X: Any,
        level: Any = None,
        *,
        m: int = 1,
        n_draws: int = 500,
        random_state: int | np.random.Generator | None = 0,
    ) -> pd.Series | pd.DataFrame:
        """P(alive at opportunity n + m) per customer (FHS eq. 11 for m = 1), named ``probability_alive``."""
        _check_horizon(m)
        return self._predict(
            "probability_alive",
            lambda p, d: probability_alive(*self._args(p), d["frequency"], d["recency"], d["n_periods"], m),
            X,
            level,
            n_draws=n_draws,
            random_state=random_state,
        )

    def expected_purchases_new_customer(self, t: Any) -> float | pd.Series:
        """E[X(t)] for a new customer over its first ``t`` opportunities (FHS eq. 7): a float for a single t, else
        a Series indexed by t (as the continuous-time models)."""
        self._check_fitted()
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        _check_horizon(t_arr)
        vals = expected_purchases_new_customer(*self._args(self.params_), t_arr)
        if np.ndim(t) == 0:
            return float(vals[0])
        return pd.Series(vals, index=pd.Index(t_arr, name="t"), name="expected_purchases")


def _check_horizon(t: Any) -> None:
    arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise InputError(
            "a BG/BB horizon counts opportunities", column="t", expected="whole numbers >= 0", found=t
        )
