"""Struggle-detection routes: the page's behavioural signals and the learner's reactions
to offers (for the caller's own learning session), the instructor's view of the launch
course, and an institution's rule overrides (admin). HTTP only; see struggle/service.py."""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Depends, Query, Request

import clock
from api.admin import require_admin
from api.body import openapi_body, parse_json
from auth.session import Session, require_session
from db.database import Database, DataUnavailable
from db.system import get_tenant, set_struggle_rules
from problems import Problem, problem_responses
from struggle import config as rules_config
from struggle import service
from struggle.models import CourseStruggle, ReactionIn, ReactionOut, SignalBatch, SignalsAccepted, StruggleRules, \
    StruggleRulesOut

router = APIRouter(prefix="/api", tags=["struggle"])
admin_router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _problem(exc: service.StruggleError) -> Problem:
    title = {403: "Forbidden", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Content",
             429: "Too Many Requests", 503: "Service Unavailable"}[exc.status]
    return Problem(exc.status, title, exc.detail, type_=f"/problems/{exc.kind}", headers=exc.headers, extra=exc.extra)


@router.post("/signals", response_model=SignalsAccepted,
             summary="Learner: behavioural signals of my current learning session (batched)",
             description="At most 30 signals a batch and 60 a minute per learning session (429 + Retry-After "
                         "beyond; the refused batch is not stored). With analytics consent off the answer is 403 "
                         "and nothing is stored. The answer carries the current assessment and the open offer.",
             openapi_extra=openapi_body(SignalBatch),
             responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503))
async def post_signals(request: Request, session: Session = Depends(require_session)):
    body = await parse_json(request, SignalBatch)
    signals = [s.model_dump(exclude_none=True) for s in body.signals]
    try:
        result = await service.report_signals(request.scope["env"], session, signals, final=body.final,
                                              guide=body.guide)
    except service.StruggleError as exc:
        raise _problem(exc) from None
    return {"accepted": result["accepted"], "session_signals": result["session_signals"],
            "assessment": result["assessment"], "intervention": result["intervention"]}


@router.post("/interventions/{intervention_id}/reaction", response_model=ReactionOut,
             summary="Learner: my reaction to an offer of help (accepted or dismissed)",
             description="The first reaction stands (repeating it answers the same); an offer left without "
                         "reaction is recorded as ignored after its timeout, and a later reaction is 409.",
             openapi_extra=openapi_body(ReactionIn),
             responses=problem_responses(400, 401, 404, 409, 413, 415, 422, 503))
async def post_reaction(intervention_id: str, request: Request, session: Session = Depends(require_session)):
    body = await parse_json(request, ReactionIn)
    if not _UUID.match(intervention_id):
        raise Problem(404, "Not Found", "No such offer in your learning session.", type_="/problems/not-found")
    try:
        return await service.react(request.scope["env"], session, intervention_id, body.outcome)
    except service.StruggleError as exc:
        raise _problem(exc) from None


@router.get("/courses/{context_id}/struggle", response_model=CourseStruggle,
            summary="Instructor: who struggled recently and why, the concepts, the help offered and taken",
            description="Learners who turned instructor visibility off are neither listed nor counted in the "
                        "aggregates; `hidden_by_consent` says how many.",
            responses=problem_responses(401, 403, 404, 422, 503))
async def course_struggle(context_id: str, request: Request, session: Session = Depends(require_session),
                          days: int = Query(7, ge=1, le=30)):
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors of this course can see how the class is doing.",
                      type_="/problems/forbidden")
    if context_id != session.context_id:
        raise Problem(404, "Not Found", "No such course in your launch context.", type_="/problems/not-found")
    env = request.scope["env"]
    try:
        return await service.course_overview(Database(env), session.scope, context_id, clock.now_ms(env), days)
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "The learner database is unavailable (D1 outage).",
                      type_="/problems/d1-unavailable", headers={"Retry-After": "30"}) from None


# -- admin: an institution's thresholds ---------------------------------------------------

async def _tenant(request: Request, tenant_id: str) -> dict:
    try:
        row = await Database(request.scope["env"]).first(get_tenant(tenant_id))
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "D1 is unavailable.", type_="/problems/d1-unavailable",
                      headers={"Retry-After": "30"}) from None
    if row is None:
        raise Problem(404, "Not Found", "No such tenant.", type_="/problems/not-found")
    return row


def _rules_out(tenant_id: str, overrides: dict) -> dict:
    effective, _problems = rules_config.lenient(overrides)
    return {"tenant_id": tenant_id, "overrides": overrides, "effective": effective.as_dict()}


@admin_router.get("/tenants/{tenant_id}/struggle-rules", response_model=StruggleRulesOut,
                  summary="An institution's struggle-detection thresholds (overrides and effective values)",
                  responses=problem_responses(401, 404, 503))
async def get_rules(tenant_id: str, request: Request):
    row = await _tenant(request, tenant_id)
    settings = json.loads(row.get("settings") or "{}")
    overrides = settings.get("struggle") if isinstance(settings.get("struggle"), dict) else {}
    return _rules_out(tenant_id, overrides)


@admin_router.put("/tenants/{tenant_id}/struggle-rules", response_model=StruggleRulesOut,
                  summary="Replace an institution's struggle-detection overrides (learning sessions started "
                          "afterwards use them)",
                  openapi_extra=openapi_body(StruggleRules),
                  responses=problem_responses(400, 401, 404, 413, 415, 422, 503))
async def put_rules(tenant_id: str, request: Request):
    body = await parse_json(request, StruggleRules)
    try:
        rules_config.from_overrides(body.overrides)
    except rules_config.RulesError as exc:
        raise Problem(422, "Unprocessable Content", "Some overrides cannot be applied; nothing was changed.",
                      type_="/problems/struggle-rules", extra={"problems": exc.problems}) from None
    await _tenant(request, tenant_id)
    try:
        await Database(request.scope["env"]).run(set_struggle_rules(tenant_id, json.dumps(body.overrides)))
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "D1 is unavailable; nothing was changed.",
                      type_="/problems/d1-unavailable", headers={"Retry-After": "30"}) from None
    return _rules_out(tenant_id, body.overrides)
