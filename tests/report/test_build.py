"""The HTML report: self-contained, every section rendered from the store's tables, or a pointer when absent."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from patron.plots.report import plotly_js
from patron.report import build_report
from patron.report.sections import all_sections, fmt_num, top_reasons
from patron.services.ingest import ingest
from tests.report.fixtures import sample_lines

CHART_IDS = [
    "chart-cleaning",
    "chart-monthly-revenue",
    "chart-parameters-purchase",
    "chart-parameters-spend",
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
    "chart-survival",
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
    assert 'class="note"' not in html  # every fit check was drawn
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
    stored = full_repo.read_results("clv_parameters", kind="clv_fit").set_index(["model", "parameter"])
    r = stored.loc[("purchase", "r")]
    r_row = next(row for row in params.rows if row[:2] == ["purchase", "r"])
    assert r_row[2:] == [
        fmt_num(r["estimate"]),
        fmt_num(r["se"]),
        f"[{fmt_num(r['lower_95'])}, {fmt_num(r['upper_95'])}]",
    ]
    # top customers sorted by CLV, as many as asked
    scores = full_repo.read_results("clv_scores", kind="clv_score")
    top = sections["clv-scores"].tables[0]
    best = scores.sort_values("clv", ascending=False).iloc[0]
    assert top.rows[0][0] == str(best["customer_id"]) and len(top.rows) == 20
    # the transition matrix adds up to the customers who moved
    fig = next(c for c in sections["segments"].charts if c.id == "chart-segment-transitions").figure
    moves = full_repo.read_results("segment_transitions", kind="segment")
    last = moves.sort_values(["to_period", "from_period"]).iloc[-1]
    pair = moves[(moves["from_period"] == last["from_period"]) & (moves["to_period"] == last["to_period"])]
    assert sum(map(sum, fig.data[0].z)) == pair["customers"].sum()


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


class ModelWithoutPredictions:
    """A stored 'purchase' model that cannot predict (e.g. from an older package version)."""


def test_fit_checks_that_cannot_be_drawn_become_notes(repo, tmp_path: Path) -> None:
    from patron.services.summary import build_summaries
    from tests.report.fixtures import CALIBRATION_END

    ingest(repo, sample_lines(60))
    build_summaries(repo, time_unit="W", calibration_end=CALIBRATION_END)
    with repo.run("clv_fit") as run:
        run.write(
            "clv_parameters",
            pd.DataFrame({"model": ["purchase"], "parameter": ["r"], "estimate": [1.0], "se": [0.1]}).assign(
                lower_95=0.8, upper_95=1.2
            ),
        )
        run.save_model("purchase", ModelWithoutPredictions())
    sections = {s.key: s for s in all_sections(repo)}
    fit = sections["clv-fit"]
    assert fit.tables and [c.id for c in fit.charts] == ["chart-parameters-purchase"]
    assert any("tracking plot not drawn" in n for n in fit.notes)
    assert any("conditional expectations not drawn" in n for n in fit.notes)
    assert any("not drawn" in n for n in sections["matrices"].notes)
    build_report(repo, tmp_path / "r.html")  # renders


def test_tracking_expectation_is_the_cohort_sum(full_repo) -> None:
    """The expected cumulative line at the last period is the sum over the cohort of E[X(t_i)], t_i the weeks
    from each first purchase to the last day observed (evaluation.tracking's exposure), computed here customer
    by customer with the stored model's E[X(t)]."""
    from tests.report.fixtures import CALIBRATION_END

    model = full_repo.load_model("purchase", kind="clv_fit")
    sections = {s.key: s for s in all_sections(full_repo)}
    fig = next(c for c in sections["clv-fit"].charts if c.id == "chart-tracking").figure
    expected = fig.data[1].y
    firsts = full_repo.query(
        'SELECT MIN(CAST("timestamp" AS DATE)) AS first FROM transactions GROUP BY customer_id'
    )["first"].map(pd.Timestamp)
    cohort = firsts[firsts <= pd.Timestamp(CALIBRATION_END)]
    last = pd.Timestamp(
        full_repo.query('SELECT MAX(CAST("timestamp" AS DATE)) AS d FROM transactions')["d"][0]
    )
    total = sum(model.expected_purchases_new_customer(float((last - f).days / 7)) for f in cohort)
    assert expected[-1] == pytest.approx(total, rel=1e-9)
