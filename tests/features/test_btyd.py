"""BTYD summary and calibration/holdout split: equality with lifetimes' golden outputs, the published CDNOW
summary, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.errors import ConfigError, InputError
from patron.features import (
    btyd_calibration,
    btyd_summary,
    calibration_and_holdout,
    calibration_sql,
    summary_from_transactions,
    summary_sql,
)
from tests.features.data import cdnow_canonical, cdnow_raw, golden_input, golden_manifest, golden_output

CASES = golden_manifest()


def assert_same_summary(ours: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same customers and columns; integers exactly, floats to 1e-9 relative."""
    ours = ours.copy()
    ours.index = ours.index.astype(str)
    ours = ours.sort_index()
    expected = expected.sort_index()
    assert list(ours.columns) == list(expected.columns)
    assert ours.index.equals(expected.index), "different customers"
    for col in expected.columns:
        if col.startswith("frequency"):
            np.testing.assert_array_equal(
                ours[col].to_numpy(), expected[col].to_numpy().astype(np.int64), col
            )
        else:
            np.testing.assert_allclose(ours[col].to_numpy(), expected[col].to_numpy(), rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def inputs(shared_data: Path) -> dict[str, pd.DataFrame]:
    return {name: golden_input(name, shared_data) for name in ("cdnow", "retail_slice", "synthetic")}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_equals_lifetimes_golden(case: dict, inputs: dict[str, pd.DataFrame]) -> None:
    """Golden files written by lifetimes 0.11.3 (tests/fixtures/golden/make_golden.py) on the same inputs."""
    frame = inputs[case["input"]]
    fn = summary_from_transactions if case["function"] == "summary" else calibration_and_holdout
    ours = fn(frame, **case["kwargs"])
    assert len(ours) == case["rows"]
    assert_same_summary(ours, golden_output(case))


def test_reproduces_published_cdnow_summary(shared_data: Path) -> None:
    """cdnow_customers_summary.csv (Fader, Hardie & Lee 2005; as shipped in lifetimes): day-aggregated purchases,
    weeks as days / 7, 39-week calibration ending 1997-09-30. The file rounds recency and T to 2 dp."""
    tx = cdnow_canonical(shared_data)
    ours = btyd_summary(
        _duck_with(tx), freq="D", freq_multiplier=7, observation_period_end="1997-09-30"
    ).reset_index()
    index = cdnow_raw(shared_data).drop_duplicates("customer_id").set_index("customer_id")["customer_index"]
    ours["ID"] = ours["customer_id"].map(index)
    ours = ours.set_index("ID").sort_index()
    published = pd.read_csv(shared_data / "cdnow_customers_summary.csv.gz", index_col="ID").sort_index()
    assert len(published) == len(ours) == 2357
    assert ours.index.equals(published.index)
    assert (ours["frequency"] == published["frequency"]).all()
    assert int((ours["frequency"] > 0).sum()) == 946
    assert np.abs(ours["recency"] - published["recency"]).max() <= 0.005
    assert np.abs(ours["T"] - published["T"]).max() <= 0.005

    with_tx = pd.read_csv(
        shared_data / "cdnow_customers_summary_with_transactions.csv.gz", index_col="ID"
    ).sort_index()
    assert (ours["frequency"] == with_tx["x"]).all()
    assert np.abs(ours["recency"] - with_tx["t_x"]).max() <= 0.005
    # zbar = mean repeat spend (day-aggregated); the file has 2 dp.
    assert np.abs(ours["monetary_value"] - with_tx["zbar"]).max() <= 0.005 + 1e-9


def test_calibration_of_cdnow_matches_published_calibration(shared_data: Path) -> None:
    """The calibration half of the split is the published summary; the holdout is 39 weeks (273 days)."""
    tx = cdnow_canonical(shared_data)
    cal = btyd_calibration(
        _duck_with(tx),
        calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30",
        freq="D",
        freq_multiplier=7,
    )
    published = pd.read_csv(shared_data / "cdnow_customers_summary.csv.gz")
    assert len(cal) == 2357
    assert sorted(cal["frequency_cal"]) == sorted(published["frequency"])
    assert (cal["duration_holdout"] == 39.0).all()
    # Every CDNOW customer's holdout purchases: 6,919 rows minus those in calibration, counted by distinct day.
    raw = cdnow_raw(shared_data)
    hold = raw[raw["date"] > "1997-09-30"]
    assert cal["frequency_holdout"].sum() == hold.drop_duplicates(["customer_id", "date"]).shape[0]


def test_sql_transpiles_to_postgres_and_spark() -> None:
    for dialect in ("postgres", "spark"):
        sql = summary_sql('"transactions"', observation_period_end="2020-01-01", freq="W", dialect=dialect)
        # PostgreSQL keeps DATE_TRUNC; Spark truncates a DATE with TRUNC(date, 'WEEK') (Monday, as ISO weeks)
        assert "DATE_TRUNC('WEEK'" in sql.upper() or "'WEEK')" in sql.upper()
        sql = calibration_sql(
            '"transactions"',
            calibration_period_end="2020-01-01",
            observation_period_end="2020-06-01",
            freq="M",
            dialect=dialect,
        )
        assert "frequency_holdout" in sql
    # The first period's amount: MIN_BY in Spark, a window in PostgreSQL (which has no ARG_MIN).
    spark = summary_sql('"t"', observation_period_end="2020-01-01", freq="D", dialect="spark")
    postgres = summary_sql('"t"', observation_period_end="2020-01-01", freq="D", dialect="postgres")
    assert "MIN_BY(" in spark and "OVER (PARTITION BY" in postgres


def test_holdout_monetary_period_rule() -> None:
    """With the 'period' rule the holdout mean is over period totals; lifetimes' default is over rows."""
    tx = pd.DataFrame(
        {
            "id": ["a"] * 4,
            "ts": pd.to_datetime(
                ["2020-01-01 00:00", "2020-02-01 10:00", "2020-02-01 11:00", "2020-02-03 00:00"]
            ),
            "spend": [10.0, 4.0, 6.0, 20.0],
        }
    )
    kw = dict(
        calibration_period_end="2020-01-15", observation_period_end="2020-03-01", monetary_value_col="spend"
    )
    rows = calibration_and_holdout(tx, "id", "ts", **kw)
    periods = calibration_and_holdout(tx, "id", "ts", holdout_monetary="period", **kw)
    assert rows.loc["a", "frequency_holdout"] == periods.loc["a", "frequency_holdout"] == 2
    assert rows.loc["a", "monetary_value_holdout"] == pytest.approx(30.0 / 3)
    assert periods.loc["a", "monetary_value_holdout"] == pytest.approx(30.0 / 2)
    assert rows.loc["a", "duration_holdout"] == 46.0


def test_missing_column_is_named() -> None:
    tx = pd.DataFrame({"id": [1], "date": ["2020-01-01"]})
    with pytest.raises(InputError, match=r"column 'spend'.*columns present: \['id', 'date'\]"):
        summary_from_transactions(tx, "id", "date", "spend")


def test_bad_date_names_row_and_value() -> None:
    tx = pd.DataFrame({"id": [1, 2, 3], "date": ["2020-01-01", "2020-13-45", "2020-01-03"]})
    with pytest.raises(
        InputError, match=r"column 'date'.*first at index 1.*expected a date.*found '2020-13-45'"
    ):
        summary_from_transactions(tx, "id", "date")


def test_non_numeric_amount_is_named() -> None:
    tx = pd.DataFrame({"id": [1, 2], "date": ["2020-01-01", "2020-01-02"], "spend": ["3.5", "abc"]})
    with pytest.raises(InputError, match=r"column 'spend'.*first at index 1.*expected a number, found 'abc'"):
        summary_from_transactions(tx, "id", "date", "spend")


def test_missing_customer_id_is_an_error_not_a_dropped_row() -> None:
    tx = pd.DataFrame({"id": [1, None], "date": ["2020-01-01", "2020-01-02"]})
    with pytest.raises(InputError, match=r"column 'id'.*1 row\(s\) have no value.*expected a customer id"):
        summary_from_transactions(tx, "id", "date")


def test_bad_unit_and_split_are_config_errors() -> None:
    tx = pd.DataFrame({"id": [1], "date": ["2020-01-01"]})
    with pytest.raises(ConfigError, match="unknown time unit 'Q'"):
        summary_from_transactions(tx, "id", "date", freq="Q")
    with pytest.raises(ConfigError, match="calibration_period_end 2020-02-01 must be before"):
        calibration_and_holdout(tx, "id", "date", "2020-02-01", observation_period_end="2020-01-01")
    with pytest.raises(ConfigError, match="freq_multiplier must be a positive number"):
        summary_from_transactions(tx, "id", "date", freq_multiplier=0)


def _duck_with(frame: pd.DataFrame):
    import duckdb

    con = duckdb.connect(":memory:")
    con.register("_tx", frame)
    con.execute("CREATE TABLE transactions AS SELECT * FROM _tx")
    return con
