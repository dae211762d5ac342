"""``patron keys ...`` through the real CLI (both stores) and ``patron serve`` as a real uvicorn process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from patron.cli.main import app
from patron.services.keys import verify_key
from patron.storage import open_repository
from tests.storage.stores import BACKENDS, store_url

runner = CliRunner()


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    with store_url(request.param, tmp_path) as u:
        yield u


def test_keys_create_list_revoke(url) -> None:
    result = runner.invoke(
        app, ["keys", "create", "--scope", "read", "--scope", "score", "--name", "crm", "--store", url]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("patron_")
    key_id = token.split("_")[1]
    with open_repository(url) as repo:
        assert verify_key(repo, token).scopes == ("read", "score")
    listed = runner.invoke(app, ["keys", "list", "--store", url])
    assert listed.exit_code == 0 and key_id in listed.output and "crm" in listed.output
    assert token.split("_", 2)[2] not in listed.output
    assert runner.invoke(app, ["keys", "revoke", key_id, "--store", url]).exit_code == 0
    with open_repository(url) as repo:
        assert verify_key(repo, token) is None
    again = runner.invoke(app, ["keys", "revoke", key_id, "--store", url])
    assert again.exit_code == 2 and "already revoked" in again.output
    bad = runner.invoke(app, ["keys", "create", "--scope", "write", "--store", url])
    assert bad.exit_code == 2 and "unknown scope(s) ['write']" in bad.output
    missing = runner.invoke(app, ["keys", "revoke", "nope", "--store", url])
    assert missing.exit_code == 2 and "no API key with id 'nope'" in missing.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_runs_uvicorn(tmp_path, workers) -> None:
    """One worker, or two sharing the DuckDB file read-only (an empty store: no runs table yet, none created)."""
    store = str(tmp_path / "s.duckdb")
    result = runner.invoke(app, ["keys", "create", "--scope", "read", "--store", store])
    token = result.output.strip().splitlines()[-1]
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patron.cli.main",
            "serve",
            "--port",
            str(port),
            "--store",
            store,
            "--workers",
            str(workers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "patron serve did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        runs = httpx.get(f"http://127.0.0.1:{port}/runs", headers={"Authorization": f"Bearer {token}"})
        assert runs.status_code == 200 and runs.json() == []
        assert httpx.get(f"http://127.0.0.1:{port}/runs").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_serve_workers_on_a_missing_duckdb_file_is_a_clear_error(tmp_path) -> None:
    result = runner.invoke(app, ["serve", "--workers", "2", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2 and "opens the DuckDB store read-only" in result.output
    result = runner.invoke(app, ["serve", "--workers", "0", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2 and "--workers must be at least 1" in result.output
