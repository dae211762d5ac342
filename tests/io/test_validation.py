"""Validation: casting to canonical types, with errors that point at the line, column and value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patron.errors import InputError
from patron.io.mapping import ColumnMapping, resolve_mapping
from patron.io.readers import read_source
from patron.io.validation import to_canonical


def canonical(source, mapping=None) -> pd.DataFrame:
    raw = read_source(source)
    return to_canonical(raw, resolve_mapping(raw.columns, mapping, source=raw.name))


def test_non_numeric_price_names_row_column_and_value(tmp_path: Path) -> None:
    # Line 40,123 of the file is data row 40,122 (the header is line 1).
    lines = ["InvoiceNo,InvoiceDate,UnitPrice,Quantity,CustomerID"]
    lines += [f"{i},2011-01-01 10:00:00,1.25,1,{i % 97}" for i in range(40_125)]
    lines[40_122] = "40121,2011-01-01 10:00:00,abc,1,5"
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        InputError,
        match=r"big\.csv, row 40,123, column 'UnitPrice': not a number \(expected a number, found 'abc'\)",
    ):
        canonical(path)


def test_cdnow_and_complete_journey_load_without_mapping(shared_data: Path) -> None:
    cdnow = canonical(shared_data / "cdnow_sample.txt.gz")
    assert len(cdnow) == 6_919 and cdnow["source_customer_id"].nunique() == 2_357
    assert cdnow["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert cdnow["amount"].iloc[0] == 29.33 and cdnow["quantity"].iloc[0] == 2
    cj = canonical(shared_data / "completejourney_transactions_sample.csv.gz")
    assert len(cj) == 75_000 and cj["source_customer_id"].nunique() == 2_377
    assert cj["order_id"].nunique() == 47_243
    # the UTC offset is dropped, the wall-clock time kept: 2017-01-28 14:06:53-05:00
    assert cj["timestamp"].iloc[0] == pd.Timestamp("2017-01-28 14:06:53")
    assert cj["timestamp"].notna().all()


@pytest.mark.parametrize(
    ("values", "fmt", "expected"),
    [
        (["13/01/2020 10:30", "02/03/2020 09:00"], None, "2020-01-13 10:30"),  # a day above 12: day first
        (["1/13/2020 10:30", "2/3/2020 9:00"], None, "2020-01-13 10:30"),
        (["20200113", "20200302"], None, "2020-01-13"),
        (["2020-01-13T10:30:00Z", "2020-03-02T09:00:00+01:00"], None, "2020-01-13 10:30"),
        (["13.01.2020", "02.03.2020"], "%d.%m.%Y", "2020-01-13"),
    ],
)
def test_timestamp_formats(values: list[str], fmt: str | None, expected: str) -> None:
    frame = pd.DataFrame({"customer_id": ["a", "b"], "date": values, "amount": ["1", "2"]})
    out = canonical(frame, ColumnMapping(timestamp_format=fmt))
    assert out["timestamp"].iloc[0] == pd.Timestamp(expected)


def test_one_bad_timestamp_is_left_to_cleaning_but_a_bad_column_is_an_error() -> None:
    frame = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "date": ["2020-01-01", "soon", "2020-01-03"], "amount": [1, 2, 3]}
    )
    out = canonical(frame)
    assert out["timestamp"].isna().tolist() == [False, True, False]
    frame["date"] = ["yesterday", "today", "tomorrow"]
    with pytest.raises(InputError, match=r"row 1, column 'date': no known date format .*found 'yesterday'"):
        canonical(frame)


def test_float_ids_lose_their_point_zero() -> None:
    frame = pd.DataFrame(
        {"CustomerID": [17850.0, None], "InvoiceDate": ["2011-01-01", "2011-01-02"], "amount": [1.0, 2.0]}
    )
    out = canonical(frame)
    assert out["source_customer_id"].tolist() == ["17850", None]


def test_european_csv_with_bom_and_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_bytes(
        '\ufeff"Customer ID";"Order Date";"Total"\n7;13.01.2020;1.234,50\n8;14.01.2020;2,5\n'.encode()
    )
    out = canonical(path)
    assert out["amount"].tolist() == [1234.5, 2.5]
    assert out["timestamp"].tolist() == [pd.Timestamp("2020-01-13"), pd.Timestamp("2020-01-14")]


def test_decimal_comma_is_not_guessed_when_some_values_disagree() -> None:
    frame = pd.DataFrame({"customer_id": ["a", "b"], "date": ["2020-01-01"] * 2, "amount": ["1,5", "x"]})
    with pytest.raises(InputError, match=r"row 1, column 'amount': not a number \(1 more rows like it\)"):
        canonical(frame)


def test_day_first_is_recognised_from_a_later_row() -> None:
    # The first rows are ambiguous (day <= 12); the 13th of the month later on decides: day first.
    dates = [f"{d:02d}/01/2020 10:00" for d in range(1, 13)] * 300 + ["13/01/2020 10:00"]
    frame = pd.DataFrame({"customer_id": ["a"] * len(dates), "date": dates, "amount": 1.0})
    out = canonical(frame)
    assert out["timestamp"].notna().all()
    assert out["timestamp"].iloc[1] == pd.Timestamp("2020-01-02 10:00")


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("customer_id,date,amount\n")
    with pytest.raises(InputError, match=r"empty\.csv: the source has no data rows"):
        canonical(path)
