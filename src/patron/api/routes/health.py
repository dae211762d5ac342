"""Liveness and readiness: no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from patron import __version__
from patron.api.errors import error_response
from patron.api.schemas import HealthPublic, ReadinessPublic
from patron.storage.base import RUNS_TABLE

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic, summary="The process is up")
def health() -> HealthPublic:
    return HealthPublic(status="ok", version=__version__)


@router.get(
    "/ready",
    response_model=ReadinessPublic,
    summary="The store answers",
    responses={503: {"description": "The store cannot be reached"}},
)
def ready(request: Request) -> ReadinessPublic | JSONResponse:
    pool = request.app.state.pool
    try:
        repo = pool.acquire()
    except Exception:
        return error_response(503, "the store cannot be opened")
    broken = False
    try:
        runs = (
            int(repo.query(f"SELECT count(*) AS n FROM {RUNS_TABLE}")["n"].iloc[0])
            if repo.has_table(RUNS_TABLE)
            else 0
        )
    except Exception:
        broken = True
        return error_response(503, "the store does not answer")
    finally:
        pool.release(repo, broken=broken)
    backend = "postgresql" if getattr(repo, "dialect", "") == "postgres" else "duckdb"
    return ReadinessPublic(status="ready", store=backend, runs=runs)
