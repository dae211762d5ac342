"""JSON queries: relate scans and customer conditions (compiled to parameterised SQL by patron.query)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from patron.api.deps import Repo, require
from patron.api.routes._frames import records
from patron.api.schemas import (
    ERROR_RESPONSES,
    CustomerQueryCreate,
    CustomerQueryPublic,
    RelateCreate,
    RelatePublic,
)
from patron.services import relate
from patron.services.segments import Segment, members

router = APIRouter(tags=["queries"], dependencies=[Depends(require("read"))], responses=ERROR_RESPONSES)


@router.post("/relate", response_model=RelatePublic, summary="Run a relate query (not stored)")
def run_relate(repo: Repo, body: RelateCreate) -> RelatePublic:
    result, parsed, _ = relate.scan(repo, body.query)
    selected = relate.select_patterns(result, parsed)
    target = parsed.raw.get("target") or next(
        (e["target"] for e in parsed.raw["relate"] if isinstance(e, dict) and set(e) == {"target"}), None
    )
    return RelatePublic(
        target=relate.describe_target(target),
        n_customers=int(result.attrs["n_customers"]),
        base_rate=float(result.attrs["base_rate"]),
        patterns=records(selected),
    )


@router.post("/customers/query", response_model=CustomerQueryPublic, summary="Customers meeting a condition")
def customers_query(repo: Repo, body: CustomerQueryCreate) -> CustomerQueryPublic:
    # An unnamed, unstored "where" segment: the segments service compiles and runs it.
    ids = members(repo, Segment("query", "where", {"where": body.where, "from": body.from_}))[
        "customer_id"
    ].tolist()
    return CustomerQueryPublic(total=len(ids), customer_ids=ids[: body.limit])
