"""The report for the full Online Retail data stays one file under 10 MB with every chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from patron.report import build_report
from patron.services.ingest import ingest
from patron.services.summary import build_summaries
from tests.report.fixtures import write_model_tables
from tests.report.test_build import CHART_IDS


@pytest.mark.slow
def test_online_retail_report_is_small(repo, shared_data: Path, tmp_path: Path) -> None:
    ingest(repo, shared_data / "online_retail.csv.gz")
    build_summaries(repo, time_unit="W", calibration_end="2011-09-09")
    write_model_tables(repo)  # stand-ins for the model tables (see fixtures.py)
    out = build_report(repo, tmp_path / "report.html")
    html = out.read_text()
    assert out.stat().st_size < 10 * 2**20
    for chart in CHART_IDS:
        assert f'id="{chart}"' in html, chart
    assert "4,338" in html  # customers kept, as the shared data README counts them
