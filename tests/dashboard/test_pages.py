"""Dashboard pages over a store with every table, over an empty store, the CSV export and the guard."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from fastapi import Header, HTTPException
from fastapi.testclient import TestClient

from patron.plots.report import plotly_js_path
from patron.storage import DuckDBRepository
from tests.dashboard.conftest import make_app


@pytest.mark.parametrize(
    "path", ["/dashboard/", "/dashboard/segments", "/dashboard/customers", "/dashboard/runs"]
)
def test_pages_load(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert "<nav>" in r.text and "plotly.min.js" in r.text
    assert "Traceback" not in r.text


def test_overview_shows_the_store(client: TestClient, dashboard_store: Path) -> None:
    with DuckDBRepository(dashboard_store, read_only=True) as repo:
        n = repo.query("SELECT COUNT(DISTINCT customer_id) AS n FROM customers").iloc[0]["n"]
    html = client.get("/dashboard/").text
    assert f"<dd>{n:,}</dd>" in html
    assert 'id="chart-churn-histogram"' in html and 'id="chart-clv-histogram"' in html


def test_segment_page_and_export(client: TestClient, dashboard_store: Path) -> None:
    with DuckDBRepository(dashboard_store, read_only=True) as repo:
        assignments = repo.read_results("segment_assignments", kind="segment")
    label = "2"
    expected = assignments[assignments["segment"] == label]
    page = client.get(f"/dashboard/segments/model/{label}")
    assert page.status_code == 200 and "Big spenders" in page.text
    assert f"segments/model/{label}/members.csv" in page.text
    r = client.get(f"/dashboard/segments/model/{label}/members.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    frame = pd.read_csv(io.StringIO(r.text), dtype={"customer_id": str})
    assert len(frame) == len(expected)
    assert set(frame["customer_id"]) == set(expected["customer_id"].astype(str))
    assert {"clv", "churn_probability"} <= set(frame.columns)
    assert client.get("/dashboard/segments/model/nope").status_code == 404
    assert client.get("/dashboard/segments/model/nope/members.csv").status_code == 404


def test_customer_page_shows_its_reasons(client: TestClient, dashboard_store: Path) -> None:
    with DuckDBRepository(dashboard_store, read_only=True) as repo:
        reasons = repo.read_results("churn_reasons", kind="churn_score")
    cid = str(reasons["customer_id"].iloc[0])
    mine = reasons[reasons["customer_id"] == cid].sort_values("rank")
    html = client.get(f"/dashboard/customers/{cid}").text
    assert f"Customer {cid}" in html
    for reason in mine["reason"]:
        assert reason in html
    assert 'id="chart-customer-orders"' in html and 'id="chart-customer-churn"' in html
    assert html.count('<td class="num">') >= len(mine)  # one row per reason, ranked
    assert client.get("/dashboard/customers/not-a-customer").status_code == 404


def test_customer_search(client: TestClient) -> None:
    html = client.get("/dashboard/customers", params={"q": "12"}).text
    assert "customers/12" in html


def test_run_pages_show_diagnostics(client: TestClient, dashboard_store: Path) -> None:
    with DuckDBRepository(dashboard_store, read_only=True) as repo:
        fit = repo.latest_run("churn_fit")["run_id"]
        ingest = repo.latest_run("ingest")["run_id"]
    html = client.get(f"/dashboard/runs/{fit}").text
    assert 'id="chart-reliability"' in html and 'id="chart-lift"' in html
    assert "churn_metrics" in html
    assert 'id="chart-cleaning"' in client.get(f"/dashboard/runs/{ingest}").text
    assert client.get("/dashboard/runs/nope").status_code == 404


def test_static_assets_are_bundled(client: TestClient) -> None:
    js = client.get("/dashboard/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) == plotly_js_path().stat().st_size
    assert client.get("/dashboard/static/style.css").status_code == 200
    assert client.get("/dashboard/static/other.js").status_code == 404


def test_empty_store_pages_say_what_to_run(tmp_path: Path) -> None:
    store = tmp_path / "empty.duckdb"
    DuckDBRepository(store).close()
    with TestClient(make_app(store)) as c:
        for path in ("/dashboard/", "/dashboard/segments", "/dashboard/customers", "/dashboard/runs"):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text)
        assert "not run yet" in c.get("/dashboard/").text


def test_guard_protects_every_page(dashboard_store: Path) -> None:
    def guard(x_api_key: str | None = Header(default=None)) -> None:
        if x_api_key != "secret":
            raise HTTPException(status_code=401, detail="missing or wrong API key")

    with TestClient(make_app(dashboard_store, guard)) as c:
        assert c.get("/dashboard/").status_code == 401
        assert c.get("/dashboard/static/style.css").status_code == 401
        assert c.get("/dashboard/", headers={"X-API-Key": "secret"}).status_code == 200
