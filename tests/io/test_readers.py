"""Readers: every format lands as the same raw table, with line numbers that point into the source."""

from __future__ import annotations

import gzip
import os
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from patron.errors import InputError
from patron.io.readers import LINE, as_source, file_sha256, read_source

CSV_TEXT = (
    "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
    "1,A,2,2011-01-01 10:00:00,1.5,17850\n"
    '2,"B, with comma",1,2011-01-02 11:00:00,3.0,\n'
)


def test_csv_plain_and_gzip_read_the_same(tmp_path: Path) -> None:
    plain = tmp_path / "t.csv"
    plain.write_text(CSV_TEXT)
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(CSV_TEXT.encode()))
    a, b = read_source(plain), read_source(packed)
    assert a.columns == ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    assert a.table.to_pandas().drop(columns=[]).equals(b.table.to_pandas())
    assert a.table.column(LINE).to_pylist() == [2, 3]  # header is line 1
    assert a.table.column("StockCode").to_pylist() == ["A", "B, with comma"]
    assert a.table.column("CustomerID").to_pylist() == ["17850", None]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "t.txt"
    path.write_text(
        CSV_TEXT.replace(",", delimiter).replace('"B' + delimiter + " with comma", '"B with comma')
    )
    raw = read_source(path)
    assert raw.columns[0] == "InvoiceNo" and raw.table.num_rows == 2


def test_cdnow_headerless_whitespace_gets_its_column_names(shared_data: Path) -> None:
    raw = read_source(shared_data / "cdnow_sample.txt.gz")
    assert raw.columns == ["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"]
    assert raw.table.num_rows == 6919
    frame = raw.table.to_pandas()
    assert frame.iloc[0].tolist() == [1, "00004", "0001", "19970101", "2", "29.33"]  # line 1: no header


def test_parquet_excel_and_frame(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"customer": ["a", "b"], "date": pd.to_datetime(["2020-01-01", "2020-01-02"]), "amount": [1.0, 2.5]}
    )
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    pq = read_source(tmp_path / "t.parquet")
    xl = read_source(tmp_path / "t.xlsx")
    fr = read_source(frame)
    assert pq.table.column(LINE).to_pylist() == [1, 2]
    assert xl.table.column(LINE).to_pylist() == [2, 3]  # sheet row 1 is the header
    assert xl.table.column("amount").to_pylist() == ["1", "2.5"]
    assert fr.columns == pq.columns == xl.columns == ["customer", "date", "amount"]


def test_duckdb_table_source(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE sales AS SELECT 'c1' AS customer_id, DATE '2020-01-01' AS date, 9.5 AS amount")
    con.close()
    raw = read_source(f"duckdb:{db}::sales")
    assert raw.table.num_rows == 1 and raw.columns == ["customer_id", "date", "amount"]
    assert as_source(f"{db}::SELECT * FROM sales").query == "SELECT * FROM sales"
    with pytest.raises(InputError, match="cannot read nosuch"):
        read_source(f"duckdb:{db}::nosuch")


@pytest.mark.postgres
def test_postgres_table_and_query() -> None:
    import psycopg

    url = os.environ.get("PATRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    table = f"patron_io_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (customer_id text, ts timestamp, amount numeric(10,2), qty int)")
        conn.execute(
            f"INSERT INTO {table} VALUES ('c1', '2020-01-01 10:00', 12.50, 1), ('c2', '2020-01-02', 3.10, 2)"
        )
        try:
            raw = read_source(f"{url}::{table}")
            assert raw.table.num_rows == 2 and raw.columns == ["customer_id", "ts", "amount", "qty"]
            assert raw.name.endswith(f"::{table}")
            picked = read_source(f"{url}::SELECT customer_id, amount FROM {table} WHERE qty = 2")
            assert picked.table.to_pandas()["customer_id"].tolist() == ["c2"]
        finally:
            conn.execute(f"DROP TABLE {table}")


def test_bad_encoding_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"customer,date,amount\nc1,2020-01-01,1\nM\xfcller,2020-01-02,2\n")
    with pytest.raises(InputError, match=r"latin\.csv, row 3: the file is not valid utf-8 text"):
        read_source(path)
    raw = read_source(as_source(path, encoding="latin-1"))
    assert raw.table.column("customer").to_pylist()[1] == "Müller"


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("customer,date,amount\nc1,2020-01-01,1\nc2,2020-01-02,2,extra,fields\n")
    with pytest.raises(InputError, match=r"ragged\.csv, row 3: .*wrong number of fields"):
        read_source(path)


def test_missing_file() -> None:
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        read_source("nope.csv")


def test_fingerprint_is_sha256_of_the_bytes(shared_data: Path) -> None:
    path = shared_data / "cdnow_sample.txt.gz"
    assert file_sha256(path) == "5acfc85900e7fd346702395083244873ae3f156a3dcad1547b4ae723262bdad2"
    assert read_source(path).fingerprint == file_sha256(path)


def test_whitespace_file_with_bad_encoding(tmp_path: Path) -> None:
    path = tmp_path / "ws.txt"
    path.write_bytes(b"customer date amount\nc1 20200101 1\nM\xfcller 20200102 2\n")
    with pytest.raises(InputError, match=r"ws\.txt: the file is not valid utf-8 text .*at byte"):
        read_source(path)
    assert (
        read_source(as_source(path, encoding="latin-1")).table.column("customer").to_pylist()[1] == "Müller"
    )
