"""Playwright driving the system Chromium (never a downloaded browser), and the dashboard served by uvicorn in a
background thread on a free port. Screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.report.fixtures import build_store

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash scripts/system-deps.sh` once (Debian's chromium package)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.console_errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("browser") / "store.duckdb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def dashboard_url(browser_store: Path) -> Iterator[str]:
    import uvicorn

    from tests.dashboard.conftest import make_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(make_app(browser_store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the dashboard server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/dashboard/"
    server.should_exit = True
    thread.join(timeout=10)


def assert_charts_rendered(page) -> int:
    """Every plotly div on the page has drawn its SVG; returns how many charts there are."""
    charts = page.locator("div.plotly-graph-div")
    n = charts.count()
    for i in range(n):
        charts.nth(i).locator("svg.main-svg").first.wait_for(state="attached", timeout=10_000)
    return n


def keep_copy(path: Path, artifacts: Path, name: str) -> None:
    shutil.copy(path, artifacts / name)
