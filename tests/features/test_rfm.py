"""RFM values against an independent pandas computation and hand-checked numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.errors import InputError
from patron.features import rfm_from_transactions
from tests.features.data import golden_input


def test_hand_checked_customer() -> None:
    tx = pd.DataFrame(
        {
            "cid": ["a", "a", "a", "a", "b"],
            "order": ["o1", "o1", "o2", None, "o9"],
            "ts": pd.to_datetime(
                [
                    "2024-01-01 10:00",
                    "2024-01-01 10:00",
                    "2024-01-20 09:00",
                    "2024-02-01 18:30",
                    "2024-03-01 08:00",
                ]
            ),
            "spend": [10.0, 5.0, 30.0, 15.0, 100.0],
        }
    )
    out = rfm_from_transactions(
        tx, "cid", "ts", "spend", order_id_col="order", observation_period_end="2024-03-01 23:59"
    )
    a = out.loc["a"]
    assert a["frequency"] == 3  # o1 (two lines), o2, and the line without an order id
    assert a["monetary"] == pytest.approx(60.0)
    assert a["monetary_mean"] == pytest.approx(20.0)
    assert a["recency_days"] == 29  # 2024-02-01 -> 2024-03-01 (leap year)
    assert a["first_purchase"] == pd.Timestamp("2024-01-01 10:00")
    assert a["last_purchase"] == pd.Timestamp("2024-02-01 18:30")
    assert out.loc["b", "recency_days"] == 0


def test_equals_pandas_on_online_retail_slice(shared_data: Path) -> None:
    """Independent computation with pandas groupby on 2011-03..05 Online Retail lines (one order per timestamp)."""
    tx = golden_input("retail_slice", shared_data)
    end = pd.Timestamp("2011-05-15")
    ours = rfm_from_transactions(tx, "customer_id", "timestamp", "amount", observation_period_end=end)
    kept = tx[tx["timestamp"] <= end]
    orders = kept.groupby(["customer_id", "timestamp"], as_index=False)["amount"].sum()
    g = orders.groupby("customer_id")
    expected = pd.DataFrame(
        {
            "recency_days": (end.normalize() - g["timestamp"].max().dt.normalize()).dt.days,
            "frequency": g.size(),
            "monetary": g["amount"].sum(),
            "monetary_mean": g["amount"].mean(),
        }
    )
    ours = ours.sort_index()
    assert ours.index.equals(expected.index)
    np.testing.assert_array_equal(ours["recency_days"], expected["recency_days"])
    np.testing.assert_array_equal(ours["frequency"], expected["frequency"])
    np.testing.assert_allclose(ours["monetary"], expected["monetary"], rtol=1e-9)
    np.testing.assert_allclose(ours["monetary_mean"], expected["monetary_mean"], rtol=1e-9)


def test_missing_amount_column_is_named() -> None:
    tx = pd.DataFrame({"cid": ["a"], "ts": ["2024-01-01"]})
    with pytest.raises(InputError, match="column 'spend'"):
        rfm_from_transactions(tx, "cid", "ts", "spend")
