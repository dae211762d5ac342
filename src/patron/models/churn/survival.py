"""Time to churn: Kaplan-Meier curves, a Weibull accelerated-failure-time model and the concordance index.

Pure numpy/scipy functions (no pandas in the numerics) and one thin scikit-learn style estimator.

* Kaplan-Meier product-limit estimator (Kaplan & Meier 1958, JASA 53(282), eq. 2):
  S(t) = prod_{t_i <= t} (1 - d_i / n_i), with d_i events and n_i at risk at the distinct time t_i.
* Weibull AFT (Kalbfleisch & Prentice 2002, "The Statistical Analysis of Failure Time Data", sec. 2.3.3), in
  lifelines' ``WeibullAFTFitter`` parametrisation: scale lambda_i = exp(x_i' beta) (x with an intercept),
  shape rho = exp(a), S(t | x) = exp(-(t / lambda)^rho). With z = rho (log t - x' beta) the log-likelihood of
  one customer is  e (log rho + z - log t) - exp(z)  (e = 1 for an observed churn, 0 for a censored one).
* Harrell's concordance index (Harrell, Califf, Pryor, Lee & Rosati 1982, JAMA 247(18)), with lifelines'
  conventions for ties: a pair (i, j) is comparable when t_i < t_j and i's event is observed, or t_i = t_j with
  i observed and j censored; it is concordant when the score (a predicted survival time: higher = lives longer)
  of i is lower, and counts 1/2 when the scores tie.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import gamma as gamma_fn
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from patron.errors import InputError, ModelError


def _check_survival(durations: Any, events: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(durations, dtype=float).ravel()
    e = np.asarray(events, dtype=float).ravel()
    if t.shape != e.shape:
        raise InputError(f"{len(t)} durations but {len(e)} event flags", expected="one flag per duration")
    if t.size == 0:
        raise InputError("no durations", expected="at least one customer")
    if np.isnan(t).any() or (t < 0).any():
        raise InputError(
            "durations must be non-negative numbers", column="duration", found=float(t[~(t >= 0)][0])
        )
    if not np.isin(e, (0.0, 1.0)).all():
        raise InputError("event flags must be 0 (censored) or 1 (churned)", column="event")
    return t, e


def kaplan_meier(durations: Any, events: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate at each distinct duration.

    Returns ``(times, survival, at_risk, n_events)``, sorted by time; ``survival[k]`` is S just after
    ``times[k]`` (a step function, right-continuous, as lifelines' ``survival_function_``).
    """
    t, e = _check_survival(durations, events)
    times, inverse = np.unique(t, return_inverse=True)
    n_events = np.bincount(inverse, weights=e, minlength=len(times))
    n_leaving = np.bincount(inverse, minlength=len(times)).astype(float)
    at_risk = len(t) - np.concatenate(([0.0], np.cumsum(n_leaving)[:-1]))
    survival = np.cumprod(1.0 - n_events / at_risk)
    return times, survival, at_risk, n_events


def weibull_aft_loglik(params: np.ndarray, X: np.ndarray, log_t: np.ndarray, e: np.ndarray) -> float:
    """Total log-likelihood of the Weibull AFT; ``params = (beta..., a)`` with ``rho = exp(a)``; X has the
    intercept column. Censored rows (e = 0) contribute log S(t) = -exp(z)."""
    beta, a = params[:-1], params[-1]
    rho = np.exp(a)
    z = rho * (log_t - X @ beta)
    return float(np.sum(e * (a + z - log_t) - np.exp(z)))


def weibull_aft_gradient(params: np.ndarray, X: np.ndarray, log_t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Gradient of :func:`weibull_aft_loglik`: d/d beta = -rho X'(e - exp z); d/da = sum(e + z (e - exp z))."""
    beta, a = params[:-1], params[-1]
    rho = np.exp(a)
    z = rho * (log_t - X @ beta)
    resid = e - np.exp(z)
    return np.concatenate((-rho * (X.T @ resid), [np.sum(e + z * resid)]))


def fit_weibull_aft(X: np.ndarray, durations: Any, events: Any, *, tol: float = 1e-10) -> dict[str, Any]:
    """Maximum-likelihood Weibull AFT; ``X`` (n, p) without intercept (one is added first).

    Returns ``{"beta": (p + 1,) with the intercept first, "log_rho": float, "log_likelihood": float}``. Durations
    must be positive (log t); start: ordinary least squares of log t on X, rho = 1.
    """
    t, e = _check_survival(durations, events)
    if (t <= 0).any():
        raise InputError("Weibull AFT durations must be positive", column="duration", expected="> 0")
    if e.sum() == 0:
        raise ModelError("no observed churn event: the Weibull model cannot be fitted on censored rows only")
    design = np.column_stack((np.ones(len(t)), np.asarray(X, dtype=float).reshape(len(t), -1)))
    log_t = np.log(t)
    start_beta, *_ = np.linalg.lstsq(design, log_t, rcond=None)
    start = np.concatenate((start_beta, [0.0]))
    result = minimize(
        lambda p: -weibull_aft_loglik(p, design, log_t, e),
        start,
        jac=lambda p: -weibull_aft_gradient(p, design, log_t, e),
        method="BFGS",
        options={"gtol": tol, "maxiter": 10_000},
    )
    if not np.all(np.isfinite(result.x)):
        raise ModelError(f"the Weibull AFT fit diverged: {result.message}")
    return {
        "beta": result.x[:-1],
        "log_rho": float(result.x[-1]),
        "log_likelihood": -float(result.fun),
        "converged": bool(result.success),
    }


def concordance_index(durations: Any, scores: Any, events: Any) -> float:
    """Harrell's C (see the module docstring); ``scores`` are predicted survival times (higher = longer).

    O(n^2) memory-bounded: rows are compared in blocks of 2,048.
    """
    t, e = _check_survival(durations, events)
    s = np.asarray(scores, dtype=float).ravel()
    if s.shape != t.shape:
        raise InputError(f"{len(t)} durations but {len(s)} scores", expected="one score per duration")
    concordant = 0.0
    comparable = 0.0
    observed = np.flatnonzero(e == 1)
    for start in range(0, len(observed), 2048):
        i = observed[start : start + 2048]
        ti, si = t[i][:, None], s[i][:, None]
        valid = (ti < t[None, :]) | ((ti == t[None, :]) & (e[None, :] == 0))
        concordant += float(np.sum(valid & (si < s[None, :])) + 0.5 * np.sum(valid & (si == s[None, :])))
        comparable += float(np.sum(valid))
    if comparable == 0:
        raise ModelError(
            "no comparable pair: the concordance index is undefined (no observed event before another time)"
        )
    return concordant / comparable


class WeibullAFTModel(BaseEstimator):
    """Weibull accelerated failure time model (see :func:`fit_weibull_aft`).

    ``fit(X, durations, events)``; ``predict_median(X)`` and ``predict_expected(X)`` give survival times in the
    duration unit; ``predict_survival(X, t)`` gives S(t | x); ``score`` is the concordance index of the median.

    Attributes: ``coef_`` (p,), ``intercept_``, ``rho_``, ``log_likelihood_``, ``n_features_in_``.
    """

    def fit(self, X: Any, durations: Any, events: Any) -> WeibullAFTModel:
        X = np.asarray(X, dtype=float)
        X = X.reshape(len(X), -1)
        fitted = fit_weibull_aft(X, durations, events)
        self.intercept_ = float(fitted["beta"][0])
        self.coef_ = fitted["beta"][1:]
        self.rho_ = float(np.exp(fitted["log_rho"]))
        self.log_likelihood_ = fitted["log_likelihood"]
        self.converged_ = fitted["converged"]
        self.n_features_in_ = X.shape[1]
        return self

    def _scale(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = np.asarray(X, dtype=float).reshape(-1, self.n_features_in_)
        return np.exp(self.intercept_ + X @ self.coef_)

    def predict_median(self, X: Any) -> np.ndarray:
        return self._scale(X) * np.log(2.0) ** (1.0 / self.rho_)

    def predict_expected(self, X: Any) -> np.ndarray:
        return self._scale(X) * gamma_fn(1.0 + 1.0 / self.rho_)

    def predict_survival(self, X: Any, t: float) -> np.ndarray:
        return np.exp(-((t / self._scale(X)) ** self.rho_))

    def score(self, X: Any, durations: Any, events: Any) -> float:
        return concordance_index(durations, self.predict_median(X), events)
