"""A customer's stored predictions: the latest, and the history over runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from patron.api.deps import Repo, require
from patron.api.routes._frames import records
from patron.api.schemas import ERROR_RESPONSES, CustomerScoresPublic
from patron.services.scoring import customer_scores

router = APIRouter(tags=["scores"], dependencies=[Depends(require("read"))], responses=ERROR_RESPONSES)

CustomerId = Annotated[str, Path(max_length=200, examples=["12347"])]


def _public(customer_id: str, frames: dict) -> CustomerScoresPublic:
    return CustomerScoresPublic(customer_id=customer_id, **{k: records(v) for k, v in frames.items()})


@router.get(
    "/customers/{customer_id}/scores",
    response_model=CustomerScoresPublic,
    summary="The latest stored scores (CLV, churn, reasons, segment), each from the newest run that scored them",
)
def latest_scores(repo: Repo, customer_id: CustomerId) -> CustomerScoresPublic:
    return _public(customer_id, customer_scores(repo, customer_id))


@router.get(
    "/customers/{customer_id}/scores/history",
    response_model=CustomerScoresPublic,
    summary="Every stored score of the customer over runs, newest first",
)
def score_history(
    repo: Repo, customer_id: CustomerId, runs: Annotated[int, Query(ge=1, le=1000)] = 100
) -> CustomerScoresPublic:
    return _public(customer_id, customer_scores(repo, customer_id, history=True, limit_runs=runs))
