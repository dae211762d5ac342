"""`patron demo` runs the whole pipeline on the bundled sample and leaves every step's results in the store."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from patron.cli.main import app
from patron.storage import open_repository


@pytest.mark.slow
def test_demo_runs_end_to_end_into_a_fresh_store(in_tmp_cwd) -> None:
    result = CliRunner().invoke(app, ["demo", "--store", "demo.duckdb"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Patron demo finished" in result.output
    repo = open_repository("demo.duckdb")
    try:
        kinds = {run["kind"]: run["status"] for run in repo.list_runs().to_dict("records")}
        assert kinds.get("ingest") == "succeeded"
        for kind in ("summary", "clv_fit", "clv_score", "segment", "churn_fit", "churn_score"):
            assert kinds.get(kind) == "succeeded", kind
        report = repo.read_results("cleaning_report", kind="ingest")
        # every input row is accounted for: kept + dropped = read
        assert int(report["rows"].sum()) > 0
        assert repo.table_columns("btyd_summary")
        scores = repo.read_results("churn_scores", kind="churn_score")
        reasons = repo.read_results("churn_reasons", kind="churn_score")
        assert set(reasons["customer_id"]) == set(scores["customer_id"])  # a reason for every scored customer
        clv = repo.read_results("clv_scores", kind="clv_score")
        assert len(clv) == len(scores) and (clv["clv_lo_80"] <= clv["clv_hi_80"]).all()
        report = in_tmp_cwd / "patron-out" / "report.html"
        assert report.exists() and report.stat().st_size < 10_000_000
    finally:
        repo.close()
