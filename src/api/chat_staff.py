"""The Guide for staff: instructors add Guide-conversation activities, turn the Guide
off per activity and (where the institution enables it) read their course's transcripts;
the institution's administrator chooses the model, sets budgets per tenant, course and
learner, and sees usage."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

import clock
import privacy
from auth.session import Session, require_session
from chat import limits, policy, service
from db import profiles
from db.database import ConstraintViolation, Database, DataUnavailable
from db.scope import MAX_IN_LIST
from lti import roles
from problems import Problem, problem_responses

router = APIRouter(prefix="/api", tags=["chat"])

Concept = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Id64 = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
Tokens = Annotated[int, Field(ge=0, le=10_000_000_000)]


class GuideActivityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    concepts: list[Concept] = Field(min_length=1, max_length=20)
    mastery_threshold: float = Field(default=80, ge=0, le=100)
    grading_schema: Literal["mastery", "percentage", "engagement"] = "mastery"
    resource_link_id: str | None = Field(default=None, min_length=1, max_length=255)
    target_explanations: int | None = Field(default=None, ge=1, le=100)


class GuideSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class Activity(BaseModel):
    id: str
    resource_link_id: str
    assessment_type: str
    title: str
    concepts: list[str]
    mastery_threshold: float
    grading_schema: str
    guide_enabled: bool
    line_item_url: str | None = None


class ActivityList(BaseModel):
    activities: list[Activity]


class TenantChatSettings(BaseModel):
    """What the administrator sets; a field sent as null returns to the default."""

    model_config = ConfigDict(extra="forbid")
    provider: Literal["auto", "workers-ai", "offline"] | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^@?[A-Za-z0-9._/:-]+$")
    tenant_daily_tokens: Tokens | None = None
    course_daily_tokens: Tokens | None = None
    learner_daily_tokens: Tokens | None = None
    conversation_tokens: Tokens | None = None
    prompt_budget_tokens: int | None = Field(default=None, ge=500, le=32_000)
    reply_max_tokens: int | None = Field(default=None, ge=50, le=4_000)
    prompt_cost_per_1k: float | None = Field(default=None, ge=0, le=1_000_000)
    completion_cost_per_1k: float | None = Field(default=None, ge=0, le=1_000_000)
    instructor_transcripts: bool | None = None


class CourseBudgets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    course_daily_tokens: Tokens | None = None
    learner_daily_tokens: Tokens | None = None


class LearnerBudget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    learner_daily_tokens: Tokens | None = None


class SettingsView(BaseModel):
    stored: dict
    effective: dict


class UsageView(BaseModel):
    since: str
    days: int
    turns: int
    by_day: list[dict]
    by_model: list[dict]
    by_course: list[dict]
    today: dict


class TranscriptItem(BaseModel):
    id: str
    learner: str
    title: str | None = None
    started_at: str
    last_message_at: str | None = None
    message_count: int


class TranscriptList(BaseModel):
    course_context: str
    conversations: list[TranscriptItem]


def _db(request: Request) -> Database:
    return Database(request.scope["env"])


def _unavailable() -> Problem:
    return Problem(503, "Service Unavailable", "The learner database is unavailable (D1 outage).",
                   type_="/problems/d1-unavailable", headers={"Retry-After": "30"})


def _require_instructor(session: Session, context_id: str) -> None:
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors of this course can do this.", type_="/problems/forbidden")
    if context_id != session.context_id:
        raise Problem(404, "Not Found", "No such course in your launch context.", type_="/problems/not-found")


def _require_admin(session: Session) -> None:
    if not any((roles.context_role(r) or ("", None))[0] == "Administrator" for r in session.claims.roles):
        raise Problem(403, "Forbidden", "Only an administrator of the institution can change the Guide's settings "
                      "or see its usage.", type_="/problems/forbidden")


def _activity_out(activity: dict) -> dict:
    ai = policy.ai_config(activity)
    return {"id": activity["id"], "resource_link_id": activity["resource_link_id"],
            "assessment_type": activity["assessment_type"], "title": ai.get("title") or "Activity",
            "concepts": [c for c in ai.get("concepts") or [] if isinstance(c, str)],
            "mastery_threshold": activity["mastery_threshold"], "grading_schema": activity["grading_schema"],
            "guide_enabled": policy.guide_allowed(activity), "line_item_url": activity.get("line_item_url")}


# -- instructors: activities ---------------------------------------------------------------

@router.post("/courses/{context_id}/guide-activities", status_code=201, response_model=Activity,
             summary="Instructor: add a graded Guide-conversation activity (seed 002, type chat)",
             responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503))
async def create_activity(context_id: str, body: GuideActivityCreate, request: Request,
                          session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    concepts = list(dict.fromkeys(body.concepts))
    try:
        activity = await service.create_guide_activity(
            _db(request), session.scope, context_id, body.title, concepts, body.mastery_threshold,
            body.grading_schema, session.lti_user_id, body.resource_link_id, body.target_explanations)
    except DataUnavailable:
        raise _unavailable() from None
    except ConstraintViolation:
        # The only constraint a valid body can meet: one activity per resource link.
        raise Problem(409, "Conflict", "That resource link already has an activity.",
                      type_="/problems/duplicate-activity") from None
    return _activity_out(activity)


@router.get("/courses/{context_id}/guide-activities", response_model=ActivityList,
            summary="Instructor: the course's Guide-conversation activities", responses=problem_responses(401, 403, 404, 503))
async def list_activities(context_id: str, request: Request, session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    try:
        rows = await service.guide_activities(_db(request), session.scope, context_id)
    except DataUnavailable:
        raise _unavailable() from None
    return {"activities": [_activity_out(a) for a in rows]}


@router.put("/courses/{context_id}/activities/{activity_id}/guide", response_model=Activity,
            summary="Instructor: turn the Guide on or off for one activity",
            responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 503))
async def switch_guide(context_id: str, activity_id: Id64, body: GuideSwitch, request: Request,
                       session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    db = _db(request)
    try:
        activity = await service.course_activity(db, session.scope, activity_id, context_id)
        if activity is None:
            raise Problem(404, "Not Found", "No such activity in this course.", type_="/problems/not-found")
        activity = await service.set_guide_enabled(db, session.scope, activity, body.enabled)
    except DataUnavailable:
        raise _unavailable() from None
    return _activity_out(activity)


# -- instructors: transcripts --------------------------------------------------------------

async def _transcripts_enabled(request: Request, session: Session, db: Database) -> None:
    _stored, effective = await service.tenant_settings(request.scope["env"], db, session.scope)
    if not effective["instructor_transcripts"]:
        raise Problem(403, "Forbidden", "Your institution has not enabled instructor access to Guide transcripts.",
                      type_="/problems/transcripts-disabled")


async def _visible_learners(db: Database, session: Session, learner_ids: list[str]) -> dict[str, dict]:
    out = {}
    for i in range(0, len(learner_ids), MAX_IN_LIST):
        rows = await db.all(session.scope.select("learner_profiles", {"id__in": learner_ids[i:i + MAX_IN_LIST]},
                                                 name="chat.transcripts.learners"))
        for row in rows:
            row = {**row, "privacy_settings": json.loads(row["privacy_settings"] or "{}")}
            if privacy.visible_to_instructors(row):
                out[row["id"]] = row
    return out


@router.get("/courses/{context_id}/chat/transcripts", response_model=TranscriptList,
            summary="Instructor: Guide conversations of the course that learners were told staff can read",
            responses=problem_responses(401, 403, 404, 503))
async def transcripts(context_id: str, request: Request, session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    db = _db(request)
    try:
        await _transcripts_enabled(request, session, db)
        rows = await db.all(session.scope.select("chat_conversations", {"course_context": context_id,
                                                                        "instructor_visible": 1},
                                                 order_by="started_at DESC", limit=service.MAX_LISTED,
                                                 name="chat.transcripts.list"))
        learners = await _visible_learners(db, session, sorted({r["learner_id"] for r in rows}))
    except DataUnavailable:
        raise _unavailable() from None
    return {"course_context": context_id, "conversations": [
        {"id": r["id"], "learner": learners[r["learner_id"]]["lti_user_id"], "title": r["title"],
         "started_at": r["started_at"], "last_message_at": r["last_message_at"], "message_count": r["message_count"]}
        for r in rows if r["learner_id"] in learners]}


@router.get("/courses/{context_id}/chat/transcripts/{conversation_id}",
            summary="Instructor: one transcript (where the institution enables it and the learner was told)",
            responses=problem_responses(401, 403, 404, 422, 503))
async def transcript(context_id: str, conversation_id: Id64, request: Request,
                     session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    db = _db(request)
    try:
        await _transcripts_enabled(request, session, db)
        row = await db.first(session.scope.select("chat_conversations", {
            "id": conversation_id, "course_context": context_id, "instructor_visible": 1},
            name="chat.transcripts.get"))
        visible = await _visible_learners(db, session, [row["learner_id"]]) if row else {}
    except DataUnavailable:
        raise _unavailable() from None
    if row is None or row["learner_id"] not in visible:
        raise Problem(404, "Not Found", "No such conversation in this course.", type_="/problems/not-found")
    stub = service.conversation_stub(request.scope["env"], session.scope.tenant_id, conversation_id)
    try:
        result = await stub.read(None, context_id, None, 500)
    except Exception:
        raise Problem(503, "Service Unavailable", "The Guide cannot be reached right now.",
                      type_="/problems/guide-unavailable", headers={"Retry-After": "5"}) from None
    if result.get("status") != "ok":
        raise Problem(404, "Not Found", "No such conversation in this course.", type_="/problems/not-found")
    return {"learner": visible[row["learner_id"]]["lti_user_id"], **{k: result[k] for k in
                                                                   ("conversation", "messages", "has_more")}}


# -- the institution's administrator ------------------------------------------------------------

@router.get("/institution/chat/settings", response_model=SettingsView, summary="Admin: the Guide's settings",
            responses=problem_responses(401, 403, 503))
async def get_settings(request: Request, session: Session = Depends(require_session)):
    _require_admin(session)
    try:
        stored, effective = await service.tenant_settings(request.scope["env"], _db(request), session.scope)
    except DataUnavailable:
        raise _unavailable() from None
    return {"stored": stored, "effective": effective}


@router.put("/institution/chat/settings", response_model=SettingsView,
            summary="Admin: choose the provider and model, prices, budgets and instructor transcript access",
            responses=problem_responses(400, 401, 403, 413, 415, 422, 503))
async def put_settings(body: TenantChatSettings, request: Request, session: Session = Depends(require_session)):
    _require_admin(session)
    db = _db(request)
    try:
        await service.save_settings(db, session.scope, "tenant", body.model_dump(exclude_unset=True),
                                    session.lti_user_id)
        stored, effective = await service.tenant_settings(request.scope["env"], db, session.scope)
    except DataUnavailable:
        raise _unavailable() from None
    return {"stored": stored, "effective": effective}


@router.put("/institution/chat/budgets/courses/{context_id}", response_model=dict,
            summary="Admin: a course's daily budget and its learners' daily budget",
            responses=problem_responses(400, 401, 403, 413, 415, 422, 503))
async def put_course_budget(context_id: Annotated[str, Path(min_length=1, max_length=255)], body: CourseBudgets,
                            request: Request, session: Session = Depends(require_session)):
    _require_admin(session)
    try:
        stored = await service.save_settings(_db(request), session.scope, f"course:{context_id}",
                                             body.model_dump(exclude_unset=True), session.lti_user_id)
    except DataUnavailable:
        raise _unavailable() from None
    return {"course_context": context_id, "settings": stored}


@router.put("/institution/chat/budgets/learners/{profile_id}", response_model=dict,
            summary="Admin: one learner's daily budget", responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 503))
async def put_learner_budget(profile_id: Id64, body: LearnerBudget, request: Request,
                             session: Session = Depends(require_session)):
    _require_admin(session)
    db = _db(request)
    try:
        if await profiles.get_by_id(db, session.scope, profile_id) is None:
            raise Problem(404, "Not Found", "No such learner profile.", type_="/problems/not-found")
        stored = await service.save_settings(db, session.scope, f"learner:{profile_id}",
                                             body.model_dump(exclude_unset=True), session.lti_user_id,
                                             learner_id=profile_id)
    except DataUnavailable:
        raise _unavailable() from None
    return {"profile_id": profile_id, "settings": stored}


@router.get("/institution/chat/usage", response_model=UsageView,
            summary="Admin: tokens and cost units by day, model and course, and today's budget",
            responses=problem_responses(401, 403, 422, 503))
async def usage(request: Request, session: Session = Depends(require_session),
                days: Annotated[int, Query(ge=1, le=90)] = 7):
    _require_admin(session)
    env = request.scope["env"]
    db = _db(request)
    now = clock.now(env)
    try:
        view = await service.usage_view(db, session.scope, days, now)
        _stored, effective = await service.tenant_settings(env, db, session.scope)
    except DataUnavailable:
        raise _unavailable() from None
    today = limits.day_of(now)
    used = next((int(r["total_tokens"]) for r in view["by_day"] if r["day"] == today), 0)
    return {**view, "days": days, "today": {"day": today, "tenant_tokens": used,
                                            "tenant_daily_tokens": effective["tenant_daily_tokens"],
                                            "remaining": max(0, int(effective["tenant_daily_tokens"]) - used)}}
