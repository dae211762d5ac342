"""`patron demo` runs the whole pipeline on the bundled sample and leaves every step's results in the store."""

from __future__ import annotations

from typer.testing import CliRunner

from patron.cli.main import app
from patron.storage import open_repository


def test_demo_runs_end_to_end_into_a_fresh_store(in_tmp_cwd) -> None:
    result = CliRunner().invoke(app, ["demo", "--store", "demo.duckdb"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Patron demo finished" in result.output
    repo = open_repository("demo.duckdb")
    try:
        kinds = {run["kind"]: run["status"] for run in repo.list_runs().to_dict("records")}
        assert kinds.get("ingest") == "succeeded"
        assert kinds.get("summary") == "succeeded"
        report = repo.read_results("cleaning_report", kind="ingest")
        # every input row is accounted for: kept + dropped = read
        assert int(report["rows"].sum()) > 0
        assert repo.table_columns("btyd_summary")
    finally:
        repo.close()
