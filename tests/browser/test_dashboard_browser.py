"""The dashboard in Chromium: every page loads and draws, the segment export downloads every member, and a
customer's page shows that customer's reasons."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patron.storage import DuckDBRepository
from tests.browser.conftest import assert_charts_rendered

pytestmark = pytest.mark.browser


def _visit(page, url: str, artifacts: Path, name: str) -> int:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    n = assert_charts_rendered(page)
    page.screenshot(path=str(artifacts / f"dashboard-{name}.png"), full_page=True)
    assert page.console_errors == [], (url, page.console_errors)
    return n


def test_pages_load_and_draw(page, dashboard_url: str, browser_store: Path, artifacts: Path) -> None:
    with DuckDBRepository(browser_store, read_only=True) as repo:
        fit = repo.latest_run("churn_fit")["run_id"]
    assert _visit(page, dashboard_url, artifacts, "overview") >= 3
    assert _visit(page, dashboard_url + "segments", artifacts, "segments") >= 2
    _visit(page, dashboard_url + "customers", artifacts, "customers")
    _visit(page, dashboard_url + "runs", artifacts, "runs")
    assert _visit(page, dashboard_url + f"runs/{fit}", artifacts, "run-churn-fit") >= 2
    # navigation works by clicking: overview -> runs
    page.goto(dashboard_url)
    page.get_by_role("link", name="Runs", exact=True).click()
    page.wait_for_url("**/runs")
    assert page.get_by_role("heading", name="Model runs").is_visible()


def test_segment_export_downloads_every_member(
    page, dashboard_url: str, browser_store: Path, artifacts: Path
) -> None:
    with DuckDBRepository(browser_store, read_only=True) as repo:
        assignments = repo.read_results("segment_assignments", kind="segment")
    label = "1"
    _visit(page, dashboard_url + f"segments/model/{label}", artifacts, "segment")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download members (CSV)").click()
    download = info.value
    saved = artifacts / download.suggested_filename
    download.save_as(saved)
    frame = pd.read_csv(saved, dtype={"customer_id": str})
    assert len(frame) == int((assignments["segment"] == label).sum())


def test_customer_page_shows_its_reasons(
    page, dashboard_url: str, browser_store: Path, artifacts: Path
) -> None:
    with DuckDBRepository(browser_store, read_only=True) as repo:
        reasons = repo.read_results("churn_reasons", kind="churn_score")
    cid = str(reasons.sort_values(["customer_id"]).iloc[-1]["customer_id"])
    mine = reasons[reasons["customer_id"] == cid].sort_values("rank")
    # find the customer through the search box, then open the page
    page.goto(dashboard_url)
    page.get_by_label("find a customer").fill(cid)
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name=cid, exact=True).click()
    page.wait_for_url(f"**/customers/{cid}")
    assert_charts_rendered(page)
    page.screenshot(path=str(artifacts / "dashboard-customer.png"), full_page=True)
    rows = page.locator("#reasons tbody tr")
    assert rows.count() == len(mine)
    for i, reason in enumerate(mine["reason"]):
        assert reason in rows.nth(i).inner_text()
    assert page.console_errors == []
