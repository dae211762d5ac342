"""Score customers sent as JSON with the stored models (fitted by CLI runs, never here)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from patron.api.deps import require
from patron.api.schemas import ERROR_RESPONSES, ScoreCreate, ScorePublic
from patron.services.scoring import score_customers

router = APIRouter(
    tags=["scores"],
    dependencies=[Depends(require("score"))],
    responses={**ERROR_RESPONSES, 409: {"description": "No fitted model is stored yet"}},
)

# Up to this many customers are scored on the event loop (about 1 ms of CPU for one customer: a hop to the thread
# pool would cost a good part of that), several requests per pass when they arrive together; bigger requests go to
# the thread pool so they do not hold up the others.
INLINE_CUSTOMERS = 16


@router.post(
    "/score",
    response_model=ScorePublic,
    summary="CLV, P(alive), expected purchases and segment for customers",
)
async def score(body: ScoreCreate, request: Request) -> ScorePublic:
    state = request.app.state
    models = state.models.peek()  # from memory; the store is asked at most every refresh_seconds
    if models is None:

        def load():
            with state.pool.borrow() as repo:
                return state.models.get(repo)

        models = await run_in_threadpool(load)
    records = [c.model_dump() for c in body.customers]
    kwargs = {"horizon": body.horizon, "discount_rate": body.discount_rate, "margin": body.margin}
    if len(records) <= INLINE_CUSTOMERS:
        # on the event loop, together with the other small requests waiting now (patron.api.batching)
        scores = await state.batcher.score(models, records, **kwargs)
    else:
        scores = await run_in_threadpool(score_customers, models, records, **kwargs)
    return ScorePublic(
        clv_run_id=models.clv_run_id,
        churn_run_id=models.churn_run_id,
        segment_run_id=models.segmenter.run_id if models.segmenter else None,
        horizon=body.horizon,
        scores=scores,
    )
