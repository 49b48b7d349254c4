"""Grades and rosters through LTI Advantage: instructors post scores and read the course
roster; learners sync their own mastery to the gradebook. What a course's services are
comes from its last launch (AGS/NRPS claims kept in KV)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from auth.session import Session, require_session
from db.database import Database, DataUnavailable
from db.profiles import get_by_user
from learner import service as learner_service
from lti import registration, services
from lti.launch_flow import course_services_key
from lti.http import HttpError
from problems import Problem, problem_responses

router = APIRouter(prefix="/api", tags=["grades"])
MASTERY_TAG = "atomic-guide-mastery"


async def _course_services(request: Request, session: Session) -> tuple[dict, registration.Registration]:
    env = request.scope["env"]
    ctx = await env.LTI_PLATFORMS.get(course_services_key(session.scope.tenant_id, session.context_id), type="json")
    if ctx is None:
        raise Problem(409, "Conflict", "No launch from this course is known yet; launch the tool from Canvas first.",
                      type_="/problems/no-launch-context")
    reg = await registration.find(env, ctx["issuer"], ctx["client_id"])
    if reg is None or reg.tenant_id != session.scope.tenant_id:
        raise Problem(409, "Conflict", "This course's platform registration is gone.", type_="/problems/no-registration")
    return ctx, reg


def _service_failed(exc: Exception) -> Problem:
    return Problem(502, "Bad Gateway", f"The platform's service did not accept the request: {exc}",
                   type_="/problems/platform-service")


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    lti_user_id: str = Field(min_length=1, max_length=255)
    score_given: float = Field(ge=0)
    score_maximum: float = Field(gt=0, le=10_000)
    activity_progress: Literal["Initialized", "Started", "InProgress", "Submitted", "Completed"] = "Completed"
    grading_progress: Literal["FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"] = "FullyGraded"
    comment: str | None = Field(default=None, max_length=2000)


async def _post(request, session, user_id: str, given: float, maximum: float, activity: str, grading: str,
                comment: str | None) -> dict:
    ctx, reg = await _course_services(request, session)
    ags = ctx.get("ags") or {}
    if not ags.get("lineitems") or services.AGS_SCORE not in (ags.get("scope") or []):
        raise Problem(409, "Conflict", "The platform did not grant grade passback for this course.",
                      type_="/problems/no-ags")
    env = request.scope["env"]
    try:
        line_item = ags.get("lineitem") or await services.find_or_create_line_item(
            env, reg, ags["lineitems"], ctx.get("resource_link_id"), MASTERY_TAG, "Atomic Guide mastery", maximum)
        status = await services.post_score(env, reg, line_item, services.score_body(
            user_id, given, maximum, activity, grading, comment))
    except (services.ServiceError, HttpError) as exc:
        raise _service_failed(exc) from None
    return {"line_item": line_item, "platform_status": status, "score_given": given, "score_maximum": maximum}


@router.post("/courses/{context_id}/scores", summary="Instructor: post a score to the Canvas gradebook",
             responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503))
async def post_score(context_id: str, body: ScoreRequest, request: Request, session: Session = Depends(require_session)):
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors can post scores.", type_="/problems/forbidden")
    if context_id != session.context_id:
        raise Problem(404, "Not Found", "No such course in your launch context.", type_="/problems/not-found")
    if body.score_given > body.score_maximum:
        raise Problem(422, "Unprocessable Content", "score_given cannot exceed score_maximum.",
                      type_="/problems/validation")
    return await _post(request, session, body.lti_user_id, body.score_given, body.score_maximum,
                       body.activity_progress, body.grading_progress, body.comment)


def _unavailable() -> Problem:
    return Problem(503, "Service Unavailable", "The learner database is unavailable (D1 outage).",
                   type_="/problems/d1-unavailable", headers={"Retry-After": "30"})


CONCEPT_TAG = "atomic-guide-concept:"


async def _concept_columns(request: Request, session: Session, concepts: list[dict]) -> list[dict]:
    """One gradebook column per concept (an AGS line item tagged with the concept): found
    by tag or created once (a D1 claim keeps two syncs from both creating it), then this
    learner's concept score with a comment stating the evidence."""
    ctx, reg = await _course_services(request, session)
    ags = ctx.get("ags") or {}
    env = request.scope["env"]
    if not ags.get("lineitems") or services.AGS_LINEITEM not in (ags.get("scope") or []):
        return [{"concept_id": c["concept_id"], "status": "no_line_item_scope"} for c in concepts]
    db = Database(env)
    out = []
    for c in concepts:
        tag = CONCEPT_TAG + c["concept_id"]
        try:
            row = await learner_service.concept_line_item(db, session.scope, session.context_id, c["concept_id"])
            url = row["line_item_url"] if row else None
            if url is None:
                url = await services.find_line_item(env, reg, ags["lineitems"], None, tag)
                if url is None and await learner_service.claim_concept_line_item(db, session.scope, session.context_id,
                                                                                  c["concept_id"]):
                    url = await services.create_line_item(env, reg, ags["lineitems"], None, tag,
                                                          f"Mastery: {c['name']}"[:255], 100.0)
                if url is None:
                    out.append({"concept_id": c["concept_id"], "status": "pending"})  # another sync is creating it
                    continue
                await learner_service.store_concept_line_item(db, session.scope, session.context_id, c["concept_id"], url)
            await services.post_score(env, reg, url, services.score_body(
                session.lti_user_id, c["score"], 100.0, "Completed", "FullyGraded", c["comment"]))
            out.append({"concept_id": c["concept_id"], "status": "sent", "line_item": url, "score_given": c["score"]})
        except (services.ServiceError, HttpError) as exc:
            out.append({"concept_id": c["concept_id"], "status": "failed", "detail": str(exc)})
    return out


async def pass_back(request: Request, session: Session, learner_id: str, course: dict) -> dict:
    """Sends the course mastery (and, when the course has them, per-concept scores) to
    the gradebook and records what was sent in student_progress."""
    out = await _post(request, session, session.lti_user_id, course["score"], 100.0, "Completed", "FullyGraded",
                      f"Mastery {course['score']}% over {course['concept_count']} concept(s); "
                      f"threshold {course['threshold']:g}%")
    await learner_service.record_passback(Database(request.scope["env"]), session.scope, learner_id,
                                          session.context_id, course["score"])
    if course.get("concept_columns"):
        out["concept_columns"] = await _concept_columns(request, session, course["concepts"])
    return out


@router.post("/mastery/sync", summary="Learner: send my current mastery to the gradebook",
             responses=problem_responses(401, 404, 409, 502, 503))
async def sync_mastery(request: Request, session: Session = Depends(require_session)):
    db = Database(request.scope["env"])
    try:
        profile = await get_by_user(db, session.scope, session.lti_user_id)
        if profile is None:
            raise Problem(404, "Not Found", "No such learner profile.", type_="/problems/not-found")
        rows = await db.all(session.scope.select("knowledge_state", {"learner_id": profile["id"]},
                                                 columns=["id"], limit=1, name="mastery.any"))
        if not rows:
            raise Problem(409, "Conflict", "No mastery has been measured yet.", type_="/problems/no-mastery")
        course = await learner_service.course_progress(db, session.scope, profile["id"], session.context_id)
    except DataUnavailable:
        raise _unavailable() from None
    out = await pass_back(request, session, profile["id"], course)
    return {**out, "threshold": course["threshold"], "reached": course["reached"],
            "concept_count": course["concept_count"]}


@router.get("/courses/{context_id}/roster", summary="Instructor: the course roster (NRPS)",
            responses=problem_responses(401, 403, 404, 409, 502, 503))
async def roster(context_id: str, request: Request, session: Session = Depends(require_session)):
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors can read the roster.", type_="/problems/forbidden")
    if context_id != session.context_id:
        raise Problem(404, "Not Found", "No such course in your launch context.", type_="/problems/not-found")
    ctx, reg = await _course_services(request, session)
    nrps = ctx.get("nrps") or {}
    if not nrps.get("context_memberships_url"):
        raise Problem(409, "Conflict", "The platform did not grant roster access for this course.",
                      type_="/problems/no-nrps")
    try:
        members = await services.roster(request.scope["env"], reg, nrps["context_memberships_url"])
    except (services.ServiceError, HttpError) as exc:
        raise _service_failed(exc) from None
    return {"course_context": context_id, "members": [
        {k: m.get(k) for k in ("user_id", "name", "email", "roles", "status") if k in m} for m in members]}
