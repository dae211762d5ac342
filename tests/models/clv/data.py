"""Datasets the CLV model tests share (CDNOW from ../shared/data, the bundled Online Retail sample)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from patron.data import load_sample
from patron.features import summary_from_transactions


def cdnow_summary(shared_data: Path) -> pd.DataFrame:
    """The CDNOW calibration summary of Fader, Hardie & Lee (2005): 2,357 customers, 39 weeks."""
    frame = pd.read_csv(shared_data / "cdnow_customers_summary.csv.gz")
    return frame.rename(columns={"ID": "customer_id"}).set_index("customer_id")


def cdnow_with_spend(shared_data: Path) -> pd.DataFrame:
    """CDNOW summary with the mean repeat spend ``monetary_value`` (``zbar``; 0 for non-repeaters)."""
    frame = pd.read_csv(shared_data / "cdnow_customers_summary_with_transactions.csv.gz")
    frame = frame.rename(
        columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )
    return frame.set_index("customer_id")


@cache
def online_retail_sample_summary() -> pd.DataFrame:
    """Weekly BTYD summary of the bundled Online Retail sample (it has customers first seen on the last day)."""
    tx = load_sample()
    tx = tx[tx["CustomerID"].notna() & (tx["Quantity"] > 0) & (tx["UnitPrice"] > 0)].copy()
    tx["amount"] = tx["Quantity"] * tx["UnitPrice"]
    return summary_from_transactions(tx, "CustomerID", "InvoiceDate", "amount", freq="W")
