"""Evaluating purchase models: calibration/holdout backtests, tracking, matrices and model comparison.

The diagnostics of Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2)
(FHL below): the cumulative and weekly repeat-transaction tracking plots (FHL fig. 2 and 3), the conditional
expectations of holdout purchases by calibration frequency (FHL fig. 4), plus per-customer errors, the
frequency/recency and P(alive) matrices (as lifetimes draws them) and a model comparison (LL, AIC, BIC, holdout error).

Everything here works with any fitted purchase model that has ``expected_purchases(X, t)``,
``probability_alive(X)`` and ``params_`` (BG/NBD, MBG/NBD, Pareto/NBD and, on whole-opportunity data, BG/BB); the
tracking curve also needs ``expected_purchases_new_customer(t)``. The input frames are the stored summary tables
(``btyd_calibration``: customer_id, frequency_cal, recency_cal, T_cal, frequency_holdout, duration_holdout) and the
cleaned ``transactions`` (customer_id, timestamp). The aggregation helpers are pure pandas/numpy; the model is only
asked for predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from patron.errors import ConfigError, InputError
from patron.features._sql import time_unit as parse_time_unit
from patron.features._sql import to_timestamp

ID = "customer_id"
CALIBRATION_INPUT = ("frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout")
_RENAME = {"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"}


# ------------------------------------------------------------------------------------------------ inputs
def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} lacks column(s) {', '.join(map(repr, missing))}",
            column=missing[0],
            expected=f"columns {', '.join(columns)}",
            found=list(map(str, frame.columns)),
        )


def _with_id_index(frame: pd.DataFrame) -> pd.DataFrame:
    if ID in frame.columns:
        frame = frame.set_index(ID)
    frame = frame.copy()
    frame.index.name = ID
    return frame


def calibration_summary(calibration: pd.DataFrame) -> pd.DataFrame:
    """The calibration-period summary (frequency, recency, T) indexed by customer_id, from a ``btyd_calibration``
    frame, ready for ``model.fit``."""
    _require(calibration, CALIBRATION_INPUT[:3], "the calibration frame")
    return _with_id_index(calibration)[list(_RENAME)].rename(columns=_RENAME)


def _is_purchase_model(model: Any) -> bool:
    return all(hasattr(model, m) for m in ("expected_purchases", "probability_alive"))


# ------------------------------------------------------------------------------------------------ backtest
def holdout_predictions(model: Any, calibration: pd.DataFrame) -> pd.DataFrame:
    """Per-customer predicted vs actual holdout purchases of a model fitted on the calibration period.

    Parameters
    ----------
    model
        A fitted purchase model (fit it on :func:`calibration_summary` of the same frame).
    calibration
        A ``btyd_calibration`` frame: customer_id (column or index), frequency_cal, recency_cal, T_cal,
        frequency_holdout, duration_holdout.

    Returns
    -------
    DataFrame indexed by customer_id: frequency_cal, recency_cal, T_cal, duration_holdout, actual (holdout
    purchases), predicted (E[X(duration_holdout) | calibration history]) and error (predicted - actual).
    """
    if not _is_purchase_model(model):
        raise ConfigError(
            f"{type(model).__name__} is not a purchase model (no expected_purchases/probability_alive)"
        )
    _require(calibration, CALIBRATION_INPUT, "the calibration frame")
    frame = _with_id_index(calibration)
    X = frame[list(_RENAME)].rename(columns=_RENAME)
    duration = frame["duration_holdout"].to_numpy(dtype=float)
    bad = ~np.isfinite(duration) | (duration < 0)
    if bad.any():
        raise InputError(
            f"customer_id {frame.index[np.flatnonzero(bad)[0]]!r}: invalid holdout length",
            column="duration_holdout",
            expected="a finite duration >= 0",
        )
    predicted = np.empty(len(frame))
    # The holdout length is usually one value for everybody; predict once per distinct length.
    for value in np.unique(duration):
        rows = duration == value
        predicted[rows] = model.expected_purchases(X[rows], value).to_numpy(dtype=float)
    out = frame[["frequency_cal", "recency_cal", "T_cal", "duration_holdout"]].copy()
    out["actual"] = frame["frequency_holdout"].to_numpy(dtype=float)
    out["predicted"] = predicted
    out["error"] = out["predicted"] - out["actual"]
    return out


def holdout_metrics(predictions: pd.DataFrame) -> pd.Series:
    """Error summary of :func:`holdout_predictions`: n_customers, mae, rmse (per customer), actual_total,
    predicted_total, aggregate_error (predicted - actual total) and aggregate_error_pct (of the actual total)."""
    _require(predictions, ("actual", "predicted"), "the predictions frame")
    actual = predictions["actual"].to_numpy(dtype=float)
    pred = predictions["predicted"].to_numpy(dtype=float)
    err = pred - actual
    total_a, total_p = float(actual.sum()), float(pred.sum())
    return pd.Series(
        {
            "n_customers": float(len(actual)),
            "mae": float(np.mean(np.abs(err))) if len(err) else np.nan,
            "rmse": float(np.sqrt(np.mean(err**2))) if len(err) else np.nan,
            "actual_total": total_a,
            "predicted_total": total_p,
            "aggregate_error": total_p - total_a,
            "aggregate_error_pct": 100 * (total_p - total_a) / total_a if total_a else np.nan,
        },
        name="holdout",
    )


def conditional_expectations(predictions: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases by calibration frequency 0, 1, ..., ``max_frequency``+
    (FHL fig. 4).

    Returns a frame indexed by ``frequency_cal`` bucket labels ("0" ... "7+") with n_customers, actual, predicted.
    """
    _require(predictions, ("frequency_cal", "actual", "predicted"), "the predictions frame")
    if int(max_frequency) != max_frequency or max_frequency < 0:
        raise ConfigError(f"max_frequency must be a whole number >= 0, got {max_frequency!r}")
    top = int(max_frequency)
    freq = predictions["frequency_cal"].to_numpy(dtype=float)
    bucket = np.minimum(np.floor(freq), top).astype(int)
    labels = [str(i) for i in range(top)] + [f"{top}+"]
    grouped = (
        pd.DataFrame(
            {"bucket": bucket, "actual": predictions["actual"], "predicted": predictions["predicted"]}
        )
        .groupby("bucket")
        .agg(n_customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean"))
        .reindex(range(top + 1))
    )
    grouped["n_customers"] = grouped["n_customers"].fillna(0).astype(int)
    grouped.index = pd.Index(labels, name="frequency_cal")
    return grouped


# ------------------------------------------------------------------------------------------------ tracking
def repeat_transactions(
    transactions: pd.DataFrame,
    *,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
) -> pd.DataFrame:
    """Each customer's purchase days (a day with purchases is one transaction, as in FHL and lifetimes), with
    ``first_day`` and ``is_repeat`` (every day after the first). Columns: customer_id, day, first_day, is_repeat."""
    _require(transactions, (customer_id, timestamp), "the transactions frame")
    ts = pd.to_datetime(transactions[timestamp], errors="coerce")
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    if ts.isna().any():
        row = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise InputError(
            "timestamp is missing or not a date", row=row + 2, column=timestamp, expected="a date"
        )
    days = pd.DataFrame({ID: transactions[customer_id].to_numpy(), "day": ts.dt.floor("D").to_numpy()})
    days = days.drop_duplicates().sort_values([ID, "day"], kind="mergesort")
    days["first_day"] = days.groupby(ID)["day"].transform("min")
    days["is_repeat"] = days["day"] > days["first_day"]
    return days.reset_index(drop=True)


def tracking(
    model: Any,
    transactions: pd.DataFrame,
    *,
    calibration_end: Any,
    observation_end: Any = None,
    time_unit: str = "W",
    period: str | None = None,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
) -> pd.DataFrame:
    """Actual vs expected repeat transactions of the cohort, per period and cumulative (FHL fig. 2 and 3).

    ``time_unit`` is the model's time unit (that of the summary it was fitted on: ``"W"`` for weeks, also for
    ``freq="D", freq_multiplier=7``); ``period`` is the length of the tracking periods (default: the same).
    The cohort is every customer whose first purchase is on or before ``calibration_end``. Periods are counted
    from the cohort's first purchase day (the origin). Per period w:

    * actual: the cohort's repeat transactions (purchase days after each customer's first) in the period;
    * expected: sum over customers of E[X(e_iw)] - E[X(e_i,w-1)], where E[X(t)] is the model's
      ``expected_purchases_new_customer`` and e_iw is customer i's exposure at the end of period w: from its first
      purchase day to the last day of the period, in ``time_unit`` (the way the BTYD summary measures T), floored
      at 0.

    Returns a frame indexed by ``period`` (1, 2, ...) with period_end (the last day in the period),
    in_calibration, actual, expected, actual_cumulative, expected_cumulative.
    """
    if not hasattr(model, "expected_purchases_new_customer"):
        raise ConfigError(f"{type(model).__name__} has no expected_purchases_new_customer(t) for tracking")
    unit = parse_time_unit(time_unit)
    step = unit if period is None else parse_time_unit(period)
    days = repeat_transactions(transactions, customer_id=customer_id, timestamp=timestamp)
    cal_end = to_timestamp(calibration_end, what="calibration_end").floor("D")
    obs_end = (
        days["day"].max()
        if observation_end is None
        else to_timestamp(observation_end, what="observation_end")
    ).floor("D")
    days = days[(days["first_day"] <= cal_end) & (days["day"] <= obs_end)]
    if days.empty:
        raise InputError(
            "no customer made a first purchase on or before calibration_end",
            column=timestamp,
            expected=f"first purchases on or before {cal_end.date()}",
        )
    origin = days["first_day"].min()
    span = (obs_end - origin).days + 1  # days from the origin through the observation end
    n_periods = int(np.ceil(span / step.days - 1e-9))
    periods = np.arange(1, n_periods + 1)
    # Last whole day index in each period (the final period is cut at the observation end).
    last_day = np.minimum(np.ceil(periods * step.days - 1e-9) - 1, span - 1)

    repeat_day = (days.loc[days["is_repeat"], "day"] - origin).dt.days.to_numpy()
    period_of = np.searchsorted(last_day, repeat_day, side="left") + 1
    actual = np.bincount(period_of, minlength=n_periods + 1)[1:].astype(float)

    first = days.drop_duplicates(ID)
    start, counts = np.unique((first["first_day"] - origin).dt.days.to_numpy(), return_counts=True)
    exposure = np.maximum(last_day[None, :] - start[:, None], 0.0) / unit.days  # (first-day groups, periods)
    grid, inverse = np.unique(exposure, return_inverse=True)
    expected_new = np.asarray(model.expected_purchases_new_customer(grid), dtype=float)
    cumulative = counts @ expected_new[inverse.reshape(exposure.shape)]

    end_dates = origin + pd.to_timedelta(last_day, unit="D")
    out = pd.DataFrame(
        {
            "period_end": end_dates,
            "in_calibration": end_dates <= cal_end,
            "actual": actual,
            "expected": np.diff(cumulative, prepend=0.0),
            "actual_cumulative": np.cumsum(actual),
            "expected_cumulative": cumulative,
        },
        index=pd.Index(periods, name="period"),
    )
    out.attrs.update(
        {
            "time_unit": step.code,
            "model_time_unit": unit.code,
            "origin": origin,
            "calibration_end": cal_end,
            "cohort": len(first),
        }
    )
    return out


# ------------------------------------------------------------------------------------------------ matrices
def _grid_frame(
    model: Any, max_frequency: int, max_recency: float, T: float, n_recency: int | None
) -> pd.DataFrame:
    if int(max_frequency) != max_frequency or max_frequency < 0:
        raise ConfigError(f"max_frequency must be a whole number >= 0, got {max_frequency!r}")
    if not np.isfinite(T) or T <= 0 or not 0 < max_recency <= T:
        raise ConfigError(f"need 0 < max_recency <= T, got max_recency={max_recency!r}, T={T!r}")
    recency = (
        np.arange(0, int(max_recency) + 1, dtype=float)
        if n_recency is None
        else np.linspace(0.0, float(max_recency), int(n_recency))
    )
    f, r = np.meshgrid(np.arange(int(max_frequency) + 1, dtype=float), recency, indexing="ij")
    grid = pd.DataFrame({"frequency": f.ravel(), "recency": r.ravel(), "T": float(T)})
    # Cells no customer can have: repeat purchases with recency 0, no repeat purchase with recency > 0, and (for
    # discrete opportunities) more repeat purchases than the recency allows are blanked, not predicted.
    ok = (grid["frequency"] > 0) == (grid["recency"] > 0)
    if n_recency is None:
        ok &= grid["frequency"] <= grid["recency"]
    grid["valid"] = ok
    return grid


def _matrix(grid: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
    full = np.full(len(grid), np.nan)
    full[grid["valid"].to_numpy()] = values
    mat = pd.DataFrame({"frequency": grid["frequency"], "recency": grid["recency"], "v": full}).pivot(
        index="frequency", columns="recency", values="v"
    )
    mat.index = mat.index.astype(int)
    return mat


def frequency_recency_matrix(
    model: Any,
    *,
    T: float,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    t: float = 1,
    n_recency: int | None = None,
) -> pd.DataFrame:
    """Expected purchases in the next ``t`` time units for a customer with each (frequency, recency) and the given
    ``T``: rows frequency 0..max_frequency, columns recency (whole units 0..max_recency, or ``n_recency`` evenly
    spaced points). Impossible cells are NaN. Defaults: max_frequency = T (rounded), max_recency = T."""
    max_recency = float(T) if max_recency is None else float(max_recency)
    max_frequency = int(np.rint(float(T))) if max_frequency is None else max_frequency
    grid = _grid_frame(model, max_frequency, max_recency, float(T), n_recency)
    valid = grid.loc[grid["valid"], ["frequency", "recency", "T"]].reset_index(drop=True)
    values = model.expected_purchases(valid, t).to_numpy(dtype=float)
    return _matrix(grid, values)


def probability_alive_matrix(
    model: Any,
    *,
    T: float,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    n_recency: int | None = None,
) -> pd.DataFrame:
    """P(alive) for a customer with each (frequency, recency) and the given ``T``; layout as
    :func:`frequency_recency_matrix`."""
    max_recency = float(T) if max_recency is None else float(max_recency)
    max_frequency = int(np.rint(float(T))) if max_frequency is None else max_frequency
    grid = _grid_frame(model, max_frequency, max_recency, float(T), n_recency)
    valid = grid.loc[grid["valid"], ["frequency", "recency", "T"]].reset_index(drop=True)
    values = model.probability_alive(valid).to_numpy(dtype=float)
    return _matrix(grid, values)


# ------------------------------------------------------------------------------------------------ comparison
CRITERIA = ("holdout_mae", "holdout_rmse", "bic", "aic")


def compare_models(
    models: Mapping[str, Any] | Sequence[Any],
    calibration_frame: pd.DataFrame,
    *,
    criterion: str = "holdout_mae",
) -> pd.DataFrame:
    """Fit each model on the calibration period and compare fit and holdout accuracy.

    Parameters
    ----------
    models
        Unfitted (or fitted: they are cloned) purchase models, as a mapping name -> model or a list (named by
        class). Log-likelihoods, AIC and BIC are comparable only between models of the same data (continuous-time
        models with each other; BG/BB sees whole opportunities).
    calibration_frame
        A ``btyd_calibration`` frame (see :func:`holdout_predictions`).
    criterion
        How the winner is chosen: ``holdout_mae`` (default: the predictive test), ``holdout_rmse``, ``bic`` or
        ``aic``; lowest wins.

    Returns
    -------
    DataFrame indexed by ``model`` (sorted best first): log_likelihood, n_params, aic, bic, holdout_mae,
    holdout_rmse, aggregate_error_pct, converged, winner (True on one row). ``attrs["winner"]`` names it.
    """
    if criterion not in CRITERIA:
        raise ConfigError(f"unknown criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")
    named = dict(models) if isinstance(models, Mapping) else {type(m).__name__: m for m in models}
    if not named or (not isinstance(models, Mapping) and len(named) != len(models)):
        raise ConfigError("compare_models needs one or more models with distinct names (pass a mapping)")
    X = calibration_summary(calibration_frame)
    rows = []
    for name, template in named.items():
        if not _is_purchase_model(template):
            raise ConfigError(f"{name}: {type(template).__name__} is not a purchase model")
        model = clone(template).fit(X)
        metrics = holdout_metrics(holdout_predictions(model, calibration_frame))
        k = len(model.params_)
        ll = float(model.log_likelihood_)
        n = float(getattr(model, "n_customers_", len(X)))
        rows.append(
            {
                "model": name,
                "log_likelihood": ll,
                "n_params": k,
                "aic": float(getattr(model, "aic_", 2 * k - 2 * ll)),
                "bic": float(getattr(model, "bic_", np.log(n) * k - 2 * ll)),
                "holdout_mae": metrics["mae"],
                "holdout_rmse": metrics["rmse"],
                "aggregate_error_pct": metrics["aggregate_error_pct"],
                "converged": bool(getattr(model, "converged_", True)),
            }
        )
    table = pd.DataFrame(rows).set_index("model").sort_values(criterion, kind="mergesort")
    table["winner"] = False
    table.iloc[0, table.columns.get_loc("winner")] = True
    table.attrs["winner"] = str(table.index[0])
    table.attrs["criterion"] = criterion
    return table
