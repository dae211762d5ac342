"""The full UCI Online Retail file: read, validated and cleaned, against the numbers in the data's README.

Reference: ../shared/data/README.md ("Measured quirks"): 541,909 rows, 5,268 exact duplicates, 135,080 rows
without CustomerID, total Quantity x UnitPrice 9,747,747.93; the usual clean subset (CustomerID present, not
'C', Quantity > 0, UnitPrice > 0) has 397,884 rows, 4,338 customers, 18,532 invoices and revenue 8,911,407.90.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patron.io.cleaning import CleaningRules, clean
from patron.io.mapping import resolve_mapping
from patron.io.readers import read_source
from patron.io.validation import to_canonical

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def online_retail(shared_data: Path) -> pd.DataFrame:
    raw = read_source(shared_data / "online_retail.csv.gz")
    frame = to_canonical(raw, resolve_mapping(raw.columns, None, source=raw.name))
    frame["customer_id"] = frame["source_customer_id"]
    return frame


def test_read_and_validated(online_retail: pd.DataFrame) -> None:
    frame = online_retail
    assert len(frame) == 541_909
    assert frame["source_row"].iloc[[0, -1]].tolist() == [2, 541_910]
    assert frame["timestamp"].min() == pd.Timestamp("2010-12-01 08:26:00")
    assert frame["timestamp"].max() == pd.Timestamp("2011-12-09 12:50:00")
    assert frame["is_duplicate"].sum() == 5_268
    assert frame["source_customer_id"].isna().sum() == 135_080
    assert frame["amount"].sum() == pytest.approx(9_747_747.93, abs=0.01)


def test_classic_preset_gives_the_usual_clean_subset(online_retail: pd.DataFrame) -> None:
    result = clean(online_retail, CleaningRules.classic())
    kept = result.kept
    assert (len(kept), kept["customer_id"].nunique(), kept["order_id"].nunique()) == (397_884, 4_338, 18_532)
    assert kept["amount"].sum() == pytest.approx(8_911_407.90, abs=0.01)
    assert result.rows_read == 541_909
    report = result.report.set_index("rule")
    assert report.loc["missing_customer_id", "rows"] == 135_080
    # every cancellation line with a customer id (the C invoices) and the other negative lines are returns
    assert report.loc["returns_dropped", "rows"] == 8_905
    partition = report[report["action"] != "flag"]
    assert partition["rows"].sum() == 541_909
    assert partition["revenue"].sum() == pytest.approx(9_747_747.93, abs=0.01)


def test_default_preset_nets_returns_and_accounts_for_every_row(online_retail: pd.DataFrame) -> None:
    result = clean(online_retail, CleaningRules.default())
    report = result.report.set_index("rule")
    partition = report[report["action"] != "flag"]
    assert partition["rows"].sum() == 541_909
    assert partition["revenue"].sum() == pytest.approx(9_747_747.93, abs=0.01)
    assert report.loc["non_product", "rows"] > 0 and report.loc["returns_netted", "rows"] > 0
    # most customer returns find the purchase they undo
    netted, unmatched = report.loc["returns_netted", "rows"], report.loc["returns_unmatched", "rows"]
    assert netted / (netted + unmatched) > 0.8
    # netting removes value from kept lines, never adds it
    assert result.revenue_netted <= 0
    assert (result.kept["amount"] > 0).all() and (result.kept["quantity"] > 0).all()
    assert result.kept["amount"].sum() == pytest.approx(report.loc["kept", "revenue"] + result.revenue_netted)
