"""Learner-profile routes: own profile, optimistic update, instructor views within the
token's own course, and the data-subject rights (export, erasure)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

import clock
from api.body import openapi_body, parse_json
from api.models import Erasure, Profile, ProfileList, ProfilePatch
from auth.session import Session, require_session
from chat.service import erase_learner_objects
import privacy
from db import profiles
from db.database import ConstraintViolation, Database, DataUnavailable
from problems import Problem, problem_responses
from resilience.cache import forget, profile_key, read_through, remember
from resilience.gateway import gateway_for
from struggle import service as struggle_service

router = APIRouter(prefix="/api", tags=["profiles"])


def _etag(row: dict) -> str:
    return f'"{row["id"]}.v{row["version"]}"'


def if_match_allows(if_match: str, current_etag: str) -> bool:
    """RFC 9110 If-Match: `*` matches any current representation; otherwise one of the
    listed strong entity tags must equal the current one."""
    value = if_match.strip()
    if value == "*":
        return True
    return any(tag.strip() == current_etag for tag in value.split(","))


AUTHED = (401, 503)


def _unavailable(request: Request, session: Session, write: bool = False) -> Problem:
    """503 for a D1 outage; a refused write is counted as a fallback event."""
    gateway = gateway_for(request.scope["env"])
    if write:
        gateway.events.record("write_refused", "write_refused", session.scope.tenant_id, path=request.url.path)
    retry = str(max(1, int(gateway.config.cooldown_s)))
    detail = ("The learner database is unavailable (D1 outage); nothing was changed. Try again shortly."
              if write else "The learner database is unavailable (D1 outage) and no cached copy exists.")
    return Problem(503, "Service Unavailable", detail, type_="/problems/d1-unavailable",
                   headers={"Retry-After": retry})


def _version(row: dict) -> str:
    return str(row["version"])


def _not_found() -> Problem:
    return Problem(404, "Not Found", "No such learner profile.", type_="/problems/not-found")


def _db(request: Request) -> Database:
    return Database(request.scope["env"])


def _profile_response(row: dict, status: int = 200, stale: bool = False) -> JSONResponse:
    headers = {"ETag": _etag(row)}
    if stale:
        # Served from the KV copy during a D1 outage: possibly behind the latest write.
        headers["X-Data-Stale"] = "true"
    return JSONResponse(Profile(**row, **({"stale": True} if stale else {})).model_dump(),
                        status_code=status, headers=headers)


@router.get("/profile", response_model=Profile, summary="The caller's own profile",
            responses=problem_responses(*AUTHED, 404))
async def get_own(request: Request, session: Session = Depends(require_session)):
    env = request.scope["env"]
    try:
        row, stale = await read_through(
            env, profile_key(session.scope.tenant_id, session.lti_user_id),
            lambda: profiles.get_by_user(_db(request), session.scope, session.lti_user_id),
            _version, session.scope.tenant_id)
    except DataUnavailable:
        raise _unavailable(request, session) from None
    if row is None:
        raise _not_found()
    return _profile_response(row, stale=stale)


@router.patch("/profile", response_model=Profile,
              summary="Update cognitive_profile and/or privacy_settings (If-Match required)",
              openapi_extra=openapi_body(ProfilePatch, if_match=True),
              responses=problem_responses(400, *AUTHED, 404, 409, 412, 413, 415, 422, 428))
async def patch_own(request: Request, session: Session = Depends(require_session)):
    # The precondition comes before the body: without If-Match the answer is 428
    # whatever was sent (RFC 6585), and nothing is parsed.
    if_match = request.headers.get("if-match")
    if not if_match:
        raise Problem(428, "Precondition Required",
                      "Send If-Match with the ETag from your last read (or `*`); it protects concurrent edits.",
                      type_="/problems/if-match-required")
    body = await parse_json(request, ProfilePatch)
    db = _db(request)
    try:
        row = await profiles.get_by_user(db, session.scope, session.lti_user_id)
        if row is None:
            raise _not_found()
        if not if_match_allows(if_match, _etag(row)):
            raise Problem(412, "Precondition Failed", "The profile changed since you read it; read it again and "
                          "retry with its current ETag.", type_="/problems/stale-write",
                          extra={"current_etag": _etag(row)})
        changes = {}
        if body.cognitive_profile is not None:
            changes["cognitive_profile"] = body.cognitive_profile.model_dump(mode="json")
        if body.privacy_settings is not None:
            changes["privacy_settings"] = body.privacy_settings.model_dump(mode="json")
        updated = await profiles.update(db, session.scope, row["id"], row["version"], changes)
    except DataUnavailable:
        raise _unavailable(request, session, write=True) from None
    except ConstraintViolation as exc:
        raise Problem(422, "Unprocessable Content", "The database refused the values.",
                      type_="/problems/constraint", extra={"constraint": exc.kind}) from None
    if updated is None:
        # Another write landed between our read and update.
        raise Problem(412, "Precondition Failed", "The profile changed while you were saving; read it again and "
                      "retry.", type_="/problems/stale-write")
    await remember(request.scope["env"], profile_key(session.scope.tenant_id, session.lti_user_id), updated,
                   _version(updated))
    return _profile_response(updated)


@router.get("/profile/export", summary="Everything the tool holds about the caller (data-subject access)",
            responses=problem_responses(*AUTHED, 404))
async def export_own(request: Request, session: Session = Depends(require_session)):
    db = _db(request)
    try:
        row = await profiles.get_by_user(db, session.scope, session.lti_user_id)
        if row is None:
            raise _not_found()
        tables = await profiles.export_learner(db, session.scope, row["id"])
    except DataUnavailable:
        raise _unavailable(request, session) from None
    return JSONResponse({"subject": {"lti_user_id": session.lti_user_id, "profile_id": row["id"]},
                         "tables": tables},
                        headers={"Content-Disposition": 'attachment; filename="atomic-guide-export.json"'})


@router.delete("/profile", response_model=Erasure, summary="Erase everything the tool holds about the caller",
               responses=problem_responses(*AUTHED, 404))
async def erase_own(request: Request, session: Session = Depends(require_session)):
    """Answers what was erased: rows deleted per table (all in one atomic batch)."""
    db = _db(request)
    try:
        row = await profiles.get_by_user(db, session.scope, session.lti_user_id)
        if row is None:
            raise _not_found()
        recent = await struggle_service.recent_session_ids(db, session.scope, row["id"],
                                                           clock.now_ms(request.scope["env"]))
        # The Guide's conversation objects first (they are found through D1's rows), then
        # every D1 row in one batch; both steps are idempotent, so a retry finishes the job.
        emptied = await erase_learner_objects(request.scope["env"], db, session.scope, row["id"])
        counts = await profiles.erase_learner(db, session.scope, row["id"])
    except DataUnavailable:
        raise _unavailable(request, session, write=True) from None
    # The KV copy goes too: erased means erased, also from the outage cache.
    await forget(request.scope["env"], profile_key(session.scope.tenant_id, session.lti_user_id))
    # And what the struggle detectors of the learner's recent sessions hold.
    await struggle_service.forget_sessions(request.scope["env"], session.scope.tenant_id, recent)
    return {"rows_deleted": counts, "total": sum(counts.values()), "conversations_emptied": emptied}


def _require_instructor(session: Session, context_id: str) -> None:
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors of this course can read other learners' profiles.",
                      type_="/problems/forbidden")
    if context_id != session.context_id:
        # Another course (of this or any tenant) is not distinguishable from a missing one.
        raise Problem(404, "Not Found", "No such course in your launch context.", type_="/problems/not-found")


@router.get("/courses/{context_id}/profiles", response_model=ProfileList,
            summary="Instructor: profiles of learners in the launch course",
            responses=problem_responses(*AUTHED, 403, 404, 422))
async def course_profiles(context_id: str, request: Request, session: Session = Depends(require_session),
                          include: Literal["learners", "everyone"] = "learners"):
    """Learners only by default (`include=everyone` adds instructors, TAs and others who
    launched); learners who turned `instructor_visibility` off are counted, not listed."""
    _require_instructor(session, context_id)
    roles = profiles.ALL_ROLES if include == "everyone" else profiles.LEARNER_ROLES
    try:
        visible, hidden = await profiles.course_learners(_db(request), session.scope, context_id, roles)
    except DataUnavailable:
        raise _unavailable(request, session) from None
    return {"course_context": context_id, "profiles": [Profile(**r).model_dump() for r in visible],
            "hidden_by_consent": hidden}


@router.get("/courses/{context_id}/profiles/{profile_id}", response_model=Profile,
            summary="Instructor: one learner's profile in the launch course",
            responses=problem_responses(*AUTHED, 403, 404))
async def course_profile(context_id: str, profile_id: str, request: Request,
                         session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    db = _db(request)
    try:
        row = await profiles.get_by_id(db, session.scope, profile_id)
        # A learner who chose not to be seen individually answers like one who is not there.
        if row is None or not privacy.visible_to_instructors(row) or \
                not await profiles.in_course(db, session.scope, profile_id, context_id, profiles.ALL_ROLES):
            raise _not_found()
    except DataUnavailable:
        raise _unavailable(request, session) from None
    return _profile_response(row)
