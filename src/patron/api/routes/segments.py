"""Segments: list them, read or export their members (JSON or CSV)."""

from __future__ import annotations

import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from patron.api.deps import Repo, require
from patron.api.routes._frames import records
from patron.api.schemas import ERROR_RESPONSES, MembersPublic, SegmentPublic
from patron.services import segments

router = APIRouter(tags=["segments"], dependencies=[Depends(require("read"))], responses=ERROR_RESPONSES)


@router.get("/segments", response_model=list[SegmentPublic], summary="Defined segments")
def list_segments(repo: Repo) -> list[SegmentPublic]:
    return [
        SegmentPublic(name=s.name, kind=s.kind, definition=s.definition, created_at=s.created_at)
        for s in segments.list_segments(repo)
    ]


@router.get(
    "/segments/{name}/members",
    response_model=MembersPublic,
    summary="A segment's members (JSON page, or the whole list as CSV)",
    responses={200: {"content": {"text/csv": {"example": "segment,customer_id\nbig spenders,12347\n"}}}},
)
def segment_members(
    repo: Repo,
    name: str,
    format: Annotated[Literal["json", "csv"], Query(description="json (paged) or csv (everything)")] = "json",
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MembersPublic | Response:
    frame = segments.members(repo, name)
    if format == "csv":
        out = frame.copy()
        out.insert(0, "segment", name)
        buffer = io.StringIO()
        out.to_csv(buffer, index=False)
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="segment-members.csv"'},
        )
    page = frame.iloc[offset : offset + limit]
    return MembersPublic(segment=name, total=len(frame), offset=offset, members=records(page))
