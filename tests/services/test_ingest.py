"""The ingest service: one atomic run writing transactions, customers, identity links and the cleaning report."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from patron.data import load_sample, sample_path
from patron.errors import InputError
from patron.io.cleaning import CleaningRules
from patron.io.schema import CANONICAL_NAMES
from patron.services.ingest import CUSTOMER_COLUMNS, ingest


def test_ingest_shipped_sample(repo) -> None:
    steps = []
    result = ingest(repo, sample_path(), progress=lambda text, done, total: steps.append((done, total)))
    assert steps[-1] == (steps[-1][1], steps[-1][1]) and len(steps) == 6
    assert result.rows_read == 118_364 == result.summary["rows_read"]
    assert result.rows_kept + sum(result.rows_dropped.values()) == result.rows_read

    tx = repo.read_table("transactions")
    assert list(tx.columns) == list(CANONICAL_NAMES)
    assert len(tx) == result.rows_kept and tx["customer_id"].notna().all()
    assert (tx["customer_id"] == tx["source_customer_id"]).all()  # one source: nothing merged

    customers = repo.read_table("customers")
    assert list(customers.columns) == list(CUSTOMER_COLUMNS)
    assert len(customers) == result.customers == tx["customer_id"].nunique()
    assert customers["revenue"].sum() == pytest.approx(tx["amount"].sum())
    one = customers.set_index("customer_id").iloc[0]
    mine = tx[tx["customer_id"] == customers["customer_id"].iloc[0]]
    assert one["orders"] == mine["order_id"].nunique() and one["last_purchase"] == mine["timestamp"].max()

    report = repo.read_results("cleaning_report", kind="ingest")
    assert list(report.columns) == ["run_id", "rule", "rows", "revenue", "action"]
    assert report.loc[report["action"] != "flag", "rows"].sum() == 118_364
    run = repo.latest_run("ingest")
    assert run["input_fingerprint"] == hashlib.sha256(sample_path().read_bytes()).hexdigest()
    assert run["report"]["rows_kept"] == result.rows_kept
    assert run["report"]["rows_dropped"]["missing_customer_id"] == 29_081
    assert run["params"]["rules"]["returns"] == "net"
    links = repo.read_table("identity_links")
    assert list(links.columns) == ["source", "source_customer_id", "customer_id", "rule"]
    assert set(links["rule"]) == {"identity"}


def test_classic_sample_matches_an_independent_pandas_filter(repo) -> None:
    """The classic preset equals the textbook pandas filter on the same file."""
    frame = load_sample()
    expected = frame[
        frame["CustomerID"].notna()
        & ~frame["InvoiceNo"].str.startswith("C")
        & (frame["Quantity"] > 0)
        & (frame["UnitPrice"] > 0)
    ]
    result = ingest(repo, sample_path(), rules=CleaningRules.classic())
    tx = repo.read_table("transactions")
    assert result.rows_kept == len(expected) == len(tx)
    assert tx["customer_id"].nunique() == expected["CustomerID"].nunique()
    assert tx["amount"].sum() == pytest.approx((expected["Quantity"] * expected["UnitPrice"]).sum())


def test_failed_ingest_leaves_previous_data_intact(repo, tmp_path: Path) -> None:
    good = pd.DataFrame(
        {"customer_id": ["a", "b"], "date": ["2020-01-01", "2020-01-02"], "amount": [1.0, 2.0]}
    )
    ingest(repo, good)
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\nc,2020-01-03,3\nd,2020-01-04,lots\n")
    with pytest.raises(InputError, match=r"bad\.csv, row 3, column 'amount'.*found 'lots'"):
        ingest(repo, bad)
    assert repo.read_table("transactions")["customer_id"].tolist() == ["a", "b"]
    assert len(repo.read_table("customers")) == 2
    runs = repo.list_runs("ingest")
    assert runs["status"].tolist() == ["failed", "succeeded"]
    assert "row 3" in runs["error"].iloc[0]


def test_several_sources_are_resolved_into_one_customer_set(repo, tmp_path: Path) -> None:
    web = tmp_path / "web.csv"
    web.write_text(
        "order_id,customer_id,email,date,amount\n"
        "w1,9,Ann.Lee+promo@gmail.com,2020-01-01,10\n"
        "w2,12,annlee@googlemail.com,2020-01-05,20\n"
    )
    shop = pd.DataFrame(
        {
            "customer": ["12", "77"],
            "date": ["2020-02-01", "2020-02-02"],
            "amount": [5.0, 7.0],
            "address": ["1 High St", None],
        }
    )
    result = ingest(repo, [web, shop])
    links = repo.read_table("identity_links").set_index(["source", "source_customer_id"])
    assert links.loc[(str(web), "9"), "customer_id"] == "12"  # same email as web 12
    assert links.loc[("frame", "12"), "customer_id"] == "12"  # same id as web 12
    customers = repo.read_table("customers").set_index("customer_id")
    assert result.customers == 2 and customers.loc["12", "revenue"] == 35.0
    assert customers.loc["12", "n_source_ids"] == 3 and customers.loc["12", "orders"] == 3
    assert customers.loc["12", "email"] == "annlee@gmail.com"
    tx = repo.read_table("transactions")
    assert sorted(tx["source"].unique()) == sorted([str(web), "frame"])


def test_complete_journey_loads_with_no_mapping(repo, shared_data: Path) -> None:
    result = ingest(repo, shared_data / "completejourney_transactions_sample.csv.gz")
    assert result.rows_read == 75_000
    assert (
        result.mappings[str(shared_data / "completejourney_transactions_sample.csv.gz")]["customer_id"]
        == "household_id"
    )
    dropped = result.rows_dropped
    assert dropped["zero_quantity"] == 416  # the data README: 416 rows with quantity 0


def test_explicit_mapping(repo) -> None:
    frame = pd.DataFrame({"Kunde": ["a"], "Wann": ["01.02.2020"], "Betrag": [3.5]})
    with pytest.raises(InputError, match="missing required column"):
        ingest(repo, frame)
    ingest(
        repo,
        frame,
        mapping={
            "customer_id": "Kunde",
            "timestamp": "Wann",
            "amount": "Betrag",
            "timestamp_format": "%d.%m.%Y",
        },
    )
    tx = repo.read_table("transactions")
    assert tx["timestamp"].iloc[0] == pd.Timestamp("2020-02-01") and tx["amount"].iloc[0] == 3.5
