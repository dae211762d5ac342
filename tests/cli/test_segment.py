"""`patron segment` through the real CLI on the bundled Online Retail sample and the Complete Journey sample."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from patron.cli.main import app
from patron.data import sample_path
from patron.storage import DuckDBRepository


def _run(*args: str):
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


def _check_run(store, period: str) -> None:
    with DuckDBRepository(store) as repo:
        record = repo.latest_run("segment")
        assert record is not None and record["params"]["period"] == period
        run_id = record["run_id"]
        assignments = repo.read_results("segment_assignments", run_id=run_id)
        profiles = repo.read_results("segment_profiles", run_id=run_id)
        states = repo.read_results("segment_periods", run_id=run_id)
        transitions = repo.read_results("segment_transitions", run_id=run_id)
        customers = len(repo.read_table("rfm"))
    assert len(assignments) == customers and profiles["size"].sum() == customers
    assert profiles["description"].str.len().min() > 50
    assert 0 <= record["report"]["stability"] <= 1
    # customers are conserved: each transition's rows add up to the previous period's states plus newcomers
    last = transitions[transitions["to_period"] == transitions["to_period"].max()]
    prev_period = last["from_period"].iloc[0]
    prev_sizes = states[states["period"] == prev_period]["segment"].value_counts().to_dict()
    rows = last[last["from_segment"] != "new"].groupby("from_segment")["customers"].sum().to_dict()
    assert rows == prev_sizes


@pytest.mark.slow
def test_segment_online_retail_sample(in_tmp_cwd) -> None:
    _run("ingest", str(sample_path()))
    _run("summary")
    result = _run("segment", "--period", "quarter")
    assert "hdbscan segments of" in result.output and "stability" in result.output
    assert "Transitions 2011Q3 -> 2011Q4" in result.output
    _check_run(in_tmp_cwd / "patron.duckdb", "quarter")
    out = in_tmp_cwd / "patron-out"
    assert (out / "segments.html").stat().st_size > 1_000_000  # plotly.js inline: works offline
    assert 'src="https://cdn' not in (out / "segments.html").read_text()
    sizes = json.loads((out / "segment_sizes.json").read_text())
    assert sizes["data"][0]["type"] == "bar"
    # every segment is registered by name and exportable
    result = _run("export", "segment", "hdbscan-0", "--format", "csv", "--out", "seg0.csv")
    assert (in_tmp_cwd / "seg0.csv").read_text().startswith("segment,customer_id,strength")
    # RFM and K-Means through the same command
    result = _run("segment", "--method", "rfm")
    assert "Champions" in result.output
    result = _run("segment", "--method", "kmeans", "--k", "3")
    assert "kmeans segments of" in result.output
    # HDBSCAN on a sample of the customers (the rest assigned), and exactly on all of them with 0. The sample
    # keeps at least 25 x customers / min_cluster_size rows, hence the large minimum on this 952-customer sample.
    with DuckDBRepository(in_tmp_cwd / "patron.duckdb") as repo:
        customers = len(repo.read_table("rfm"))
    for flag, fitted in (("300", lambda n: 300 <= n < customers), ("0", lambda n: n == customers)):
        _run("segment", "--max-fit-samples", flag, "--min-cluster-size", "80")
        with DuckDBRepository(in_tmp_cwd / "patron.duckdb") as repo:
            record = repo.latest_run("segment")
        assert record["params"]["max_fit_samples"] == (int(flag) or None)
        assert fitted(record["report"]["fit_rows"]), record["report"]["fit_rows"]
        assert record["report"]["customers"] == customers


@pytest.mark.slow
def test_segment_complete_journey(shared_data, in_tmp_cwd) -> None:
    _run("ingest", str(shared_data / "completejourney_transactions_sample.csv.gz"))
    _run("summary")
    result = _run("segment", "--method", "kmeans", "--period", "quarter")
    assert "Transitions 2017Q3 -> 2017Q4" in result.output
    _check_run(in_tmp_cwd / "patron.duckdb", "quarter")


def test_bad_method_is_a_clear_error(in_tmp_cwd) -> None:
    result = CliRunner().invoke(app, ["segment", "--method", "dbscan"])
    assert result.exit_code == 2 and "method must be one of" in result.output
