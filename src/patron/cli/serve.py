"""``patron serve``: the HTTP API (FastAPI on uvicorn)."""

from __future__ import annotations

import dataclasses

import typer

from patron.cli.common import StoreOption, console, user_errors


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
        port: int = typer.Option(8000, "--port", help="TCP port."),
        workers: int = typer.Option(
            1, "--workers", help="Worker processes (PostgreSQL stores only; DuckDB: 1)."
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
            if workers > 1 and not settings.store.startswith(("postgresql://", "postgres://")):
                raise ConfigError("a DuckDB store allows one process: use --workers 1 or a PostgreSQL store")
            console.print(f"serving the store {settings.store} on http://{host}:{port} (docs: /docs)")
        if workers > 1:
            import os

            os.environ["PATRON_STORE"] = settings.store
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
