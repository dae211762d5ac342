"""The customer x category behaviour matrix, computed in SQL (long form), and its wide pivot.

Long form, one row per (customer, category) the customer bought in: ``orders`` (distinct orders holding that
category; an order is an ``order_id``, else a distinct timestamp), ``quantity`` (sum of units; NULL when no line
of the cell has a quantity) and ``amount`` (sum of line values). Rows without a category are kept under
:data:`UNCATEGORISED`, so the amounts add up to the customer's total spend.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from patron.errors import ConfigError
from patron.features._sql import ident, max_timestamp, relation, render, runner_for, timestamp_literal
from patron.features.frames import INPUT_VIEW, frame_connection, prepare_frame
from patron.features.rfm import order_key_sql

UNCATEGORISED = "(uncategorised)"
BEHAVIOUR_COLUMNS = ("customer_id", "category", "orders", "quantity", "amount")


def behaviour_sql(
    source: str,
    *,
    observation_period_end: Any,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    category: str = "category",
    amount: str = "amount",
    quantity: str | None = "quantity",
    order_id: str | None = "order_id",
    dialect: str = "duckdb",
) -> str:
    """The SQL of the long behaviour matrix over ``source`` in ``dialect``."""
    ts = f"CAST({ident(timestamp)} AS TIMESTAMP)"
    cat = f"COALESCE(CAST({ident(category)} AS VARCHAR), '{UNCATEGORISED}')"
    qty = f"SUM(CAST({ident(quantity)} AS DOUBLE))" if quantity else "CAST(NULL AS DOUBLE)"
    sql = (
        f"SELECT {ident(customer_id)} AS customer_id, {cat} AS category, "
        f"COUNT(DISTINCT {order_key_sql(order_id, ts)}) AS orders, {qty} AS quantity, "
        f"SUM(CAST({ident(amount)} AS DOUBLE)) AS amount FROM {source} "
        f"WHERE {ts} <= {timestamp_literal(observation_period_end)} "
        f"GROUP BY {ident(customer_id)}, {cat} ORDER BY customer_id, category"
    )
    return render(sql, dialect)


def behaviour(
    store: Any,
    table: str = "transactions",
    *,
    observation_period_end: Any = None,
    customer_id: str = "customer_id",
    timestamp: str = "timestamp",
    category: str = "category",
    amount: str = "amount",
    quantity: str | None = "quantity",
    order_id: str | None = "order_id",
) -> pd.DataFrame:
    """Long behaviour matrix of a table in a store: columns customer_id, category, orders, quantity, amount."""
    run, dialect = runner_for(store)
    source = relation(table)
    if observation_period_end is None:
        observation_period_end = max_timestamp(run, source, ident(timestamp))
    frame = run(
        behaviour_sql(
            source,
            observation_period_end=observation_period_end,
            customer_id=customer_id,
            timestamp=timestamp,
            category=category,
            amount=amount,
            quantity=quantity,
            order_id=order_id,
            dialect=dialect,
        )
    )
    frame["orders"] = frame["orders"].astype("int64")
    frame["quantity"] = frame["quantity"].astype("float64")
    return frame


def behaviour_from_transactions(
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    category_col: str,
    monetary_value_col: str,
    quantity_col: str | None = None,
    order_id_col: str | None = None,
    observation_period_end: Any = None,
) -> pd.DataFrame:
    """Long behaviour matrix of an in-memory frame (same SQL, on an in-memory DuckDB)."""
    frame = prepare_frame(
        transactions,
        customer_id_col=customer_id_col,
        datetime_col=datetime_col,
        numeric_cols=(monetary_value_col,),
        optional_cols=(category_col, quantity_col, order_id_col),
    )
    with frame_connection(frame) as con:
        return behaviour(
            con,
            INPUT_VIEW,
            observation_period_end=observation_period_end,
            customer_id=customer_id_col,
            timestamp=datetime_col,
            category=category_col,
            amount=monetary_value_col,
            quantity=quantity_col,
            order_id=order_id_col,
        )


def behaviour_wide(long: pd.DataFrame, value: str = "amount") -> pd.DataFrame:
    """Pivot the long matrix to customers x categories (``value`` = orders, quantity or amount; absent cells 0).

    pandas' pivot is the right tool here; the wide form is for modelling and display, the store keeps the long
    form (it stays narrow whatever the number of categories).
    """
    if value not in ("orders", "quantity", "amount"):
        raise ConfigError(f"value must be one of orders, quantity, amount; got {value!r}")
    missing = [c for c in ("customer_id", "category", value) if c not in long.columns]
    if missing:
        raise ConfigError(f"not a long behaviour matrix: columns {missing} are missing")
    wide = long.pivot_table(
        index="customer_id", columns="category", values=value, aggfunc="sum", fill_value=0
    )
    wide.columns.name = "category"
    return wide
