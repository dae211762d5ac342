"""One settings object, read from the environment (``PATRON_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    """Process-wide settings.

    store:
        Where results live: a DuckDB file path (the embedded default, ``patron.duckdb`` in the working directory)
        or a PostgreSQL URL (``postgresql://user@host:5432/db``). Env: ``PATRON_STORE``.
    output_dir:
        Where plots, reports and exports are written. Env: ``PATRON_OUTPUT_DIR``.
    """

    store: str = field(default_factory=lambda: _env("PATRON_STORE", "patron.duckdb"))
    output_dir: Path = field(default_factory=lambda: Path(_env("PATRON_OUTPUT_DIR", "patron-out")))
    max_request_bytes: int = field(
        default_factory=lambda: int(_env("PATRON_MAX_REQUEST_BYTES", str(10 * 2**20)))
    )
    # Open the store read-only (the API never writes): lets several server processes share one DuckDB file.
    read_only: bool = field(
        default_factory=lambda: _env("PATRON_READ_ONLY", "0").lower() in ("1", "true", "yes")
    )
    # How long the API trusts a key it verified: a revoked key stops working within this many seconds.
    key_cache_seconds: float = field(default_factory=lambda: float(_env("PATRON_KEY_CACHE_SECONDS", "2")))


def get_settings() -> Settings:
    """Settings as the environment says now (read on every call, so tests can set env vars)."""
    return Settings()
