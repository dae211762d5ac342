"""``patron ingest`` through Typer's CliRunner (lives here because tests/cli is not this area's)."""

from __future__ import annotations

import gzip
from pathlib import Path

from typer.testing import CliRunner

from patron.cli.main import app
from patron.data import sample_path
from patron.storage import DuckDBRepository

runner = CliRunner()


def test_ingest_prints_a_report_that_adds_up(in_tmp_cwd: Path) -> None:
    # the first 5,000 lines of the shipped sample, gzipped: header recognised, every quirk present
    with gzip.open(sample_path(), "rt", encoding="utf-8", newline="") as fh:
        head = "".join(fh.readline() for _ in range(5_001))
    path = in_tmp_cwd / "head.csv.gz"
    path.write_bytes(gzip.compress(head.encode()))
    result = runner.invoke(app, ["ingest", str(path), "--preset", "classic"], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "Cleaning report" in result.output
    assert "5,000" in result.output and "= sum ✓" in result.output
    assert "missing_customer_id" in result.output and "returns_dropped" in result.output
    with DuckDBRepository(in_tmp_cwd / "patron.duckdb") as repo:
        run = repo.latest_run("ingest")
        assert run["params"]["rules"]["returns"] == "drop"
        assert run["report"]["rows_read"] == 5_000
        assert len(repo.read_table("transactions")) == run["report"]["rows_kept"]


def test_no_source_is_an_error(in_tmp_cwd: Path) -> None:
    result = runner.invoke(app, ["ingest"], terminal_width=200)
    assert result.exit_code == 2 and "name at least one file to ingest (or --sample" in result.output


def test_map_option_and_rule_switches(in_tmp_cwd: Path) -> None:
    path = in_tmp_cwd / "sales.csv"
    path.write_text("Cust;When;Value\nx;01/02/2020;5\nx;01/02/2020;5\ny;03/02/2020;-1\n")
    args = [
        "ingest",
        str(path),
        "--map",
        "customer_id=Cust",
        "--map",
        "timestamp=When",
        "--map",
        "amount=Value",
    ]
    result = runner.invoke(app, [*args, "--duplicates", "drop", "--store", "s.duckdb"], terminal_width=160)
    assert result.exit_code == 0, result.output
    with DuckDBRepository(in_tmp_cwd / "s.duckdb") as repo:
        report = repo.latest_run("ingest")["report"]
    assert report["rows_dropped"]["exact_duplicate"] == 1
    assert report["rows_dropped"]["returns_unmatched"] == 1 and report["rows_kept"] == 1


def test_bad_input_is_one_red_line_and_exit_2(in_tmp_cwd: Path) -> None:
    path = in_tmp_cwd / "bad.csv"
    path.write_text("CustomerID,InvoiceDate,UnitPrice,Quantity\n1,2011-01-01,1.0,2\n2,2011-01-01,abc,1\n")
    result = runner.invoke(app, ["ingest", str(path)], terminal_width=300)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    assert "row 3, column 'UnitPrice'" in lines[0] and "expected a number, found 'abc'" in lines[0]


def test_missing_columns_error(in_tmp_cwd: Path) -> None:
    path = in_tmp_cwd / "cols.csv"
    path.write_text("who,what\na,b\n")
    result = runner.invoke(app, ["ingest", str(path)], terminal_width=300)
    assert result.exit_code == 2
    assert "missing required column(s): customer_id, timestamp" in result.output
    assert "columns present: who, what" in result.output
