"""Runs and stored models."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query

from patron.api.deps import Repo, require
from patron.api.schemas import ERROR_RESPONSES, ModelPublic, RunPublic
from patron.storage.base import MODELS_TABLE, RUNS_TABLE

router = APIRouter(tags=["runs"], dependencies=[Depends(require("read"))], responses=ERROR_RESPONSES)


def _run(row: dict[str, Any]) -> RunPublic:
    rec = {k: (None if not isinstance(v, dict | list) and pd.isna(v) else v) for k, v in row.items()}
    for key in ("params", "timings", "report"):
        if isinstance(rec.get(key), str):
            rec[key] = json.loads(rec[key])
    return RunPublic(**{k: rec.get(k) for k in RunPublic.model_fields})


@router.get("/runs", response_model=list[RunPublic], summary="Runs, newest first")
def list_runs(
    repo: Repo,
    kind: Annotated[str | None, Query(max_length=100, examples=["clv_fit"])] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunPublic]:
    frame = repo.list_runs(kind).head(limit)
    return [_run(r) for r in frame.to_dict("records")]


@router.get("/runs/{run_id}", response_model=RunPublic, summary="One run")
def get_run(repo: Repo, run_id: str) -> RunPublic:
    return _run(repo.get_run(run_id))


@router.get("/models", response_model=list[ModelPublic], summary="Stored models, newest first")
def list_models(repo: Repo) -> list[ModelPublic]:
    if not repo.has_table(MODELS_TABLE) or not repo.has_table(RUNS_TABLE):
        return []
    frame = repo.query(
        f"SELECT m.name, m.run_id, r.kind, r.finished_at FROM {MODELS_TABLE} m JOIN {RUNS_TABLE} r "
        "ON r.run_id = m.run_id WHERE r.status = 'succeeded' ORDER BY r.finished_at DESC, m.name"
    )
    return [
        ModelPublic(
            name=r["name"],
            run_id=r["run_id"],
            kind=r["kind"],
            finished_at=None if pd.isna(r["finished_at"]) else r["finished_at"],
        )
        for r in frame.to_dict("records")
    ]
