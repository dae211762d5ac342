"""The app factory: ``create_app(settings)`` wires the routers, the error handlers, the size limit and the store."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from patron import __version__
from patron.api import errors
from patron.api.batching import ScoreBatcher
from patron.api.deps import RepositoryPool, dashboard_guard, get_repo
from patron.api.limits import BodySizeLimit
from patron.api.routes import customers, dashboard_login, health, queries, runs, scoring, segments
from patron.config import Settings, get_settings
from patron.dashboard import create_router
from patron.services.keys import VerifiedKeyCache
from patron.services.scoring import ModelCache

DESCRIPTION = """
Patron's answers over HTTP: score customers with the stored models, read a customer's stored predictions and
their history, list and export segments, run relate queries, list runs and models.

Every endpoint except `/health` and `/ready` needs an API key (`patron keys create --scope read --scope score`),
sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`. Errors are JSON: `{"error": {"code", "message"}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings.store`` (default: the settings read from the environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything imported and built so far lives as long as the process: moving it out of the collector's
        # generations keeps the periodic full collections (tens of ms with pandas, scipy and sklearn loaded)
        # short, and with them the API's tail latency.
        gc.collect()
        gc.freeze()
        yield
        app.state.pool.close()

    app = FastAPI(
        title="Patron API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = RepositoryPool(settings.store, read_only=settings.read_only)
    app.state.models = ModelCache()
    app.state.keys = VerifiedKeyCache(settings.key_cache_seconds)
    app.state.batcher = ScoreBatcher()
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)

    app.include_router(health.router)
    app.include_router(runs.router)
    app.include_router(segments.router)
    app.include_router(queries.router)
    app.include_router(customers.router)
    app.include_router(scoring.router)
    # The read-only web dashboard, same app and same keys; its login page sets a cookie only its pages accept.
    app.include_router(dashboard_login.router)
    app.include_router(create_router(get_repo, guard=dashboard_guard))
    return app
