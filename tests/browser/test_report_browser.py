"""The report opens in Chromium with no console errors and every chart draws (offline: no network at all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from patron.report import build_report
from patron.storage import DuckDBRepository
from tests.browser.conftest import assert_charts_rendered
from tests.report.test_build import CHART_IDS

pytestmark = pytest.mark.browser


def test_report_renders_offline(page, browser_store: Path, artifacts: Path, tmp_path: Path) -> None:
    with DuckDBRepository(browser_store, read_only=True) as repo:
        out = build_report(repo, tmp_path / "report.html")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    assert assert_charts_rendered(page) == len(CHART_IDS)
    for chart in CHART_IDS:
        assert page.locator(f"#{chart} svg.main-svg").count() >= 1, chart
    assert page.console_errors == []
    assert all(u.startswith("file://") for u in requests), requests  # nothing fetched from the network
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
