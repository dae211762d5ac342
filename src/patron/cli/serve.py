"""``patron serve``: the HTTP API (FastAPI on uvicorn)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from patron.cli.common import StoreOption, console, user_errors


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
        port: int = typer.Option(8000, "--port", help="TCP port."),
        workers: int = typer.Option(
            1,
            "--workers",
            help="Worker processes, e.g. one per core (on a DuckDB store, more than 1 opens it read-only).",
        ),
        access_log: bool = typer.Option(
            True, "--access-log/--no-access-log", help="Log one line per request (costs CPU at high rates)."
        ),
        store_url: str = StoreOption,
    ) -> None:
        """Serve the API (OpenAPI docs at /docs). Every endpoint but /health and /ready needs an API key."""
        import uvicorn

        from patron.api import create_app
        from patron.config import get_settings
        from patron.errors import ConfigError

        with user_errors():
            settings = get_settings()
            if store_url:
                settings = dataclasses.replace(settings, store=store_url)
            if workers < 1:
                raise ConfigError(f"--workers must be at least 1, got {workers}")
            duckdb = not settings.store.startswith(("postgresql://", "postgres://"))
            if workers > 1 and duckdb:
                # One process may write a DuckDB file, or several may read it: the API only reads, so every
                # worker opens it read-only (and, as with one worker, CLI runs write when the server is stopped).
                if not Path(settings.store).is_file():
                    raise ConfigError(
                        f"--workers {workers} opens the DuckDB store read-only, and {settings.store} does not "
                        "exist yet: run the CLI steps that fill it first"
                    )
                settings = dataclasses.replace(settings, read_only=True)
            mode = " read-only" if settings.read_only else ""
            console.print(f"serving the store {settings.store}{mode} on http://{host}:{port} (docs: /docs)")
        if workers > 1:
            import os

            os.environ["PATRON_STORE"] = settings.store
            os.environ["PATRON_READ_ONLY"] = "1" if settings.read_only else "0"
            uvicorn.run(
                "patron.api:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                access_log=access_log,
            )
        else:
            # uvicorn picks uvloop and httptools (dependencies) over asyncio and h11 by itself.
            uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=access_log)
