"""RFM values per customer, computed in SQL (written once in DuckDB's dialect, transpiled by SQLGlot).

An *order* is one ``order_id``; rows without an order id (or when no order column is given) form one order per
distinct timestamp. Lines of an order are summed. With ``observation_period_end`` ``E`` (default: the latest
timestamp), only rows at or before ``E`` count, and per customer:

* ``recency_days``: whole calendar days from the last order's date to ``E``'s date (0 = bought on the last day),
* ``frequency``: number of orders (not "repeat" orders: RFM counts the first one too, unlike the BTYD summary),
* ``monetary``: total spend; ``monetary_mean``: mean order value,
* ``first_purchase`` / ``last_purchase``: timestamps of the first and last order.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from patron.features._sql import ident, max_timestamp, relation, render, runner_for, timestamp_literal
from patron.features.frames import INPUT_VIEW, frame_connection, prepare_frame

RFM_COLUMNS = ("recency_days", "frequency", "monetary", "monetary_mean", "first_purchase", "last_purchase")


def order_key_sql(order_id: str | None, ts_sql: str) -> str:
    """The SQL that identifies one order: the order id, else the timestamp (as text, so both branches agree)."""
    ts_text = f"CAST({ts_sql} AS VARCHAR)"
    return f"COALESCE(CAST({ident(order_id)} AS VARCHAR), {ts_text})" if order_id else ts_text


def rfm_sql(
    source: str,
    *,
    observation_period_end: Any,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    amount: str = "amount",
    order_id: str | None = "order_id",
    dialect: str = "duckdb",
) -> str:
    """The SQL of the RFM table over ``source`` in ``dialect``."""
    end = timestamp_literal(observation_period_end)
    ts = f"CAST({ident(timestamp)} AS TIMESTAMP)"
    sql = (
        f"WITH orders AS (SELECT {ident(customer_id)} AS customer_id, {order_key_sql(order_id, ts)} AS order_key, "
        f"MIN({ts}) AS ts, SUM(CAST({ident(amount)} AS DOUBLE)) AS amount FROM {source} "
        f"WHERE {ts} <= {end} GROUP BY {ident(customer_id)}, {order_key_sql(order_id, ts)}) "
        f"SELECT customer_id, DATE_DIFF('day', CAST(MAX(ts) AS DATE), CAST({end} AS DATE)) AS recency_days, "
        f"COUNT(*) AS frequency, SUM(amount) AS monetary, SUM(amount) / CAST(COUNT(*) AS DOUBLE) AS monetary_mean, "
        f"MIN(ts) AS first_purchase, MAX(ts) AS last_purchase "
        f"FROM orders GROUP BY customer_id ORDER BY customer_id"
    )
    return render(sql, dialect)


def rfm(
    store: Any,
    table: str = "transactions",
    *,
    observation_period_end: Any = None,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    amount: str = "amount",
    order_id: str | None = "order_id",
) -> pd.DataFrame:
    """RFM values of a table in a store (Repository, DuckDB or psycopg connection), indexed by customer_id."""
    run, dialect = runner_for(store)
    source = relation(table)
    if observation_period_end is None:
        observation_period_end = max_timestamp(run, source, ident(timestamp))
    frame = run(
        rfm_sql(
            source,
            observation_period_end=observation_period_end,
            customer_id=customer_id,
            timestamp=timestamp,
            amount=amount,
            order_id=order_id,
            dialect=dialect,
        )
    ).set_index("customer_id")
    frame["recency_days"] = frame["recency_days"].astype("int64")
    frame["frequency"] = frame["frequency"].astype("int64")
    for col in ("first_purchase", "last_purchase"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


def rfm_from_transactions(
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str,
    order_id_col: str | None = None,
    observation_period_end: Any = None,
    datetime_format: str | None = None,
) -> pd.DataFrame:
    """RFM values of an in-memory frame (same SQL, on an in-memory DuckDB)."""
    frame = prepare_frame(
        transactions,
        customer_id_col=customer_id_col,
        datetime_col=datetime_col,
        numeric_cols=(monetary_value_col,),
        optional_cols=(order_id_col,),
        datetime_format=datetime_format,
    )
    with frame_connection(frame) as con:
        result = rfm(
            con,
            INPUT_VIEW,
            observation_period_end=observation_period_end,
            customer_id=customer_id_col,
            timestamp=datetime_col,
            amount=monetary_value_col,
            order_id=order_id_col,
        )
    result.index.name = customer_id_col
    return result
