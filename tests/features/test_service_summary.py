"""``patron.services.summary.build_summaries`` on a real store, and the ``patron summary`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from patron.errors import ConfigError, InputError, NotFoundError
from patron.features import calibration_and_holdout, summary_from_transactions
from patron.services.summary import build_summaries
from patron.storage import DuckDBRepository
from tests.features.data import cdnow_canonical, cdnow_raw

CONTRACT = {
    "btyd_summary": ["customer_id", "frequency", "recency", "T", "monetary_value"],
    "btyd_calibration": [
        "customer_id",
        "frequency_cal",
        "recency_cal",
        "T_cal",
        "monetary_value_cal",
        "frequency_holdout",
        "monetary_value_holdout",
        "duration_holdout",
    ],
    "rfm": [
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "monetary_mean",
        "first_purchase",
        "last_purchase",
    ],
    "behaviour": ["customer_id", "category", "orders", "quantity", "amount"],
}


@pytest.fixture(scope="module")
def cdnow_store(tmp_path_factory: pytest.TempPathFactory, shared_data: Path):
    repo = DuckDBRepository(tmp_path_factory.mktemp("store") / "cdnow.duckdb")
    repo.replace_tables({"transactions": cdnow_canonical(shared_data)})
    yield repo
    repo.close()


def test_builds_all_tables_in_one_run(cdnow_store: DuckDBRepository, shared_data: Path) -> None:
    run_id = build_summaries(cdnow_store, time_unit="W", calibration_end="1997-09-30")
    run = cdnow_store.get_run(run_id)
    assert run["kind"] == "summary" and run["status"] == "succeeded"
    assert run["params"]["time_unit"] == "W"
    assert run["params"]["observation_period_end"].startswith("1998-06-30")
    for table, columns in CONTRACT.items():
        assert cdnow_store.table_columns(table) == columns, table

    raw = cdnow_raw(shared_data)
    stored = cdnow_store.read_table("btyd_summary").set_index("customer_id").sort_index()
    expected = summary_from_transactions(raw, "customer_id", "date", "dollars", freq="W")
    pd.testing.assert_frame_equal(stored, expected.rename_axis("customer_id"), check_exact=False, rtol=1e-12)

    cal = cdnow_store.read_table("btyd_calibration").set_index("customer_id").sort_index()
    lifetimes_rule = calibration_and_holdout(
        raw,
        "customer_id",
        "date",
        "1997-09-30",
        freq="W",
        monetary_value_col="dollars",
        holdout_monetary="period",
    )
    pd.testing.assert_frame_equal(
        cal, lifetimes_rule.rename_axis("customer_id"), check_exact=False, rtol=1e-12
    )
    assert (cal["duration_holdout"] == 39).all()

    report = run["report"]
    assert report["rows"] == 6919 and report["customers"] == 2357
    assert report["repeaters"] == int((stored["frequency"] > 0).sum())
    assert report["rows_after_observation_end"] == 0

    rfm = cdnow_store.read_table("rfm").set_index("customer_id")
    assert rfm["monetary"].sum() == pytest.approx(raw["dollars"].sum())
    behaviour = cdnow_store.read_table("behaviour")
    assert run["params"]["behaviour_by"] == "category"  # CDNOW has neither category nor product
    assert set(behaviour["category"]) == {"(uncategorised)"}
    assert behaviour["amount"].sum() == pytest.approx(raw["dollars"].sum())


def test_default_calibration_is_three_quarters_of_history(cdnow_store: DuckDBRepository) -> None:
    run_id = build_summaries(cdnow_store, time_unit="D", observation_period_end="1998-06-30")
    params = cdnow_store.get_run(run_id)["params"]
    # 1997-01-01 + 0.75 * 545 days = 1997-01-01 + 408.75 days = 1998-02-13 18:00, floored to the day.
    assert params["calibration_end"].startswith("1998-02-13") and params["calibration_end_default"]


def test_failed_run_writes_nothing(tmp_path: Path, shared_data: Path) -> None:
    repo = DuckDBRepository(tmp_path / "s.duckdb")
    repo.replace_tables({"transactions": cdnow_canonical(shared_data).head(50)})
    with pytest.raises(ConfigError, match="must be before observation_period_end"):
        build_summaries(repo, calibration_end="2001-01-01")
    assert not repo.has_table("btyd_summary")
    assert repo.list_runs("summary")["status"].tolist() == ["failed"]
    repo.close()


def test_missing_table_and_missing_values_are_clear(tmp_path: Path, shared_data: Path) -> None:
    repo = DuckDBRepository(tmp_path / "s.duckdb")
    with pytest.raises(NotFoundError, match="no 'transactions' table: run `patron ingest FILE` first"):
        build_summaries(repo)
    frame = cdnow_canonical(shared_data).head(20)
    frame.loc[3, "amount"] = np.nan
    repo.replace_tables({"transactions": frame})
    with pytest.raises(InputError, match=r"column 'amount': 1 row\(s\) of 'transactions' have no amount"):
        build_summaries(repo)
    repo.close()


def test_cli_summary_prints_table(in_tmp_cwd: Path, shared_data: Path) -> None:
    from patron.cli.main import app

    with DuckDBRepository(in_tmp_cwd / "patron.duckdb") as repo:
        repo.replace_tables({"transactions": cdnow_canonical(shared_data)})
    result = CliRunner().invoke(app, ["summary", "--unit", "week", "--calibration-end", "1997-09-30"])
    assert result.exit_code == 0, result.output
    assert "customers" in result.output and "2,357" in result.output
    assert "repeat customers" in result.output and "btyd_calibration" in result.output

    bad = CliRunner().invoke(app, ["summary", "--unit", "fortnight"])
    assert bad.exit_code == 2 and "--unit must be day, week or month" in bad.output
    late = CliRunner().invoke(app, ["summary", "--calibration-end", "not-a-date"])
    assert late.exit_code == 2 and "is not a date" in late.output


def test_behaviour_falls_back_to_product_without_categories(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_id": ["1", "2", "3"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-02"]),
            "quantity": [1.0, 2.0, 3.0],
            "amount": [5.0, 6.0, 7.0],
            "product": ["P1", "P2", "P1"],
            "category": [None, None, None],
        }
    )
    with DuckDBRepository(tmp_path / "s.duckdb") as repo:
        repo.replace_tables({"transactions": frame})
        run_id = build_summaries(repo, time_unit="M")
        assert repo.get_run(run_id)["params"]["behaviour_by"] == "product"
        cells = repo.read_table("behaviour").set_index(["customer_id", "category"])
        assert cells.loc[("a", "P2"), "amount"] == 6.0 and cells.loc[("b", "P1"), "quantity"] == 3.0
        summary = repo.read_table("btyd_summary").set_index("customer_id")
        assert summary.loc["a", "frequency"] == 1 and summary.loc["a", "monetary_value"] == 6.0
