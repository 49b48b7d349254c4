"""The class overview as data for the API (Bearer session token): the page's figures as
JSON and its tables as CSV. The launch course's instructors only; HTTP in and out."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

import clock
from auth.session import Session, require_session
from db.database import DataUnavailable
from insights import service
from pages.insights import csv_response
from problems import Problem, problem_responses

router = APIRouter(prefix="/api", tags=["insights"])


class CsvResponse(Response):
    media_type = "text/csv"


Table = Literal["heatmap", "concepts", "struggle", "flags", "help", "activities", "trend"]


class OverviewOut(BaseModel):
    course_context: str
    # The newest snapshot's figures (see README "Insight pages"); None while a large
    # course waits for its first nightly snapshot (`pending`).
    summary: dict | None
    page: int
    rows: list[dict]
    names: dict[str, str]
    since_snapshot: dict
    roster: dict
    pending: bool


def _check(session: Session, context_id: str) -> None:
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors of this course can read the class overview.",
                      type_="/problems/forbidden")
    if context_id != session.context_id:
        raise Problem(404, "Not Found", "No such course in your launch context.", type_="/problems/not-found")


def _unavailable() -> Problem:
    return Problem(503, "Service Unavailable", "The class data cannot be read right now (D1 outage).",
                   type_="/problems/d1-unavailable", headers={"Retry-After": "30"})


@router.get("/courses/{context_id}/overview", response_model=OverviewOut,
            summary="Instructor: the class overview (snapshot + same-day delta), one page of learners",
            responses=problem_responses(401, 403, 404, 422, 503))
async def overview(context_id: str, request: Request, session: Session = Depends(require_session),
                   page: int = Query(1, ge=1, le=100_000),
                   show: Literal["all", "attention"] = "all"):
    _check(session, context_id)
    env = request.scope["env"]
    try:
        ov = await service.overview(env, session.scope, context_id, clock.now_ms(env), page, show == "attention")
    except DataUnavailable:
        raise _unavailable() from None
    return {"course_context": context_id, "summary": ov.summary, "page": page, "rows": ov.rows, "names": ov.names,
            "since_snapshot": ov.delta, "roster": ov.roster, "pending": ov.pending}


@router.get("/courses/{context_id}/overview/{table}.csv",
            summary="Instructor: one table of the class overview as CSV (formula cells escaped)",
            response_class=CsvResponse,
            responses={200: {"description": "The table as CSV (RFC 4180); cells starting with = + - @ tab or CR "
                                            "are prefixed with an apostrophe.",
                             "content": {"text/csv": {"schema": {"type": "string"}}}},
                       **problem_responses(401, 403, 404, 422, 503)})
async def overview_csv(context_id: str, table: Table, request: Request, session: Session = Depends(require_session)):
    _check(session, context_id)
    return await csv_response(request, session, context_id, table)
