"""Column mapping: the common layouts are recognised by header; explicit entries win; gaps are named."""

from __future__ import annotations

import pytest

from patron.errors import ConfigError, InputError
from patron.io.mapping import ColumnMapping, detect_mapping, headerless_names, resolve_mapping

ONLINE_RETAIL = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
COMPLETE_JOURNEY = [
    "household_id",
    "store_id",
    "basket_id",
    "product_id",
    "quantity",
    "sales_value",
    "retail_disc",
    "coupon_disc",
    "coupon_match_disc",
    "week",
    "transaction_timestamp",
]


def test_online_retail_layout() -> None:
    m = detect_mapping(ONLINE_RETAIL)
    assert m.as_dict() == {
        "customer_id": "CustomerID",
        "timestamp": "InvoiceDate",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
        "order_id": "InvoiceNo",
        "product": "StockCode",
        "product_name": "Description",
        "region": "Country",
    }


def test_complete_journey_layout() -> None:
    m = detect_mapping(COMPLETE_JOURNEY)
    assert (m.customer_id, m.order_id, m.product, m.amount, m.quantity, m.timestamp, m.channel) == (
        "household_id",
        "basket_id",
        "product_id",
        "sales_value",
        "quantity",
        "transaction_timestamp",
        "store_id",
    )
    assert m.unit_price is None


def test_cdnow_headerless_layout() -> None:
    names = headerless_names(["00004", "0001", "19970101", "2", "29.33"])
    assert names == ["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"]
    m = detect_mapping(names)
    assert (m.customer_id, m.timestamp, m.quantity, m.amount) == (
        "customer_id",
        "date",
        "number_of_cds",
        "dollar_value",
    )
    assert headerless_names(["a", "b", "not a date", "1", "2"]) is None


@pytest.mark.parametrize(
    "header",
    [
        ["Customer ID", "Order Date", "Total Amount"],
        ["customer_id", "date", "amount"],
        ["CUSTOMER-ID", "DATE", "AMOUNT"],
    ],
)
def test_names_compare_without_case_spaces_or_underscores(header: list[str]) -> None:
    m = resolve_mapping(header, None, source="x.csv")
    assert (m.customer_id, m.timestamp, m.amount) == tuple(header)


def test_explicit_mapping_wins_and_forgives_case() -> None:
    m = resolve_mapping(
        ["Cust", "When", "Value", "amount"],
        {"customer_id": "cust", "timestamp": "When", "amount": "Value"},
        source="x.csv",
    )
    assert (m.customer_id, m.timestamp, m.amount) == ("Cust", "When", "Value")


def test_from_pairs_parses_cli_options() -> None:
    m = ColumnMapping.from_pairs(["customer_id=Cust", "timestamp_format=%d/%m/%Y"])
    assert m.customer_id == "Cust" and m.timestamp_format == "%d/%m/%Y"
    with pytest.raises(ConfigError, match="canonical=source_column, got 'customer_id'"):
        ColumnMapping.from_pairs(["customer_id"])
    with pytest.raises(ConfigError, match=r"unknown canonical column.*customer"):
        ColumnMapping.from_pairs(["customer=Cust"])


def test_missing_columns_are_named_with_what_exists() -> None:
    with pytest.raises(
        InputError,
        match=r"file x\.csv: missing required column\(s\): customer_id, amount \(or quantity and unit_price\); "
        r"columns present: date, qty, price_list",
    ):
        resolve_mapping(["date", "qty", "price_list"], None, source="x.csv")


def test_mapping_to_an_absent_column() -> None:
    with pytest.raises(
        InputError, match="names column 'Kunde' for customer_id, but the source has no such column"
    ):
        resolve_mapping(ONLINE_RETAIL, {"customer_id": "Kunde"}, source="x.csv")
