"""Open a fresh store of either backend for a test: DuckDB in a temp dir, or PostgreSQL in a schema of its own.

Each PostgreSQL store lives in a new schema (``search_path`` in the URL), dropped afterwards, so parallel test
workers and other test runs sharing the server never see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("PATRON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def postgres_schema(prefix: str = "patron_test") -> Iterator[str]:
    """Create a unique schema; yield a store URL whose search_path is that schema; drop it afterwards."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for a fresh, empty store of ``backend``."""
    if backend == "postgres":
        with postgres_schema() as url:
            yield url
    else:
        yield str(tmp_path / "store.duckdb")
