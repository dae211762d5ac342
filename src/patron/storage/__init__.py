"""Storage: one :class:`Repository` interface; DuckDB (embedded default) and PostgreSQL implement it."""

from __future__ import annotations

from patron.config import get_settings
from patron.storage.base import Repository, Run
from patron.storage.duckdb_store import DuckDBRepository

__all__ = ["DuckDBRepository", "Repository", "Run", "open_repository"]


def open_repository(url: str | None = None, *, read_only: bool = False) -> Repository:
    """Open the store named by ``url`` (default: the ``PATRON_STORE`` setting, ``patron.duckdb``).

    ``postgresql://...`` URLs open PostgreSQL; anything else is a DuckDB file path.
    """
    url = url or get_settings().store
    if url.startswith(("postgresql://", "postgres://")):
        from patron.storage.postgres_store import (
            PostgresRepository,
        )  # imported lazily: psycopg is optional at import

        return PostgresRepository(url)
    return DuckDBRepository(url, read_only=read_only)
