"""The same SQL, transpiled by SQLGlot, on the live PostgreSQL: identical results to DuckDB on CDNOW."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from patron.features import behaviour, btyd_calibration, btyd_summary, rfm
from tests.features.data import cdnow_canonical

pytestmark = pytest.mark.postgres

URL = os.environ.get("PATRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def pg_table(shared_data: Path):
    import psycopg

    frame = cdnow_canonical(shared_data)[
        ["customer_id", "order_id", "timestamp", "quantity", "amount", "category"]
    ]
    schema = f"patron_features_{uuid.uuid4().hex[:10]}"  # unique: other test runs may share the server
    con = psycopg.connect(URL, autocommit=True)
    con.execute(f'CREATE SCHEMA "{schema}"')
    con.execute(
        f'CREATE TABLE "{schema}".transactions (customer_id TEXT, order_id TEXT, "timestamp" TIMESTAMP, '
        "quantity DOUBLE PRECISION, amount DOUBLE PRECISION, category TEXT)"
    )
    with con.cursor() as cur, cur.copy(f'COPY "{schema}".transactions FROM STDIN') as copy:
        for row in frame.itertuples(index=False):
            copy.write_row([None if pd.isna(v) else v for v in row])
    try:
        yield con, f"{schema}.transactions", frame
    finally:
        con.execute(f'DROP SCHEMA "{schema}" CASCADE')
        con.close()


def _duck(frame: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.register("_f", frame)
    con.execute("CREATE TABLE transactions AS SELECT * FROM _f")
    return con


@pytest.mark.parametrize("freq", ["D", "W", "M"])
def test_btyd_on_postgres_equals_duckdb(pg_table, freq: str) -> None:
    pg, table, frame = pg_table
    duck = _duck(frame)
    a = btyd_summary(pg, table, freq=freq)
    b = btyd_summary(duck, freq=freq)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    a = btyd_calibration(pg, table, calibration_period_end="1997-09-30", freq=freq)
    b = btyd_calibration(duck, calibration_period_end="1997-09-30", freq=freq)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_rfm_and_behaviour_on_postgres_equal_duckdb(pg_table) -> None:
    pg, table, frame = pg_table
    duck = _duck(frame)
    a, b = rfm(pg, table), rfm(duck)
    assert a.index.equals(b.index)
    for col in a.columns:
        if col in ("first_purchase", "last_purchase"):
            assert (a[col] == b[col]).all(), col
        else:
            np.testing.assert_allclose(a[col], b[col], rtol=1e-12)
    a, b = behaviour(pg, table), behaviour(duck)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
