"""The HTML report: self-contained, every section rendered from the store's tables, or a pointer when absent."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from patron.plots.report import plotly_js
from patron.report import build_report
from patron.report.sections import all_sections, top_reasons
from patron.services.ingest import ingest
from tests.report.fixtures import sample_lines

CHART_IDS = [
    "chart-cleaning",
    "chart-monthly-revenue",
    "chart-tracking",
    "chart-conditional",
    "chart-clv-histogram",
    "chart-clv-alive",
    "chart-matrix-expected",
    "chart-matrix-alive",
    "chart-segment-sizes",
    "chart-segment-transitions",
    "chart-reliability",
    "chart-lift",
    "chart-reasons",
]


def test_full_report_is_self_contained(full_repo, tmp_path: Path) -> None:
    out = build_report(full_repo, tmp_path / "sub" / "report.html")
    html = out.read_text()
    # plotly.js embedded exactly once, nothing fetched from the network
    assert html.count(plotly_js()[:200]) == 1
    assert not re.search(r"<script[^>]+src=", html)
    outside = html.replace(plotly_js(), "")
    assert "cdn.plot.ly" not in outside and "https://" not in outside
    for chart in CHART_IDS:
        assert f'id="{chart}"' in html, chart
    assert "not run yet" not in html
    assert out.stat().st_size < 10 * 2**20


def test_sections_show_the_stored_numbers(full_repo) -> None:
    sections = {s.key: s for s in all_sections(full_repo)}
    data = sections["data"]
    report = full_repo.latest_run("ingest")["report"]
    assert dict(data.facts)["rows kept"] == f"{report['rows_kept']:,}"
    rules = [row[0] for row in data.tables[0].rows]
    assert "missing customer id" in rules and "kept" in rules
    # parameters with their intervals
    params = sections["clv-fit"].tables[0]
    r_row = next(row for row in params.rows if row[1] == "r")
    assert r_row[2] == "0.500" and r_row[4] == f"[{0.5 - 1.96 * 0.05:.3f}, {0.5 + 1.96 * 0.05:.3f}]"
    # top customers sorted by CLV, as many as asked
    scores = full_repo.read_results("clv_scores", kind="clv_score")
    top = sections["clv-scores"].tables[0]
    best = scores.sort_values("clv", ascending=False).iloc[0]
    assert top.rows[0][0] == str(best["customer_id"]) and len(top.rows) == 20
    # the transition matrix adds up to the customers who moved
    fig = next(c for c in sections["segments"].charts if c.id == "chart-segment-transitions").figure
    moves = full_repo.read_results("segment_transitions", kind="segment")
    assert sum(map(sum, fig.data[0].z)) == moves["customers"].sum()


def test_tracking_counts_repeat_purchase_days(full_repo) -> None:
    """The actual tracking line ends at the number of repeat purchase days of the calibration cohort."""
    sections = {s.key: s for s in all_sections(full_repo)}
    fig = next(c for c in sections["clv-fit"].charts if c.id == "chart-tracking").figure
    actual = fig.data[0]
    days = full_repo.query(
        'SELECT customer_id, COUNT(DISTINCT CAST("timestamp" AS DATE)) - 1 AS repeats FROM transactions '
        "WHERE customer_id IN (SELECT customer_id FROM btyd_calibration) GROUP BY 1"
    )
    assert actual.y[-1] == days["repeats"].sum()
    assert list(actual.y) == sorted(actual.y)  # cumulative


def test_top_reasons_counts_customers() -> None:
    reasons = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c"],
            "rank": [1, 2, 1, 2, 1],
            "feature": ["recency", "orders", "recency", "spend", "orders"],
            "contribution": [0.5, 0.2, 0.3, -0.1, 0.4],
            "reason": ["r", "o", "r", "s", "o"],
        }
    )
    top = top_reasons(reasons).set_index("feature")
    assert top.loc["recency", "first"] == 2 and top.loc["orders", "top3"] == 2
    assert top.loc["spend", "first"] == 0
    assert top.index[0] == "recency"


def test_partial_store_says_what_to_run(repo, tmp_path: Path) -> None:
    """Only ingest has run: the data section renders, every other section names its command."""
    ingest(repo, sample_lines(40))
    html = build_report(repo, tmp_path / "r.html").read_text()
    assert 'id="chart-cleaning"' in html
    for command in (
        "patron clv fit",
        "patron clv score",
        "patron segment",
        "patron churn fit",
        "patron churn score",
    ):
        assert f"not run yet: run `{command}`" in html.replace("&#96;", "`")


def test_empty_store_report(repo, tmp_path: Path) -> None:
    html = build_report(repo, tmp_path / "r.html").read_text()
    assert "not run yet: run `patron ingest FILE`" in html.replace("&#96;", "`")


def test_cli_report(fixture_store: Path, tmp_path: Path) -> None:
    from patron.cli.main import app

    out = tmp_path / "cli.html"
    result = CliRunner().invoke(app, ["report", "--store", str(fixture_store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "report written to" in result.output
    bad = CliRunner().invoke(
        app, ["report", "--store", str(fixture_store), "--run", "nope", "--out", str(out)]
    )
    assert bad.exit_code == 2 and "no run with id 'nope'" in bad.output


def test_run_id_selects_that_runs_tables(repo, tmp_path: Path) -> None:
    """--run shows the given run's rows for the tables it wrote; the latest run otherwise."""
    first = ingest(repo, sample_lines(20))
    second = ingest(repo, sample_lines(40))
    assert first.rows_read != second.rows_read
    old = {s.key: s for s in all_sections(repo, first.run_id)}["data"]
    new = {s.key: s for s in all_sections(repo)}["data"]
    assert dict(old.facts)["rows read"] == f"{first.rows_read:,}" and first.run_id in old.run
    assert dict(new.facts)["rows read"] == f"{second.rows_read:,}" and second.run_id in new.run
