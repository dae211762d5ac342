"""Per-customer features computed in SQL (DuckDB by default; the same SQL transpiles to PostgreSQL and Spark).

* :mod:`patron.features.btyd`: the BTYD summary (frequency, recency, T, monetary_value) and the
  calibration/holdout split, equal to lifetimes' ``summary_data_from_transaction_data`` and
  ``calibration_and_holdout_data``.
* :mod:`patron.features.rfm`: recency (days), number of orders, total and mean spend, first/last purchase.
* :mod:`patron.features.behaviour`: the customer x category matrix (long form, and a wide pivot).

Each builder takes either an in-memory DataFrame (``*_from_transactions``) or a table in a store.
"""

from __future__ import annotations

from patron.features.behaviour import (
    UNCATEGORISED,
    behaviour,
    behaviour_from_transactions,
    behaviour_sql,
    behaviour_wide,
)
from patron.features.btyd import (
    btyd_calibration,
    btyd_summary,
    calibration_and_holdout,
    calibration_sql,
    summary_from_transactions,
    summary_sql,
)
from patron.features.rfm import rfm, rfm_from_transactions, rfm_sql

__all__ = [
    "UNCATEGORISED",
    "behaviour",
    "behaviour_from_transactions",
    "behaviour_sql",
    "behaviour_wide",
    "btyd_calibration",
    "btyd_summary",
    "calibration_and_holdout",
    "calibration_sql",
    "rfm",
    "rfm_from_transactions",
    "rfm_sql",
    "summary_from_transactions",
    "summary_sql",
]
