"""The dashboard mounted on a bare FastAPI app over the fixture store (read-only connections per request)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from patron.dashboard import create_router
from patron.storage import DuckDBRepository, Repository
from tests.report.fixtures import build_store


@pytest.fixture(scope="session")
def dashboard_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("dashboard") / "store.duckdb")


def make_app(store: Path, guard=None) -> FastAPI:
    def get_repo() -> Iterator[Repository]:
        repo = DuckDBRepository(store, read_only=True)
        try:
            yield repo
        finally:
            repo.close()

    app = FastAPI()
    app.include_router(create_router(get_repo, guard))
    return app


@pytest.fixture(scope="session")
def client(dashboard_store: Path) -> Iterator[TestClient]:
    with TestClient(make_app(dashboard_store)) as c:
        yield c
