"""Churn and future-value features and labels from transactions, with a cutoff and no leakage.

Everything is relative to a **cutoff** ``C`` (a timestamp):

* **features** use only transactions strictly before ``C`` (``timestamp < C``); nothing at or after ``C`` can
  reach them (a test alters every later row and checks the features do not move);
* **labels** use only the window ``C <= timestamp < C + horizon_days``: ``churn`` = 1 when the customer (who
  bought before ``C``) makes no purchase in the window; ``high_value`` = 1 when the customer's spend in the window
  is in the top ``high_value_share`` of all customers' window spend (and positive).

Features per customer (one row per customer with at least one purchase before ``C``; all SQL, written once in
DuckDB's dialect and transpiled by SQLGlot like the other builders of :mod:`patron.features`):

==========================  ===================================================================================
``recency_days``            days from the last purchase day to the cutoff day
``frequency``               orders before the cutoff (an order is an ``order_id``, see :mod:`patron.features.rfm`)
``monetary``                total spend before the cutoff; ``monetary_mean`` mean order value
``tenure_days``             days from the first purchase day to the cutoff day
``purchase_days``           distinct days with a purchase
``gap_mean`` / ``gap_std``  mean / sample std of the days between consecutive purchase days (NULL with < 2/3 days)
``overdue_ratio``           ``recency_days / gap_mean``: how late the next purchase is relative to the usual gap
``orders_90d``,             orders and spend in the 90 days before the cutoff and in the 90 days before that
``spend_90d``,
``orders_prev_90d``,
``spend_prev_90d``
``spend_trend``             ``(spend_90d - spend_prev_90d) / (|spend_90d| + |spend_prev_90d|)``, in [-1, 1]
``n_categories``            distinct categories (or products, when no row has a category) bought
``top_category_share``      share of spend in the customer's own largest category
``btyd_frequency``,         the BTYD summary at the cutoff in days (:func:`patron.features.summary_sql`, reused,
``btyd_recency``,           not re-written): repeat purchase days, first-to-last and first-to-cutoff days,
``btyd_T``,                 mean repeat-day spend
``btyd_monetary_value``
==========================  ===================================================================================

plus every column of a ``customer_attributes`` table (``customer_id`` + attributes) when the store has one.
BTYD model outputs (P(alive), expected purchases) are added by the churn service from these ``btyd_*`` columns.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from patron.errors import ConfigError, InputError
from patron.features._sql import ident, relation, render, runner_for, timestamp_literal, to_timestamp
from patron.features.btyd import summary_sql
from patron.features.frames import INPUT_VIEW, frame_connection, prepare_frame
from patron.features.rfm import order_key_sql

ATTRIBUTES_TABLE = "customer_attributes"
TREND_DAYS = 90
BTYD_PREFIX = "btyd_"

FEATURE_DESCRIPTIONS: dict[str, str] = {
    "recency_days": "days since the last purchase",
    "frequency": "orders before the cutoff",
    "monetary": "total spend",
    "monetary_mean": "mean order value",
    "tenure_days": "days since the first purchase",
    "purchase_days": "days with a purchase",
    "gap_mean": "usual days between purchases",
    "gap_std": "spread of the days between purchases",
    "overdue_ratio": "days since the last purchase relative to the usual gap",
    "orders_90d": "orders in the last 90 days",
    "spend_90d": "spend in the last 90 days",
    "orders_prev_90d": "orders in the 90 days before that",
    "spend_prev_90d": "spend in the 90 days before that",
    "spend_trend": "spend trend (last 90 days vs the 90 before)",
    "n_categories": "categories bought",
    "top_category_share": "share of spend in the favourite category",
    "btyd_frequency": "repeat purchase days",
    "btyd_recency": "days from first to last purchase",
    "btyd_T": "days from first purchase to the cutoff",
    "btyd_monetary_value": "mean repeat-day spend",
}


def _window_sql(ts: str, start: pd.Timestamp | None, end: pd.Timestamp) -> str:
    lo = f"{ts} >= {timestamp_literal(start)} AND " if start is not None else ""
    return f"{lo}{ts} < {timestamp_literal(end)}"


def churn_features_sql(
    source: str,
    *,
    cutoff: Any,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    amount: str = "amount",
    order_id: str | None = "order_id",
    category: str | None = "category",
    dialect: str = "duckdb",
) -> str:
    """The SQL of the per-customer features (all but the BTYD summary) over ``source``, rows before ``cutoff``."""
    c = to_timestamp(cutoff, what="cutoff")
    cut = timestamp_literal(c)
    ts = f"CAST({ident(timestamp)} AS TIMESTAMP)"
    last90 = timestamp_literal(c - pd.Timedelta(days=TREND_DAYS))
    prev90 = timestamp_literal(c - pd.Timedelta(days=2 * TREND_DAYS))
    cat = f"COALESCE(CAST({ident(category)} AS VARCHAR), '(none)')" if category else "'(none)'"
    sql = (
        f"WITH pre AS (SELECT {ident(customer_id)} AS customer_id, {order_key_sql(order_id, ts)} AS order_key, "
        f"{ts} AS ts, CAST({ident(amount)} AS DOUBLE) AS amount, {cat} AS cat FROM {source} WHERE {ts} < {cut}), "
        "orders AS (SELECT customer_id, order_key, MIN(ts) AS ts, SUM(amount) AS amount FROM pre "
        "GROUP BY customer_id, order_key), "
        "days AS (SELECT customer_id, CAST(ts AS DATE) AS d FROM orders GROUP BY customer_id, CAST(ts AS DATE)), "
        "gaps AS (SELECT customer_id, CAST(DATE_DIFF('day', LAG(d) OVER (PARTITION BY customer_id ORDER BY d), d) "
        "AS DOUBLE) AS gap FROM days), "
        "gap_stats AS (SELECT customer_id, COUNT(*) AS purchase_days, AVG(gap) AS gap_mean, "
        "STDDEV_SAMP(gap) AS gap_std FROM gaps GROUP BY customer_id), "
        "cats AS (SELECT customer_id, cat, SUM(amount) AS amount FROM pre GROUP BY customer_id, cat), "
        "cat_stats AS (SELECT customer_id, COUNT(*) AS n_categories, "
        "CASE WHEN SUM(ABS(amount)) > 0 THEN MAX(amount) / SUM(ABS(amount)) ELSE 0 END AS top_category_share "
        "FROM cats GROUP BY customer_id), "
        f"o AS (SELECT customer_id, DATE_DIFF('day', CAST(MAX(ts) AS DATE), CAST({cut} AS DATE)) AS recency_days, "
        "COUNT(*) AS frequency, SUM(amount) AS monetary, SUM(amount) / CAST(COUNT(*) AS DOUBLE) AS monetary_mean, "
        f"DATE_DIFF('day', CAST(MIN(ts) AS DATE), CAST({cut} AS DATE)) AS tenure_days, "
        f"COUNT(CASE WHEN ts >= {last90} THEN 1 END) AS orders_90d, "
        f"COALESCE(SUM(CASE WHEN ts >= {last90} THEN amount END), 0) AS spend_90d, "
        f"COUNT(CASE WHEN ts >= {prev90} AND ts < {last90} THEN 1 END) AS orders_prev_90d, "
        f"COALESCE(SUM(CASE WHEN ts >= {prev90} AND ts < {last90} THEN amount END), 0) AS spend_prev_90d "
        "FROM orders GROUP BY customer_id) "
        "SELECT o.customer_id, o.recency_days, o.frequency, o.monetary, o.monetary_mean, o.tenure_days, "
        "g.purchase_days, g.gap_mean, g.gap_std, "
        "CAST(o.recency_days AS DOUBLE) / NULLIF(g.gap_mean, 0) AS overdue_ratio, "
        "o.orders_90d, o.spend_90d, o.orders_prev_90d, o.spend_prev_90d, "
        "CASE WHEN ABS(o.spend_90d) + ABS(o.spend_prev_90d) > 0 THEN (o.spend_90d - o.spend_prev_90d) / "
        "(ABS(o.spend_90d) + ABS(o.spend_prev_90d)) ELSE 0 END AS spend_trend, "
        "c.n_categories, c.top_category_share "
        "FROM o JOIN gap_stats AS g ON o.customer_id = g.customer_id "
        "JOIN cat_stats AS c ON o.customer_id = c.customer_id ORDER BY o.customer_id"
    )
    return render(sql, dialect)


def churn_labels_sql(
    source: str,
    *,
    cutoff: Any,
    horizon_days: int,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    amount: str = "amount",
    order_id: str | None = "order_id",
    dialect: str = "duckdb",
) -> str:
    """The SQL of the future window per customer seen before ``cutoff``: orders and spend in
    ``[cutoff, cutoff + horizon_days)``."""
    c = to_timestamp(cutoff, what="cutoff")
    end = c + pd.Timedelta(days=_check_horizon(horizon_days))
    ts = f"CAST({ident(timestamp)} AS TIMESTAMP)"
    cid = ident(customer_id)
    sql = (
        f"WITH seen AS (SELECT DISTINCT {cid} AS customer_id FROM {source} WHERE {_window_sql(ts, None, c)}), "
        f"fut AS (SELECT {cid} AS customer_id, COUNT(DISTINCT {order_key_sql(order_id, ts)}) AS future_orders, "
        f"SUM(CAST({ident(amount)} AS DOUBLE)) AS future_spend FROM {source} "
        f"WHERE {_window_sql(ts, c, end)} GROUP BY {cid}) "
        "SELECT s.customer_id, COALESCE(f.future_orders, 0) AS future_orders, "
        "COALESCE(f.future_spend, 0) AS future_spend "
        "FROM seen AS s LEFT JOIN fut AS f ON s.customer_id = f.customer_id ORDER BY s.customer_id"
    )
    return render(sql, dialect)


def _check_horizon(horizon_days: Any) -> int:
    try:
        value = int(horizon_days)
    except (TypeError, ValueError):
        value = 0
    if value <= 0 or value != horizon_days:
        raise ConfigError(f"horizon_days must be a positive whole number of days, got {horizon_days!r}")
    return value


def _has_column(store: Any, table: str, column: str | None) -> bool:
    if column is None:
        return False
    if hasattr(store, "table_columns") and hasattr(store, "has_table"):
        return column in store.table_columns(table)
    run, _ = runner_for(store)
    cols = run(f"SELECT * FROM {relation(table)} LIMIT 0").columns
    return column in cols


def churn_features(
    store: Any,
    table: str = "transactions",
    *,
    cutoff: Any,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    amount: str = "amount",
    order_id: str | None = "order_id",
    category: str | None = "category",
    attributes: str | None = ATTRIBUTES_TABLE,
) -> pd.DataFrame:
    """Features of every customer who bought before ``cutoff`` (see the module docstring), indexed by customer_id.

    ``category`` falls back to ``product`` when the table has no non-null category (as the behaviour matrix does),
    and to none when it has neither. ``attributes`` names a table of customer attributes joined when it exists.
    """
    c = to_timestamp(cutoff, what="cutoff")
    run, dialect = runner_for(store)
    source = relation(table)
    order_id = order_id if _has_column(store, table, order_id) else None
    category = _category_column(run, store, table, category)
    frame = run(
        churn_features_sql(
            source,
            cutoff=c,
            customer_id=customer_id,
            timestamp=timestamp,
            amount=amount,
            order_id=order_id,
            category=category,
            dialect=dialect,
        )
    )
    if frame.empty:
        raise InputError(
            f"no transaction in {table!r} is before the cutoff {c.date()}: there is nothing to learn from",
            column=timestamp,
            expected="purchases before the cutoff",
        )
    frame = frame.set_index("customer_id")
    # The BTYD summary at the cutoff, reused from patron.features (daily periods, rows strictly before C).
    before = f"(SELECT * FROM {source} WHERE CAST({ident(timestamp)} AS TIMESTAMP) < {timestamp_literal(c)}) AS pre"
    btyd = run(
        summary_sql(
            before,
            observation_period_end=c,
            freq="D",
            customer_id=customer_id,
            timestamp=timestamp,
            amount=amount,
            dialect=dialect,
        )
    ).set_index("customer_id")
    frame = frame.join(btyd.add_prefix(BTYD_PREFIX), how="left")
    for col in frame.columns:
        if col not in ("gap_mean", "gap_std", "overdue_ratio"):
            frame[col] = pd.to_numeric(frame[col]).astype("float64")
        else:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    if attributes and _store_has_table(store, attributes):
        frame = frame.join(_attributes(run, attributes, customer_id), how="left")
    frame.index.name = "customer_id"
    frame.index = frame.index.astype(str)
    return frame


def churn_labels(
    store: Any,
    table: str = "transactions",
    *,
    cutoff: Any,
    horizon_days: int = 90,
    high_value_share: float = 0.2,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    amount: str = "amount",
    order_id: str | None = "order_id",
) -> pd.DataFrame:
    """Labels of every customer who bought before ``cutoff``: ``future_orders``, ``future_spend``, ``churn``
    (no purchase in the horizon) and ``high_value`` (window spend in the top ``high_value_share``)."""
    c = to_timestamp(cutoff, what="cutoff")
    if not 0 < high_value_share < 1:
        raise ConfigError(f"high_value_share must be between 0 and 1 (exclusive), got {high_value_share!r}")
    run, dialect = runner_for(store)
    order_id = order_id if _has_column(store, table, order_id) else None
    labels = run(
        churn_labels_sql(
            relation(table),
            cutoff=c,
            horizon_days=horizon_days,
            customer_id=customer_id,
            timestamp=timestamp,
            amount=amount,
            order_id=order_id,
            dialect=dialect,
        )
    ).set_index("customer_id")
    labels.index = labels.index.astype(str)
    labels["future_orders"] = labels["future_orders"].astype("int64")
    labels["future_spend"] = labels["future_spend"].astype("float64")
    labels["churn"] = (labels["future_orders"] == 0).astype("int64")
    labels["high_value"] = high_value_flag(labels["future_spend"], high_value_share)
    return labels


def high_value_flag(future_spend: pd.Series, share: float) -> pd.Series:
    """1 for the customers whose spend is in the top ``share`` (by rank, ties broken by order of the index, so
    exactly ``ceil(share * n)`` customers are flagged at most) and positive."""
    n_top = int(-(-share * len(future_spend) // 1))
    ranks = future_spend.rank(method="first", ascending=False)
    return ((ranks <= n_top) & (future_spend > 0)).astype("int64")


def churn_dataset(
    store: Any,
    table: str = "transactions",
    *,
    cutoff: Any,
    horizon_days: int = 90,
    high_value_share: float = 0.2,
    **columns: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, labels)`` aligned on customer_id: features before ``cutoff``, labels from the horizon after."""
    latest = _latest(store, table, columns.get("timestamp", "timestamp"))
    c = to_timestamp(cutoff, what="cutoff")
    end = c + pd.Timedelta(days=_check_horizon(horizon_days))
    if latest is not None and latest < end - pd.Timedelta(days=1):
        raise ConfigError(
            f"the data end on {latest.date()}, before the end of the {horizon_days}-day horizon after the cutoff "
            f"{c.date()} ({end.date()}): labels would call customers churned who simply had no time to buy; "
            "choose an earlier cutoff or a shorter horizon"
        )
    label_cols = {k: v for k, v in columns.items() if k in ("customer_id", "timestamp", "amount", "order_id")}
    features = churn_features(store, table, cutoff=c, **columns)
    labels = churn_labels(
        store, table, cutoff=c, horizon_days=horizon_days, high_value_share=high_value_share, **label_cols
    )
    return features, labels.reindex(features.index)


def churn_features_from_transactions(
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str,
    *,
    cutoff: Any,
    order_id_col: str | None = None,
    category_col: str | None = None,
) -> pd.DataFrame:
    """:func:`churn_features` of an in-memory frame (the same SQL on an in-memory DuckDB)."""
    frame = prepare_frame(
        transactions,
        customer_id_col=customer_id_col,
        datetime_col=datetime_col,
        numeric_cols=(monetary_value_col,),
        optional_cols=(order_id_col, category_col),
    )
    with frame_connection(frame) as con:
        return churn_features(
            con,
            INPUT_VIEW,
            cutoff=cutoff,
            customer_id=customer_id_col,
            timestamp=datetime_col,
            amount=monetary_value_col,
            order_id=order_id_col,
            category=category_col,
            attributes=None,
        )


def _latest(store: Any, table: str, timestamp: str) -> pd.Timestamp | None:
    run, _ = runner_for(store)
    value = run(f"SELECT MAX(CAST({ident(timestamp)} AS TIMESTAMP)) AS t FROM {relation(table)}").iloc[0, 0]
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def _store_has_table(store: Any, name: str) -> bool:
    if hasattr(store, "has_table"):
        return bool(store.has_table(name))
    run, _ = runner_for(store)
    try:
        run(f"SELECT * FROM {relation(name)} LIMIT 0")
    except Exception:  # any engine's "no such table"
        return False
    return True


def _category_column(run: Any, store: Any, table: str, category: str | None) -> str | None:
    for candidate in (category, "product"):
        if candidate and _has_column(store, table, candidate):
            n = run(f"SELECT COUNT({ident(candidate)}) AS n FROM {relation(table)}").iloc[0, 0]
            if int(n) > 0:
                return candidate
    return None


def _attributes(run: Any, table: str, customer_id: str) -> pd.DataFrame:
    attrs = run(f"SELECT * FROM {relation(table)}")
    if customer_id not in attrs.columns:
        raise InputError(
            f"the {table!r} table has no {customer_id!r} column", column=customer_id, expected="a customer id"
        )
    if attrs[customer_id].duplicated().any():
        dup = attrs.loc[attrs[customer_id].duplicated(), customer_id].iloc[0]
        raise InputError(
            f"customer {dup!r} appears more than once in {table!r}",
            column=customer_id,
            expected="one row each",
        )
    attrs = attrs.set_index(customer_id)
    attrs.index = attrs.index.astype(str)
    for col in attrs.columns:
        if not pd.api.types.is_numeric_dtype(attrs[col]):
            attrs[col] = attrs[col].astype("category")
    return attrs.add_prefix("attr_")


__all__ = [
    "FEATURE_DESCRIPTIONS",
    "churn_dataset",
    "churn_features",
    "churn_features_from_transactions",
    "churn_features_sql",
    "churn_labels",
    "churn_labels_sql",
    "high_value_flag",
]
