"""A fixture store shared by the report tests (built once per session; tests only read it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from patron.storage import DuckDBRepository
from tests.report.fixtures import build_store


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("report") / "store.duckdb")


@pytest.fixture
def full_repo(fixture_store: Path):
    repo = DuckDBRepository(fixture_store, read_only=True)
    yield repo
    repo.close()
