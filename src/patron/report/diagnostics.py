"""Model-fit checks drawn in the report: evaluate a fitted purchase model on grids and on the store's data.

A fitted CLV purchase model follows the contract of DESIGN.md: ``expected_purchases(X, t)`` and
``probability_alive(X)`` where X has columns ``frequency, recency, T`` (in the summary's time unit).
Nothing is fitted here; these functions only ask a fitted model for predictions and line them up with what
happened, as Fader, Hardie & Lee (2005, "Counting Your Customers the Easy Way", figs. 2-4) do:

* the tracking plot: cumulative repeat transactions over calendar time, actual against the model's expectation
  for the same cohort (an unconditional expectation, E[X(t)] for a customer first seen t periods ago);
* conditional expectations: mean holdout purchases by calibration frequency, actual against predicted;
* frequency/recency matrices: expected purchases in the next period and P(alive) over a grid of (x, t_x) at T.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months"}


def _as_float_array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


def new_customer_expectation(model: Any, t: np.ndarray) -> np.ndarray:
    """E[X(t)]: expected repeat purchases in the first ``t`` periods of a customer just acquired.

    Uses ``model.expected_purchases_new_customer(t)`` when the model has it; otherwise the conditional
    expectation at x = t_x = T = 0, which for the BG/NBD and Pareto/NBD reduces to the unconditional one
    (nothing has been observed yet, so the posterior is the prior).
    """
    t = _as_float_array(t)
    direct = getattr(model, "expected_purchases_new_customer", None)
    if callable(direct):
        return _as_float_array(direct(t))
    zero = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [0.0]})
    return np.array([_as_float_array(model.expected_purchases(zero, float(v)))[0] for v in t])


@dataclass(frozen=True)
class Tracking:
    """Cumulative repeat transactions per period since the first purchase in the cohort."""

    period: np.ndarray  # 1..K
    start: pd.Timestamp
    actual: np.ndarray
    expected: np.ndarray
    calibration_end_period: float | None


def tracking(
    model: Any,
    purchase_days: pd.DataFrame,
    *,
    unit: str,
    freq_multiplier: float = 1.0,
    calibration_end: pd.Timestamp | None = None,
) -> Tracking:
    """Actual and expected cumulative repeat purchases, period by period.

    ``purchase_days`` has one row per (customer_id, day) the customer bought on (a BTYD summary counts at most
    one purchase per day at daily resolution). A customer's first day is the acquisition; later days are repeat
    purchases. Expected values sum E[X(s - b_i)] over customers i acquired at b_i < s.
    """
    days = pd.to_datetime(purchase_days["day"]).dt.normalize()
    frame = pd.DataFrame({"customer_id": purchase_days["customer_id"].to_numpy(), "day": days})
    origin = frame["day"].min()
    period_days = UNIT_DAYS[unit] * freq_multiplier
    offset = (frame["day"] - origin).dt.days.to_numpy()
    by_customer = frame.assign(offset=offset).groupby("customer_id")["offset"]
    first = by_customer.transform("min").to_numpy()
    end = int(offset.max()) + 1
    n_periods = int(np.ceil(end / period_days))
    # actual: repeat purchase days (not the first day) per period, cumulated
    repeat = offset[offset > first]
    per_period = np.bincount((repeat // period_days).astype(int), minlength=n_periods)[:n_periods]
    actual = np.cumsum(per_period).astype(float)
    # expected: customers acquired on each day, times E[X(age in periods)] at each period boundary
    births = np.bincount(by_customer.min().to_numpy().astype(int), minlength=end)
    ages_days = np.arange(1, int(n_periods * period_days) + 1, dtype=float)
    curve = np.concatenate([[0.0], new_customer_expectation(model, ages_days / period_days)])
    if not np.all(np.isfinite(curve)):
        raise ValueError("the model's expected purchases for a new customer are not finite")
    expected = np.empty(n_periods)
    birth_days = np.nonzero(births)[0]
    for k in range(n_periods):
        boundary = (k + 1) * period_days
        age = np.clip(np.floor(boundary - birth_days).astype(int), 0, len(curve) - 1)
        expected[k] = float(np.sum(births[birth_days] * curve[age]))
    cal = None
    if calibration_end is not None:
        cal = float((pd.Timestamp(calibration_end).normalize() - origin).days / period_days)
    return Tracking(np.arange(1, n_periods + 1), origin, actual, expected, cal)


def conditional_expectations(
    model: Any, calibration: pd.DataFrame, *, max_frequency: int = 7
) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency (``max_frequency`` and above pooled): actual, predicted,
    and the number of customers in each group."""
    X = pd.DataFrame(
        {
            "frequency": calibration["frequency_cal"].to_numpy(float),
            "recency": calibration["recency_cal"].to_numpy(float),
            "T": calibration["T_cal"].to_numpy(float),
        },
        index=pd.Index(calibration["customer_id"].astype(str), name="customer_id"),
    )
    duration = float(calibration["duration_holdout"].iloc[0])
    predicted = _as_float_array(model.expected_purchases(X, duration))
    group = np.minimum(calibration["frequency_cal"].to_numpy(float), max_frequency).astype(int)
    frame = pd.DataFrame(
        {"group": group, "actual": calibration["frequency_holdout"].to_numpy(float), "predicted": predicted}
    )
    out = frame.groupby("group").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    out["label"] = [f"{g}+" if g == max_frequency else str(g) for g in out.index]
    return out.reset_index(drop=True)[["label", "customers", "actual", "predicted"]]


@dataclass(frozen=True)
class Matrices:
    frequency: np.ndarray
    recency: np.ndarray
    T: float
    expected: np.ndarray  # [frequency, recency]
    alive: np.ndarray


def frequency_recency(model: Any, summary: pd.DataFrame, *, max_cells: int = 30) -> Matrices:
    """Expected purchases in the next period and P(alive) on a grid of frequency x recency at the longest T.

    Cells with recency < 1 for frequency > 0 and recency > 0 for frequency 0 cannot occur and are left blank.
    """
    T = float(summary["T"].max())
    top = float(np.quantile(summary["frequency"].to_numpy(float), 0.99)) if len(summary) else 0.0
    max_f = int(max(1, min(np.ceil(top), max_cells - 1)))
    freq = np.arange(0, max_f + 1, dtype=float)
    rec = np.linspace(0.0, T, max_cells)
    f_grid, r_grid = np.meshgrid(freq, rec, indexing="ij")
    X = pd.DataFrame({"frequency": f_grid.ravel(), "recency": r_grid.ravel(), "T": T})
    expected = _as_float_array(model.expected_purchases(X, 1.0)).reshape(f_grid.shape)
    alive = _as_float_array(model.probability_alive(X)).reshape(f_grid.shape)
    impossible = ((f_grid == 0) & (r_grid > 0)) | ((f_grid > 0) & (r_grid == 0))
    expected[impossible] = np.nan
    alive[impossible] = np.nan
    return Matrices(freq, rec, T, expected, alive)
