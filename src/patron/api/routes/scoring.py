"""Score customers sent as JSON with the stored models (fitted by CLI runs, never here)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from patron.api.deps import Repo, require
from patron.api.schemas import ERROR_RESPONSES, ScoreCreate, ScorePublic
from patron.services.scoring import score_customers

router = APIRouter(
    tags=["scores"],
    dependencies=[Depends(require("score"))],
    responses={**ERROR_RESPONSES, 409: {"description": "No fitted model is stored yet"}},
)


@router.post(
    "/score", response_model=ScorePublic, summary="CLV, P(alive) and expected purchases for customers"
)
def score(repo: Repo, body: ScoreCreate, request: Request) -> ScorePublic:
    models = request.app.state.models.get(repo)
    scores = score_customers(
        models,
        [c.model_dump() for c in body.customers],
        horizon=body.horizon,
        discount_rate=body.discount_rate,
        margin=body.margin,
    )
    return ScorePublic(
        clv_run_id=models.clv_run_id, churn_run_id=models.churn_run_id, horizon=body.horizon, scores=scores
    )
