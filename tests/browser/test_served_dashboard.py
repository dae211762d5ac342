"""The dashboard as `patron serve` serves it: inside the API app, behind its keys, signed in through the login form."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from patron.api import create_app
from patron.config import Settings
from patron.services.keys import create_key
from patron.storage import open_repository
from tests.browser.conftest import _free_port, assert_charts_rendered

pytestmark = pytest.mark.browser


def test_sign_in_with_a_read_key_then_browse(
    page, browser_store: Path, tmp_path: Path, artifacts: Path
) -> None:
    import uvicorn

    store = tmp_path / "served.duckdb"
    shutil.copy(browser_store, store)  # its own file: the session store is held open read-only elsewhere
    repo = open_repository(str(store))
    try:
        _, token = create_key(repo, ["read"], name="browser test")
    finally:
        repo.close()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(Settings(store=str(store))), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API server did not start"
        time.sleep(0.05)
    try:
        base = f"http://127.0.0.1:{port}"
        page.goto(base + "/dashboard/segments")
        assert page.url.startswith(base + "/dashboard/login")  # no key yet: sent to the form, not a JSON 401
        page.fill("input[name=key]", "not-a-key")
        page.click("button[type=submit]")
        assert "not valid" in page.content()
        page.console_errors.clear()  # the refused key's 401 was logged by the browser, as it should be
        page.fill("input[name=key]", token)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/dashboard/segments")
        assert assert_charts_rendered(page) >= 1
        page.screenshot(path=str(artifacts / "dashboard-served-segments.jpg"), full_page=True, type="jpeg")
        assert page.console_errors == [], page.console_errors
        # the cookie opens the dashboard only: the JSON API still wants the key in a header
        assert page.request.get(base + "/runs").status == 401
    finally:
        server.should_exit = True
        thread.join(timeout=10)
