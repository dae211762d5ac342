"""The customer x category behaviour matrix: hand-checked cells, totals that add up, the wide pivot."""

from __future__ import annotations

import pandas as pd
import pytest

from patron.errors import ConfigError
from patron.features import UNCATEGORISED, behaviour_from_transactions, behaviour_wide


@pytest.fixture
def tx() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cid": ["a", "a", "a", "a", "b", "b"],
            "order": ["o1", "o1", "o2", "o3", "o4", "o5"],
            "ts": pd.to_datetime(
                ["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-09", "2024-01-02", "2024-03-01"]
            ),
            "cat": ["toys", "books", "toys", None, "books", "books"],
            "qty": [1.0, 2.0, 3.0, 1.0, 5.0, 1.0],
            "spend": [10.0, 20.0, 30.0, 7.0, 50.0, 9.0],
        }
    )


def test_long_form_cells(tx: pd.DataFrame) -> None:
    long = behaviour_from_transactions(
        tx,
        "cid",
        "ts",
        "cat",
        "spend",
        quantity_col="qty",
        order_id_col="order",
        observation_period_end="2024-02-01",
    )
    cells = long.set_index(["customer_id", "category"])
    assert list(long.columns) == ["customer_id", "category", "orders", "quantity", "amount"]
    assert cells.loc[("a", "toys")].tolist() == [2, 4.0, 40.0]
    assert cells.loc[("a", "books")].tolist() == [1, 2.0, 20.0]
    assert cells.loc[("a", UNCATEGORISED)].tolist() == [1, 1.0, 7.0]  # kept, not dropped
    assert cells.loc[("b", "books")].tolist() == [1, 5.0, 50.0]  # the March order is after the end
    assert long.groupby("customer_id")["amount"].sum().to_dict() == {"a": 67.0, "b": 50.0}


def test_wide_pivot(tx: pd.DataFrame) -> None:
    long = behaviour_from_transactions(tx, "cid", "ts", "cat", "spend", order_id_col="order")
    wide = behaviour_wide(long, "orders")
    assert wide.loc["a", "toys"] == 2 and wide.loc["b", "toys"] == 0
    assert wide.loc["b", "books"] == 2
    assert long["quantity"].isna().all()  # no quantity column given: unknown, not zero
    with pytest.raises(ConfigError, match="value must be one of orders, quantity, amount"):
        behaviour_wide(long, "revenue")
