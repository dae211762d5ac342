"""Per-customer reasons: exact TreeSHAP contributions turned into short plain-language reason codes.

Contributions are LightGBM's ``predict(..., pred_contrib=True)``: the exact TreeSHAP values of Lundberg, Erion,
Chen et al. (2020), "From local explanations to global understanding with explainable AI for trees", Nature
Machine Intelligence 2, Algorithm 2. For each customer they add up, with the bias (the mean raw output), to the
booster's raw output, which is the **log-odds** of the positive class *before* calibration.

How that relates to the calibrated probability we report: the calibrator (isotonic or Platt) is a
non-decreasing map of the booster's output, so a feature that raises the log-odds never lowers the calibrated
probability, and ranking features by their log-odds contribution ranks them by how much they push the
calibrated score up or down. The contributions are not additive on the probability scale (no nonlinear map
preserves additivity), so we store them in log-odds, where they add up exactly, and say so in the column name's
documentation (``contribution`` = log-odds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import InputError, ModelError

BIAS = "bias"
REASON_COLUMNS = ("customer_id", "rank", "feature", "contribution", "reason")


def tree_contributions(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Exact TreeSHAP contributions (log-odds) of a LightGBM model, one column per feature plus ``bias``.

    ``model`` is a :class:`~patron.models.classify.CalibratedBoostingClassifier` (its uncalibrated booster is
    used), a fitted ``lightgbm.LGBMClassifier`` or a ``lightgbm.Booster``.
    """
    if not isinstance(X, pd.DataFrame):
        raise InputError(f"expected the features as a DataFrame, got {type(X).__name__}")
    if hasattr(model, "contributions"):
        values = model.contributions(X)
    elif hasattr(model, "predict"):
        try:
            values = model.predict(X, pred_contrib=True)
        except TypeError as exc:
            raise ModelError(f"{type(model).__name__} cannot give TreeSHAP contributions") from exc
    else:
        raise ModelError(f"{type(model).__name__} is not a tree model with contributions")
    values = np.asarray(values)
    if values.shape != (len(X), X.shape[1] + 1):
        raise ModelError(
            f"contributions have shape {values.shape}, expected {(len(X), X.shape[1] + 1)} (binary model)"
        )
    return pd.DataFrame(values, index=X.index, columns=[*map(str, X.columns), BIAS])


def reason_codes(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    *,
    top: int = 3,
    descriptions: Mapping[str, str] | None = None,
    outcome: str = "churn risk",
) -> pd.DataFrame:
    """The ``top`` largest contributions (by absolute value) of each customer as reason codes.

    Returns a long frame ``customer_id, rank, feature, contribution, reason`` (rank 1 = the largest), e.g.
    ``"no purchase for 142 days, usually buys every 31 (raises churn risk)"``.
    """
    if top < 1:
        raise InputError(f"top must be at least 1, got {top}")
    cols = [c for c in contributions.columns if c != BIAS]
    values = contributions[cols].to_numpy()
    k = min(top, len(cols))
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    descriptions = dict(descriptions or {})
    records = features.to_dict("records") if len(features) else []
    ids = contributions.index.astype(str)
    out_ids, out_rank, out_feature, out_contrib, out_reason = [], [], [], [], []
    for row, customer in enumerate(ids):
        context = records[row]
        for rank in range(k):
            j = order[row, rank]
            name = cols[j]
            value = float(values[row, j])
            out_ids.append(customer)
            out_rank.append(rank + 1)
            out_feature.append(name)
            out_contrib.append(value)
            direction = "raises" if value > 0 else "lowers"
            out_reason.append(f"{describe(name, context, descriptions)} ({direction} {outcome})")
    return pd.DataFrame(
        {
            "customer_id": out_ids,
            "rank": np.asarray(out_rank, dtype="int64"),
            "feature": out_feature,
            "contribution": np.asarray(out_contrib, dtype="float64"),
            "reason": out_reason,
        }
    )


def _n(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value):,.{digits}f}"
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def describe(name: str, row: Mapping[str, Any], descriptions: Mapping[str, str]) -> str:
    """A short sentence about one feature of one customer, using the rest of the row for context."""
    value = row.get(name)
    gap = row.get("gap_mean")
    if name == "gap_mean":
        return f"usually buys every {_n(gap)} days" if not _missing(gap) else "only one purchase day so far"
    if name in ("recency_days", "overdue_ratio"):
        recency = row.get("recency_days")
        if _missing(gap):
            return f"no purchase for {_n(recency)} days, and only one purchase day so far"
        return f"no purchase for {_n(recency)} days, usually buys every {_n(gap)}"
    templates = {
        "frequency": lambda v: f"{_n(v)} order(s) so far",
        "monetary": lambda v: f"spent {_n(v)} in all",
        "monetary_mean": lambda v: f"average order of {_n(v)}",
        "tenure_days": lambda v: f"customer for {_n(v)} days",
        "purchase_days": lambda v: f"bought on {_n(v)} different day(s)",
        "gap_std": lambda v: (
            f"irregular buyer (gaps vary by {_n(v)} days)"
            if not _missing(v)
            else "too few purchases to know the rhythm"
        ),
        "orders_90d": lambda v: f"{_n(v)} order(s) in the last 90 days",
        "spend_90d": lambda v: f"spent {_n(v)} in the last 90 days",
        "orders_prev_90d": lambda v: f"{_n(v)} order(s) in the 90 days before that",
        "spend_prev_90d": lambda v: f"spent {_n(v)} in the 90 days before the last 90",
        "spend_trend": lambda v: (
            f"spend went from {_n(row.get('spend_prev_90d'))} to "
            f"{_n(row.get('spend_90d'))} over the last two 90-day spells"
        ),
        "n_categories": lambda v: f"bought {_n(v)} different categories/products",
        "top_category_share": lambda v: f"{_n(100 * v if not _missing(v) else v)} % of spend in one category",
        "p_alive": lambda v: f"BTYD chance of still being active: {_n(100 * v if not _missing(v) else v)} %",
        "expected_purchases": lambda v: f"BTYD expects {_n(v, 1)} purchase(s) in the horizon",
        "btyd_frequency": lambda v: f"{_n(v)} repeat purchase day(s)",
    }
    if name in templates:
        return templates[name](value)
    label = descriptions.get(name, name.removeprefix("attr_").replace("_", " "))
    if _missing(value):
        return f"{label} unknown"
    if isinstance(value, float | np.floating):
        return f"{label} = {float(value):,.4g}"
    return f"{label} = {value}"
