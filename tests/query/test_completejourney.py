"""The Complete Journey sample (84.51°, CC0): a relate scan of categories and demographics vs the top value band.

The store is built here with pandas in the canonical columns of ``patron.io.schema`` (household = customer,
basket = order, sales_value = amount, product_category = category; demographics in ``customer_attributes``), so
this test does not depend on the ingest area. Expected counts are recomputed independently with pandas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.io.schema import CANONICAL_NAMES
from patron.services.relate import RESULTS_TABLE, run_relate
from patron.services.segments import define_segment, members, profile

DEMOGRAPHICS = ["age", "income", "household_comp", "kids_count", "household_size", "home_ownership"]


def load_completejourney(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    tx = pd.read_csv(
        data / "completejourney_transactions_sample.csv.gz",
        dtype={"household_id": str, "basket_id": str, "product_id": str, "store_id": str},
    )
    products = pd.read_csv(
        data / "completejourney_products.csv.gz", dtype=str, usecols=["product_id", "product_category"]
    )
    tx = tx.merge(products, on="product_id", how="left")
    qty = tx["quantity"].astype(float)
    lines = pd.DataFrame(
        {
            "customer_id": tx["household_id"],
            "source_customer_id": tx["household_id"],
            "order_id": tx["basket_id"],
            "timestamp": pd.to_datetime(tx["transaction_timestamp"], utc=True)
            .dt.tz_convert("America/New_York")
            .dt.tz_localize(None),
            "quantity": qty,
            "unit_price": tx["sales_value"] / qty.where(qty > 0),
            "amount": tx["sales_value"].astype(float),
            "product": tx["product_id"],
            "product_name": None,
            "category": tx["product_category"],
            "channel": tx["store_id"],
            "region": None,
            "email": None,
            "address": None,
            "source": "completejourney_transactions_sample.csv.gz",
            "source_row": np.arange(2, len(tx) + 2),
        }
    )[list(CANONICAL_NAMES)]
    demographics = pd.read_csv(data / "completejourney_demographics.csv.gz", dtype=str)
    return lines, demographics.rename(columns={"household_id": "customer_id"})


@pytest.mark.slow
def test_completejourney_categories_and_demographics_vs_top_value_band(shared_data, repo) -> None:
    lines, attrs = load_completejourney(shared_data)
    repo.replace_tables({"transactions": lines, "customer_attributes": attrs})

    # 1. Categories and demographics over all 2,377 households, 1- and 2-way.
    query = {
        "relate": ["category", *DEMOGRAPHICS],
        "target": {"$top": {"revenue": 0.2}},
        "min_support": 0.02,
        "max_order": 2,
        "having": {"q_value": {"$lt": 0.05}},
        "limit": 20,
    }
    top = run_relate(repo, query)
    assert top.attrs["n_customers"] == 2377
    assert top.attrs["n_target"] == 475  # cume_dist <= 0.2 over 2,377 distinct revenues
    scan = repo.read_results(RESULTS_TABLE, kind="relate").set_index("pattern")
    significant = scan[scan["q_value"] < 0.05]
    assert (significant["lift"] > 1).all() and len(top) == 20
    assert significant.index.str.contains("category=").any()
    assert significant.index.str.contains("household_comp=|kids_count=|income=|age=").any()

    # Independent recount of a few patterns in pandas.
    revenue = lines.groupby("customer_id")["amount"].sum()
    target = (revenue.rank(method="max", ascending=False) / len(revenue)) <= 0.2
    cats = lines.dropna(subset=["category"]).groupby("customer_id")["category"].agg(set)
    comp = attrs.set_index("customer_id")["household_comp"]
    for pattern in ["category=COLD CEREAL", "category=BAG SNACKS AND household_comp=2 Adults Kids"]:
        want = pd.Series(True, index=revenue.index)
        for item in pattern.split(" AND "):
            field, value = item.split("=", 1)
            if field == "category":
                want &= cats.reindex(revenue.index).map(lambda s, v=value: isinstance(s, set) and v in s)
            else:
                want &= comp.reindex(revenue.index).eq(value).fillna(False)
        row = scan.loc[pattern]
        assert row["support"] == want.sum()
        assert row["p"] == (want & target).sum() / want.sum()
        assert row["lift"] == row["p"] / (target.sum() / len(target))

    # 2. Demographics only, among the 801 households that have them: which households are top spenders?
    demo = run_relate(
        repo,
        {
            "where": {"age": {"$ne": None}},
            "relate": DEMOGRAPHICS,
            "target": {"$top": {"revenue": 0.2}},
            "min_support": 0.03,
            "max_order": 2,
            "having": {"q_value": {"$lt": 0.05}},
        },
    )
    assert demo.attrs["n_customers"] == 801
    assert len(demo) >= 3
    best = demo.set_index("pattern").loc["home_ownership=Homeowner AND household_comp=2 Adults Kids"]
    homeowner_family = attrs.set_index("customer_id").eval(
        "home_ownership == 'Homeowner' and household_comp == '2 Adults Kids'"
    )
    with_demo = revenue[revenue.index.isin(attrs["customer_id"])]
    demo_target = (with_demo.rank(method="max", ascending=False) / len(with_demo)) <= 0.2
    in_pattern = homeowner_family.reindex(with_demo.index)
    assert best["support"] == in_pattern.sum()
    assert best["lift"] == ((in_pattern & demo_target).sum() / in_pattern.sum()) / demo_target.mean()
    assert best["lift"] > 1.4 and best["q_value"] < 0.01

    # 3. The pattern as a segment: members, and a profile that names what distinguishes it.
    define_segment(
        repo,
        "family homeowners",
        {
            "relate": {"relate": DEMOGRAPHICS, "target": {"$top": {"revenue": 0.2}}},
            "pattern": "home_ownership=Homeowner AND household_comp=2 Adults Kids",
        },
    )
    assert len(members(repo, "family homeowners")) == in_pattern.sum()
    prof = profile(repo, "family homeowners")
    assert prof.revenue_share > prof.share
    assert "household_comp=2 Adults Kids (100% vs" in prof.description
