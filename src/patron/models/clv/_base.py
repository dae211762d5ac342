"""The estimator contract shared by every CLV model (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB, sBG, Gamma-Gamma).

A model subclass declares its data columns, its parameters, which parameter covariates act on (a log-linear link on a
scale parameter), starting points, and a pure per-customer log-likelihood with its analytic gradient. This base class
does the rest the same way for all of them:

* input validation (non-finite values, negative counts, recency > T ... named by column and first customer_id);
* compression of identical rows (``np.unique`` over the data and covariate columns; counts times ``sample_weight``
  become weights), so weekly-rounded data with millions of customers fits in the time of a few thousand rows;
* maximum likelihood in the log-parameter space (covariate coefficients are unbounded and left as they are) with
  ``scipy.optimize.minimize`` (L-BFGS-B, exact gradients), restarting from other points if a start fails;
* ``summary_``: standard errors from the observed information (the Hessian of the negative log-likelihood in the fitted
  parametrisation, by central differences of the analytic gradient), mapped back by the delta method;
* prediction intervals: parameter draws from the asymptotic normal distribution in the fitted parametrisation, the
  prediction evaluated per draw, and per-customer quantiles.

Subclass contract (class attributes and methods):

``_data_columns``
    Names of the summary columns the model reads (e.g. ``("frequency", "recency", "T")``).
``_param_names``
    Names of the population parameters, all strictly positive (e.g. ``("r", "alpha", "a", "b")``).
``_linked_param``
    The parameter covariates scale (``param_i = param * exp(z_i @ coef)``), or ``None`` if the model takes none.
``_loglik_grad(params, data)``
    ``params`` maps each name to a float or a per-row array (the linked one is per-row with covariates); ``data`` maps
    each data column to a float array. Returns ``(ll, grads)``: per-row log-likelihood and a dict of per-row partial
    derivatives with respect to each parameter (natural scale).
``_start_points(data, weights)``
    A list of starting vectors (natural scale, in ``_param_names`` order); the first is tried first.
``_check_data(data, ids)``
    Model-specific validity checks; raise :class:`~patron.errors.InputError` (use :func:`first_bad`).
``_select_rows(frame)``
    Optional: rows of the input the model is fitted on (Gamma-Gamma keeps repeat customers); default all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype
from scipy import optimize
from sklearn.base import BaseEstimator

from patron.errors import InputError, ModelError

ID_COLUMN = "customer_id"
_Z95 = 1.959963984540054
# Bounds of the log-parameters: exp(+-30) covers any scale a purchase-rate model meets (1e-13 .. 1e13) and keeps
# every exp() finite while the optimiser explores.
_LOG_BOUND = 30.0
_COEF_BOUND = 50.0
_COARSE_MIN_ROWS = 60_000
_COARSE_STEPS = 100


def by_value(x: np.ndarray, fn: Callable[[np.ndarray], Any]) -> Any:
    """``fn(x)`` computed once per distinct value of ``x`` when x is sorted (as compressed data is, by frequency),
    then repeated: special functions of the purchase count cost O(distinct counts), not O(customers)."""
    x = np.asarray(x)
    n = x.shape[0] if x.ndim else 0
    if n < 64 or not np.all(x[1:] >= x[:-1]):
        return fn(x)
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    counts = np.diff(np.append(starts, n))
    out = fn(x[starts])
    if isinstance(out, tuple):
        return tuple(np.repeat(o, counts) for o in out)
    return np.repeat(out, counts)


def first_bad(mask: np.ndarray, ids: np.ndarray) -> Any:
    """The customer_id of the first row where ``mask`` is true."""
    return ids[int(np.flatnonzero(mask)[0])]


def reject(mask: np.ndarray, ids: np.ndarray, column: str, expected: str, values: np.ndarray) -> None:
    """Raise InputError naming ``column`` and the first offending customer_id if any ``mask`` row is true."""
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise InputError(
            f"customer_id {ids[i]!r}: invalid {column} ({int(mask.sum()):,} rows)",
            column=column,
            expected=expected,
            found=values[i].item() if hasattr(values[i], "item") else values[i],
        )


def check_btyd(data: Mapping[str, np.ndarray], ids: np.ndarray) -> None:
    """The checks every (frequency, recency, T) summary must pass.

    Rejected: negative frequency, recency < 0, T < 0, recency > T, and frequency > 0 with T == 0 (a repeat purchase
    needs time after the first). T == 0 with frequency == 0 is valid: a customer first seen on the last day.
    """
    x, t_x, T = data["frequency"], data["recency"], data["T"]
    reject(x < 0, ids, "frequency", "a count >= 0", x)
    reject(t_x < 0, ids, "recency", "recency >= 0", t_x)
    reject(T < 0, ids, "T", "T >= 0 (time since the first purchase)", T)
    reject(t_x > T * (1 + 1e-12) + 1e-12, ids, "recency", "recency <= T", t_x)
    reject((x > 0) & (T == 0), ids, "T", "T > 0 for a customer with repeat purchases", T)
    reject((x == 0) & (t_x != 0), ids, "recency", "recency 0 for a customer with frequency 0", t_x)


def summary_ids(X: pd.DataFrame) -> np.ndarray:
    """customer ids of a summary frame: the ``customer_id`` column, else the index."""
    if ID_COLUMN in X.columns:
        return X[ID_COLUMN].to_numpy()
    return X.index.to_numpy()


def id_index(X: pd.DataFrame) -> pd.Index:
    """The pandas index of results: customer_id values, named ``customer_id``."""
    return pd.Index(summary_ids(X), name=ID_COLUMN)


class CLVModel(BaseEstimator):
    """Base class of the CLV estimators (see the module docstring for the subclass contract).

    Parameters
    ----------
    covariates
        Names of numeric, time-invariant columns of X that scale ``_linked_param`` log-linearly:
        ``param_i = param * exp(sum_k coef_k * z_ik)``. Their coefficients appear in ``params_`` as
        ``"<param>[<column>]"``. Centre them if you want ``params_[<param>]`` to be the value of a typical customer.
    """

    _data_columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    _param_names: ClassVar[tuple[str, ...]] = ()
    _linked_param: ClassVar[str | None] = None
    _coarse_columns: ClassVar[tuple[str, ...]] = ()
    # True when the prediction numerics accept per-row parameter arrays: intervals then evaluate many parameter
    # draws in one call (draws x customers flattened) instead of one call per draw.
    _batched_draws: ClassVar[bool] = False

    def __init__(self, covariates: Sequence[str] | None = None) -> None:
        self.covariates = covariates

    # ---------------------------------------------------------------- subclass hooks
    def _loglik_grad(
        self, params: Mapping[str, Any], data: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        raise NotImplementedError

    def _start_points(self, data: Mapping[str, np.ndarray], weights: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def _check_data(self, data: Mapping[str, np.ndarray], ids: np.ndarray) -> None:
        check_btyd(data, ids)

    def _select_rows(self, X: pd.DataFrame) -> pd.DataFrame:
        return X

    # ---------------------------------------------------------------- input
    def _covariate_names(self) -> list[str]:
        if not self.covariates:
            return []
        if self._linked_param is None:
            raise ModelError(f"{type(self).__name__} takes no covariates")
        if isinstance(self.covariates, str):
            return [self.covariates]
        return list(self.covariates)

    def _extract(self, X: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Validated data columns (float arrays), covariate matrix (n, k) and customer ids of ``X``."""
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        covs = self._covariate_names()
        missing = [c for c in (*self._data_columns, *covs) if c not in X.columns]
        if missing:
            raise InputError(
                f"{type(self).__name__} needs column(s) {', '.join(map(repr, missing))}",
                expected=f"columns {', '.join(self._data_columns + tuple(covs))}",
                found=list(map(str, X.columns)),
            )
        ids = summary_ids(X)
        data: dict[str, np.ndarray] = {}
        for c in (*self._data_columns, *covs):
            column = X[c]
            try:
                # Numeric columns as they are (to_numeric would return them unchanged, at ~50 us per column,
                # which counts when a request scores one customer); anything else parsed by to_numeric.
                if not is_numeric_dtype(column.dtype):
                    column = pd.to_numeric(column, errors="raise")
                v = column.to_numpy(dtype=float, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise InputError("values must be numeric", column=c, expected="numbers") from exc
            reject(~np.isfinite(v), ids, c, "a finite number", v)
            data[c] = v
        Z = np.column_stack([data.pop(c) for c in covs]) if covs else np.empty((len(ids), 0))
        self._check_data(data, ids)
        return data, Z, ids

    # ---------------------------------------------------------------- parameters
    def _theta_names(self, covs: Sequence[str]) -> list[str]:
        return [*self._param_names, *(f"{self._linked_param}[{c}]" for c in covs)]

    def _natural(self, theta: np.ndarray, Z: np.ndarray) -> dict[str, Any]:
        """Natural-scale parameters for rows with covariates Z (the linked one per row if there are covariates)."""
        k = len(self._param_names)
        params: dict[str, Any] = {
            n: float(np.exp(v)) for n, v in zip(self._param_names, theta[:k], strict=True)
        }
        if Z.shape[1]:
            params[self._linked_param] = params[self._linked_param] * np.exp(Z @ theta[k:])  # type: ignore[index]
        return params

    def _neg_ll(
        self, theta: np.ndarray, data: Mapping[str, np.ndarray], Z: np.ndarray, w: np.ndarray, scale: float
    ):
        """Negative total log-likelihood / scale and its gradient with respect to theta (chain rule through exp)."""
        params = self._natural(theta, Z)
        with np.errstate(all="ignore"):
            ll, grads = self._loglik_grad(params, data)
            # Weighted sums by einsum, not `@`: a 1-D `@` goes to BLAS, whose idle threads spin and steal the
            # second core on a shared machine (fits ran 1.5-7x slower in wall time under load).
            value = -float(np.einsum("i,i->", w, ll)) / scale
            g = np.empty_like(theta)
            for j, name in enumerate(self._param_names):
                gj = grads[name] * params[name]  # d/d log(param)
                g[j] = -float(np.einsum("i,i->", w, np.broadcast_to(gj, w.shape))) / scale
                if name == self._linked_param and Z.shape[1]:
                    g[len(self._param_names) :] = -(w * gj) @ Z / scale
        if not np.isfinite(value) or not np.all(np.isfinite(g)):
            return np.inf, np.zeros_like(theta)
        return value, g

    # ---------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, *, sample_weight: Any = None) -> CLVModel:
        """Fit by maximum likelihood.

        Parameters
        ----------
        X
            A summary frame with the model's columns (``frequency, recency, T`` for the purchase models), one row per
            customer, customer_id as index or column.
        y
            Ignored (scikit-learn convention).
        sample_weight
            Optional non-negative weight per row (e.g. the count of customers a row stands for).
        """
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        keep = self._select_rows(X)
        data, Z, ids = self._extract(keep)
        n = len(ids)
        if n == 0:
            raise InputError(f"{type(self).__name__} got no rows to fit", expected="at least one customer")
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if sample_weight is not None:
            if len(sw) == len(X) and len(keep) != len(X):
                sw = sw[X.index.get_indexer(keep.index)] if X.index.is_unique else sw[: len(keep)]
            if sw.shape != (n,):
                raise InputError(
                    "sample_weight must have one value per row", expected=f"length {n}", found=len(sw)
                )
            reject(~np.isfinite(sw) | (sw < 0), ids, "sample_weight", "a finite weight >= 0", sw)
        cdata, cZ, w = compress(data, Z, sw)
        self.n_customers_ = int(n)
        self.n_unique_rows_ = len(w)
        covs = self._covariate_names()
        names = self._theta_names(covs)
        scale = max(float(w.sum()), 1.0)

        def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
            return self._neg_ll(theta, cdata, cZ, w, scale)

        k = len(self._param_names)
        big = len(w) > _COARSE_MIN_ROWS and bool(self._coarse_columns)
        if big:
            # Coarse-to-fine: fit the data with its continuous times rounded to a grid (few unique rows, cheap), then
            # polish on the exact data with Newton steps that reuse the coarse Hessian (it differs by well under 1%,
            # so each step gains ~2 digits): a handful of full-data gradients instead of dozens.
            rdata, rZ, rw = compress(self._coarsen(cdata), cZ, w)
            big = len(rw) * 4 <= len(w)  # only worth it if the grid shrinks the data well
        if big:
            best = self._optimise(lambda th: self._neg_ll(th, rdata, rZ, rw, scale), len(covs), rdata, rw)
            H = _hessian(lambda th: self._neg_ll(th, rdata, rZ, rw, scale), best.x)
            # Stop once the next step would raise the log-likelihood by less than 1e-7 in total.
            best = _newton_polish(fun, best, H, decrease_tol=1e-7 / scale)
        else:
            best = self._optimise(fun, len(covs), cdata, w)
        theta = best.x
        self.theta_ = theta
        # L-BFGS-B often stops with "ABNORMAL" line-search exits at the optimum when the tolerance is tight, so a
        # fit also counts as converged when its gradient (per customer, in the log parameters) is below 1e-5.
        grad = np.asarray(best["jac"] if "jac" in best else fun(theta)[1], dtype=float)
        stationary = bool(np.all(np.isfinite(grad)) and np.max(np.abs(grad)) < 1e-5)
        self.converged_ = (bool(best.success) or stationary) and bool(
            np.max(np.abs(theta[:k])) < _LOG_BOUND - 1e-6
        )
        # Parameters that ran off towards 0 or infinity: the data support a limiting model (e.g. a and b -> inf in
        # BG/NBD: the same dropout probability for everyone); their standard errors are not meaningful.
        self.at_boundary_ = [n for n, v in zip(self._param_names, theta[:k], strict=True) if abs(v) > 12]
        self.n_starts_tried_ = best.get("n_starts", 1)
        self.log_likelihood_ = -float(best.fun) * scale
        H = _hessian(fun, theta, forward=big, g0=best.get("jac") if big else None) * scale
        self.theta_cov_ = _inverse(H)
        # For prediction intervals when the information is singular (an unidentified covariate level): the
        # pseudo-inverse over the identified directions (summary_ still shows NaN standard errors there).
        self.draw_cov_ = self.theta_cov_ if np.all(np.isfinite(self.theta_cov_)) else _pseudo_inverse(H)
        self.params_ = pd.Series(
            np.concatenate([np.exp(theta[:k]), theta[k:]]),
            index=pd.Index(names, name="parameter"),
            name="estimate",
        )
        self.summary_ = self._summary_frame(names, theta, self.theta_cov_)
        self.n_params_ = len(theta)
        self.aic_ = 2 * self.n_params_ - 2 * self.log_likelihood_
        self.bic_ = np.log(max(scale, 1.0)) * self.n_params_ - 2 * self.log_likelihood_
        self.covariates_ = covs
        return self

    def _optimise(
        self, fun, n_cov: int, data: Mapping[str, np.ndarray], w: np.ndarray
    ) -> optimize.OptimizeResult:
        """L-BFGS-B from the model's starting points in turn, until one converges inside the bounds (best kept)."""
        k = len(self._param_names)
        bounds = [(-_LOG_BOUND, _LOG_BOUND)] * k + [(-_COEF_BOUND, _COEF_BOUND)] * n_cov
        best: optimize.OptimizeResult | None = None
        tried = 0
        for start in self._start_points(data, w):
            x0 = np.concatenate([np.log(np.asarray(start, dtype=float)), np.zeros(n_cov)])
            if not np.isfinite(fun(x0)[0]):
                continue
            tried += 1
            res = optimize.minimize(
                fun,
                x0,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 5000, "ftol": 1e-13, "gtol": 1e-9, "maxcor": 20},
            )
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun - 1e-12):
                best = res
            if res.success and np.isfinite(res.fun) and np.max(np.abs(res.x[:k])) < _LOG_BOUND - 1e-6:
                break
        if best is None:
            raise ModelError(f"{type(self).__name__}: the log-likelihood is not finite at any starting point")
        best["n_starts"] = tried
        return best

    def _coarsen(self, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The data with the ``_coarse_columns`` rounded to a common grid of ``_COARSE_STEPS`` steps over their range
        (monotone rounding keeps recency <= T)."""
        out = dict(data)
        top = max(float(np.max(data[c])) for c in self._coarse_columns)
        step = top / _COARSE_STEPS if top > 0 else 1.0
        for c in self._coarse_columns:
            out[c] = np.round(data[c] / step) * step
        return out

    def _summary_frame(self, names: list[str], theta: np.ndarray, cov: np.ndarray) -> pd.DataFrame:
        k = len(self._param_names)
        se_theta = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), np.nan))
        est = np.concatenate([np.exp(theta[:k]), theta[k:]])
        # Delta method: se(exp(u)) = exp(u) se(u); the 95% interval is exp() of the log-scale interval (it stays > 0).
        se = np.concatenate([est[:k] * se_theta[:k], se_theta[k:]])
        lo_t, hi_t = theta - _Z95 * se_theta, theta + _Z95 * se_theta
        lo = np.concatenate([np.exp(lo_t[:k]), lo_t[k:]])
        with np.errstate(over="ignore"):
            hi = np.concatenate([np.exp(hi_t[:k]), hi_t[k:]])
        return pd.DataFrame(
            {"estimate": est, "se": se, "lower_95": lo, "upper_95": hi},
            index=pd.Index(names, name="parameter"),
        )

    # ---------------------------------------------------------------- log-likelihood and prediction helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "theta_"):
            raise ModelError(f"{type(self).__name__} is not fitted: call fit() first")

    def individual_log_likelihood(self, X: Any) -> pd.Series:
        """Per-customer log-likelihood at the fitted parameters."""
        self._check_fitted()
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        data, Z, _ids = self._extract(X)
        with np.errstate(all="ignore"):
            ll, _ = self._loglik_grad(self._natural(self.theta_, Z), data)
        return pd.Series(ll, index=id_index(X), name="log_likelihood")

    def _predict(
        self,
        name: str,
        func: Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], np.ndarray],
        X: Any,
        level: Sequence[float] | None,
        *,
        n_draws: int = 500,
        random_state: int | np.random.Generator | None = 0,
    ) -> pd.Series | pd.DataFrame:
        """Evaluate ``func(params, data)`` for each customer of X; with ``level`` add sampled intervals."""
        self._check_fitted()
        X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        data, Z, _ids = self._extract(X)
        index = id_index(X)
        with np.errstate(all="ignore"):
            point = np.asarray(func(self._natural(self.theta_, Z), data), dtype=float)
        point = np.broadcast_to(point, (len(index),)).copy()
        if not level:
            return pd.Series(point, index=index, name=name)
        draws = self.parameter_draws(n_draws, random_state)
        if self._batched_draws:

            def evaluate(thetas: np.ndarray, sl: slice) -> np.ndarray:
                m = sl.stop - sl.start
                rows = _tile(_rows(data, sl), len(thetas))
                out = func(self._batch_params(thetas, Z[sl]), rows)
                return np.broadcast_to(np.asarray(out, dtype=float), (len(thetas) * m,)).reshape(
                    len(thetas), m
                )

        else:

            def evaluate(thetas: np.ndarray, sl: slice) -> np.ndarray:
                m = sl.stop - sl.start
                return np.stack(
                    [
                        np.broadcast_to(
                            np.asarray(func(self._natural(th, Z[sl]), _rows(data, sl)), float), (m,)
                        )
                        for th in thetas
                    ]
                )

        return _interval_frame(name, point, index, level, evaluate, draws)

    def _batch_params(self, thetas: np.ndarray, Z: np.ndarray) -> dict[str, np.ndarray]:
        """Natural-scale parameters for every (draw, row) pair, flattened draw-major: each of the ``len(thetas)``
        draws repeated over the ``len(Z)`` rows (the linked parameter times each row's covariate effect)."""
        k = len(self._param_names)
        m = Z.shape[0]
        params = {n: np.repeat(np.exp(thetas[:, j]), m) for j, n in enumerate(self._param_names)}
        if Z.shape[1]:
            params[self._linked_param] = params[self._linked_param] * np.exp(Z @ thetas[:, k:].T).T.ravel()  # type: ignore[index]
        return params

    def parameter_draws(
        self, n_draws: int = 500, random_state: int | np.random.Generator | None = 0
    ) -> np.ndarray:
        """Draws of the fitted parameter vector (log-parameters, then coefficients) from its asymptotic normal."""
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        cov = self.theta_cov_
        if not np.all(np.isfinite(cov)):
            cov = getattr(self, "draw_cov_", None)
            if cov is None or not np.all(np.isfinite(cov)):
                cov = np.zeros_like(self.theta_cov_)
        return rng.multivariate_normal(self.theta_, cov, size=n_draws, method="eigh")


def _rows(data: Mapping[str, np.ndarray], sl: slice) -> dict[str, np.ndarray]:
    return {k: v[sl] for k, v in data.items()}


def _tile(data: Mapping[str, np.ndarray], times: int) -> dict[str, np.ndarray]:
    return {k: np.tile(v, times) for k, v in data.items()}


def _quantiles(vals: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """``np.nanquantile(vals, qs, axis=0)`` (linear interpolation). Columns without NaN, nearly always all of them,
    are sorted once and interpolated directly: nanquantile loops over columns in Python and took most of an
    interval computation on 100k customers."""
    nan_cols = np.isnan(vals).any(axis=0)
    out = np.empty((len(qs), vals.shape[1]))
    if nan_cols.any():
        out[:, nan_cols] = np.nanquantile(vals[:, nan_cols], qs, axis=0)
    ok = ~nan_cols
    if ok.any():
        srt = np.sort(vals[:, ok] if nan_cols.any() else vals, axis=0)
        pos = np.asarray(qs) * (srt.shape[0] - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, srt.shape[0] - 1)
        frac = (pos - lo)[:, None]
        out[:, ok] = srt[lo] + frac * (srt[hi] - srt[lo])
    return out


def _interval_frame(
    name: str,
    point: np.ndarray,
    index: pd.Index,
    level: Sequence[float],
    evaluate: Callable[[np.ndarray, slice], np.ndarray],
    draws: np.ndarray,
) -> pd.DataFrame:
    """Point estimates plus per-customer quantile intervals over parameter draws.

    ``evaluate(draws[i:j], rows)`` returns the prediction for each of those draws and each customer of the slice
    ``rows``, an array (j - i, len(rows)). Customers are processed in chunks so the (draws x customers) matrix
    stays below ~160 MB, and draws in batches of about 200k (draw, customer) pairs per call.
    """
    n = len(index)
    levels = [float(lv) for lv in level]
    for lv in levels:
        if not 0 < lv < 100:
            raise InputError(
                "a prediction level must be a percentage",
                column="level",
                expected="0 < level < 100",
                found=lv,
            )
    qs = sorted({q for lv in levels for q in ((50 - lv / 2) / 100, (50 + lv / 2) / 100)})
    out = np.empty((len(qs), n))
    chunk = max(1, 20_000_000 // max(len(draws), 1))
    with np.errstate(all="ignore"):
        for start in range(0, n, chunk):
            sl = slice(start, min(n, start + chunk))
            m = sl.stop - sl.start
            vals = np.empty((len(draws), m))
            batch = max(1, 200_000 // m)
            for d in range(0, len(draws), batch):
                vals[d : d + batch] = evaluate(draws[d : d + batch], sl)
            out[:, sl] = _quantiles(vals, qs)
    frame = pd.DataFrame({name: point}, index=index)
    for lv in levels:
        tag = f"{lv:g}"
        frame[f"{name}-lo-{tag}"] = out[qs.index((50 - lv / 2) / 100)]
        frame[f"{name}-hi-{tag}"] = out[qs.index((50 + lv / 2) / 100)]
    return frame


def compress(
    data: Mapping[str, np.ndarray], Z: np.ndarray, sample_weight: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Collapse identical rows (data columns and covariates) into one row weighted by the summed sample weight.

    The output is sorted by the first data column (frequency for the purchase models); rows of total weight 0 are
    dropped. Each column is first coded by a 1-D ``np.unique``, and the codes are combined into one integer key
    (about 20x faster than ``np.unique(axis=0)``, which sorts rows as opaque byte strings). When the key space is
    small (weekly or grid-rounded times) the keys are counted with ``np.bincount`` instead of sorted.

    When a column is nearly all distinct values (continuous-time data), merging cannot save more than a few rows,
    so the rows are only sorted by the first column: this skips four sorts of the whole data.
    """
    cols = list(data)
    M = np.column_stack([*(data[c] for c in cols), Z]) if len(cols) or Z.shape[1] else np.empty((0, 0))
    if len(M) == 0:
        return dict(data), Z, sample_weight
    n = len(M)
    if n > 10_000 and cols and pd.Series(data[cols[-1]]).nunique() > 0.9 * n:
        order = np.argsort(data[cols[0]], kind="stable")
        order = order[sample_weight[order] > 0]
        out = {c: data[c][order] for c in cols}
        return out, np.ascontiguousarray(Z[order]), sample_weight[order]
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    coded: list[tuple[int, np.ndarray, int]] = []  # (column, distinct values, radix of its digit)
    for j in range(M.shape[1] - 1, -1, -1):  # last column least significant, so the first column sorts first
        values, codes = np.unique(M[:, j], return_inverse=True)
        if radix > (2**62) // max(len(values), 1):
            break
        key += codes.ravel().astype(np.int64) * radix
        coded.append((j, values, radix))
        radix *= len(values)
    else:
        if radix <= 4 * n:
            # Dense key space: count instead of sort. Keys come out ascending, as np.unique would give them.
            total = np.bincount(key, weights=sample_weight, minlength=radix)
            ukey = np.flatnonzero(total > 0)
            w = total[ukey]
            uniq = np.empty((len(ukey), M.shape[1]))
            for j, values, rad in coded:
                uniq[:, j] = values[(ukey // rad) % len(values)]
        else:
            ukey, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            uniq = M[first]
            w = np.bincount(inverse.ravel(), weights=sample_weight, minlength=len(ukey))
            keep = w > 0
            uniq, w = uniq[keep], w[keep]
        out = {c: np.ascontiguousarray(uniq[:, j]) for j, c in enumerate(cols)}
        return out, np.ascontiguousarray(uniq[:, len(cols) :]), w
    # Too many distinct combinations for one int64 key: fall back to sorting whole rows.
    uniq, inverse = np.unique(M, axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=sample_weight, minlength=len(uniq))
    keep = w > 0
    uniq, w = uniq[keep], w[keep]
    out = {c: np.ascontiguousarray(uniq[:, j]) for j, c in enumerate(cols)}
    return out, np.ascontiguousarray(uniq[:, len(cols) :]), w


def _hessian(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    *,
    forward: bool = False,
    g0: np.ndarray | None = None,
) -> np.ndarray:
    """Hessian of ``fun`` by differences of its analytic gradient (central, or forward to halve the cost on big
    data; ``g0``, the gradient at theta, saves one evaluation), symmetrised."""
    k = len(theta)
    H = np.empty((k, k))
    if forward and g0 is None:
        g0 = fun(theta)[1]
    for j in range(k):
        h = (1e-6 if forward else 1e-5) * max(1.0, abs(theta[j]))
        e = np.zeros(k)
        e[j] = h
        if forward:
            H[:, j] = (fun(theta + e)[1] - g0) / h
        else:
            H[:, j] = (fun(theta + e)[1] - fun(theta - e)[1]) / (2 * h)
    return 0.5 * (H + H.T)


def _inverse(H: np.ndarray) -> np.ndarray:
    """Inverse of the observed information; NaN where it is not positive definite (an ill-determined fit)."""
    try:
        np.linalg.cholesky(H)
        return np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.full(H.shape, np.nan)


def _pseudo_inverse(H: np.ndarray) -> np.ndarray:
    """Inverse over the eigen-directions the data identify (curvature > 1, i.e. a standard deviation below 1 on
    the log scale); zero variance along the others (e.g. a dropout rate at the edge of the parameter space)."""
    if not np.all(np.isfinite(H)):
        return np.zeros(H.shape)
    vals, vecs = np.linalg.eigh(H)
    keep = vals > 1.0
    inv = np.where(keep, 1.0 / np.where(keep, vals, 1.0), 0.0)
    return (vecs * inv) @ vecs.T


def _newton_polish(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    start: optimize.OptimizeResult,
    H: np.ndarray,
    *,
    decrease_tol: float = 0.0,
) -> optimize.OptimizeResult:
    """Newton iterations on ``fun`` with a fixed Hessian ``H`` (from nearby data), halving steps that do not
    decrease ``fun``. Stops when the step is below 1e-9 in every coordinate, or when the decrease the next step
    promises, ``g' H^-1 g / 2``, is below ``decrease_tol`` (the optimum is then reached to that precision in the
    value: further steps only chase rounding). The result carries the gradient at ``x`` as ``jac``."""
    theta = start.x.copy()
    f, g = fun(theta)
    try:
        Hinv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        Hinv = np.eye(len(theta))
    ok = False
    for _ in range(20):
        step = -Hinv @ g
        if -0.5 * float(g @ step) < decrease_tol and np.all(np.isfinite(step)):
            ok = True
            break
        t = 1.0
        while t > 1e-4:
            f_new, g_new = fun(theta + t * step)
            if f_new <= f + 1e-15 * abs(f):
                break
            t /= 2
        else:
            break
        theta, f, g = theta + t * step, f_new, g_new
        if np.max(np.abs(t * step)) < 1e-9:
            ok = True
            break
    return optimize.OptimizeResult(
        x=theta,
        fun=f,
        jac=g,
        success=ok and bool(start.success),
        n_starts=start.get("n_starts", 1),
        nit=start.nit,
    )
