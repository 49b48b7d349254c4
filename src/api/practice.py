"""Practice routes: a learner's activity (next item, hints, flashcard turns, answers,
progress), the instructor's activities (settings, report, grade retries, drafts from
course text) and the course's question bank (import, list, edit, retire), plus the
admin's choice of drafting model. HTTP in and out only; the work is in practice/."""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

import clock
from api.admin import _tenant_scope, require_admin
from api.types import StrictBody
from auth.session import Session, require_session
from chat import policy as guide_policy
from db.database import ConstraintViolation, Database, DataUnavailable
from learner import memory as mem
from practice import gradebook, hooks, items
from practice import service as practice
from problems import Problem, problem_responses
from struggle import service as struggle_service

router = APIRouter(prefix="/api", tags=["practice"])
admin_router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

ConceptId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
IMPORT_LIMIT_BYTES = 64 * 1024  # the request cap of src/middleware.py; see README "Activities"


# -- bodies ------------------------------------------------------------------------------------

class ItemRef(StrictBody):
    item_id: ItemId


class AnswerBody(StrictBody):
    item_id: ItemId
    # Fill in the blank: what the learner wrote. Flashcards: their grade of their recall.
    response: Annotated[str, StringConstraints(max_length=2000)] | None = None
    grade: Literal["again", "hard", "good", "easy"] | None = None
    # Used when the item is not the one shown (the server times the one it showed).
    response_time_ms: int = Field(default=0, ge=0, le=86_400_000)


class ActivityPatch(StrictBody):
    title: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")] | None = None
    concepts: list[ConceptId] | None = Field(default=None, min_length=1, max_length=practice.MAX_ACTIVITY_CONCEPTS)
    mastery_threshold: float | None = Field(default=None, ge=0, le=100)
    grading_schema: Literal["mastery", "percentage", "engagement"] | None = None
    graded: bool | None = None
    typo_tolerance: int | None = Field(default=None, ge=0, le=3)
    engagement_target: int | None = Field(default=None, ge=1, le=1000)
    status: Literal["open", "closed"] | None = None
    # RFC 3339 text (JSON has no date type), so this one field parses its string.
    closes_at: Annotated[AwareDatetime, Field(strict=False)] | None = None


class Misconception(StrictBody):
    answer: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]
    feedback: Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]


_Text = Annotated[str, StringConstraints(max_length=items.MAX_SHORT, pattern=r"\S")]


class ItemDocument(StrictBody):
    """One item of an import file (JSON; CSV has the same columns, multi-values split by |)."""

    format: Literal["fill_blank", "flashcard"]
    concept: ConceptId
    also_concepts: list[ConceptId] = Field(default_factory=list, max_length=items.MAX_ALSO)
    # fill_blank: the sentence with the gap marked by three or more underscores.
    prompt: Annotated[str, StringConstraints(max_length=items.MAX_TEXT, pattern=r"___")] | None = None
    answers: list[_Text] | None = Field(default=None, min_length=1, max_length=items.MAX_ANSWERS)
    front: Annotated[str, StringConstraints(min_length=1, max_length=items.MAX_TEXT, pattern=r"\S")] | None = None
    back: Annotated[str, StringConstraints(min_length=1, max_length=items.MAX_TEXT, pattern=r"\S")] | None = None
    difficulty: int = Field(default=5, ge=1, le=10)
    bloom: Literal["remember", "understand", "apply", "analyze", "evaluate", "create"] = "remember"
    hints: list[Annotated[str, StringConstraints(max_length=500, pattern=r"\S")]] = Field(
        default_factory=list, max_length=items.MAX_HINTS)
    misconceptions: list[Misconception] = Field(default_factory=list, max_length=items.MAX_MISCONCEPTIONS)
    estimated_time_seconds: int | None = Field(default=None, ge=1, le=3600)
    numeric_tolerance: float | None = Field(default=None, ge=0, le=1_000_000)
    ref: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")] | None = None
    approved: bool = True


class ImportDocument(StrictBody):
    items: list[ItemDocument] = Field(min_length=1, max_length=items.MAX_ITEMS)


class ItemPatch(StrictBody):
    """Fields to change; the item is validated whole afterwards, as an import row."""

    concept: ConceptId | None = None
    also_concepts: list[ConceptId] | None = Field(default=None, max_length=items.MAX_ALSO)
    prompt: Annotated[str, StringConstraints(max_length=items.MAX_TEXT, pattern=r"___")] | None = None
    answers: list[_Text] | None = Field(default=None, min_length=1, max_length=items.MAX_ANSWERS)
    front: Annotated[str, StringConstraints(min_length=1, max_length=items.MAX_TEXT, pattern=r"\S")] | None = None
    back: Annotated[str, StringConstraints(min_length=1, max_length=items.MAX_TEXT, pattern=r"\S")] | None = None
    difficulty: int | None = Field(default=None, ge=1, le=10)
    bloom: Literal["remember", "understand", "apply", "analyze", "evaluate", "create"] | None = None
    hints: list[Annotated[str, StringConstraints(max_length=500, pattern=r"\S")]] | None = Field(
        default=None, max_length=items.MAX_HINTS)
    misconceptions: list[Misconception] | None = Field(default=None, max_length=items.MAX_MISCONCEPTIONS)
    estimated_time_seconds: int | None = Field(default=None, ge=1, le=3600)
    numeric_tolerance: float | None = Field(default=None, ge=0, le=1_000_000)
    approved: bool | None = None
    status: Literal["active", "retired"] | None = None


class DraftRequest(StrictBody):
    text: Annotated[str, StringConstraints(min_length=20, max_length=20_000, pattern=r"\S")]


class DraftEdit(StrictBody):
    items: list[ItemDocument] = Field(max_length=60)


class DraftApproval(StrictBody):
    # Positions in the draft's item list; all items when absent.
    items: list[Annotated[int, Field(ge=0, le=59)]] | None = Field(default=None, max_length=60)


class DraftingSetting(StrictBody):
    provider: Literal["workers-ai", "offline"]
    model: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


# -- answers ---------------------------------------------------------------------------------------

class ConceptRef(BaseModel):
    id: str
    name: str


class PresentedItem(BaseModel):
    """An item as a learner sees it: never its key, misconceptions or hints not shown yet."""

    item_id: str
    presentation_id: str | None
    format: Literal["fill_blank", "flashcard"]
    concept: ConceptRef
    difficulty: int
    hints_available: int
    hints: list[str]
    reason: Literal["review", "learn", "stretch", "practice", "repeat"] | None
    resumed: bool
    prompt: str | None = None
    front: str | None = None
    back: str | None = None  # a flashcard's back, once turned


class NextItemOut(BaseModel):
    item: PresentedItem | None
    open: bool


class HintOut(BaseModel):
    item: PresentedItem
    hints_remaining: int


class RevealOut(BaseModel):
    item: PresentedItem


class GradeOut(BaseModel):
    status: Literal["idle", "pending", "retrying", "sent", "failed", "not_graded"]
    score: float
    sent_score: float | None
    sent_at: str | None
    attempts: int
    error: str | None
    next_attempt_at: str | None
    up_to_date: bool


class ConceptProgress(BaseModel):
    id: str
    name: str
    mastery: float
    mastered: bool
    attempts: int


class ProgressOut(BaseModel):
    activity_id: str
    grading_schema: Literal["mastery", "percentage", "engagement"]
    threshold: float
    score: float
    attempts: int
    correct: int
    concepts_mastered: int
    concept_count: int
    mastered: bool
    mastered_at: str | None
    graded: bool
    grade: GradeOut
    concepts: list[ConceptProgress]


class AnswerOut(BaseModel):
    response_id: str
    item_id: str
    replayed: bool
    correct: bool
    credit: float
    outcome: str
    feedback: str
    misconception: str | None
    expected: str
    hints_used: int
    response_time_ms: int
    rapid_guess: bool
    concept: dict  # the learner model's view of the concept after the answer (see GET /api/mastery)
    progress: ProgressOut
    recorded_at: str
    # What struggle detection made of the answer: {"assessment", "intervention" (an offer
    # of help, or null)}; null on a replay or without a learning session.
    struggle: dict | None = None


# -- helpers -------------------------------------------------------------------------------------

def _db(request: Request) -> Database:
    return Database(request.scope["env"])


def _problem(exc: practice.PracticeError) -> Problem:
    titles = {403: "Forbidden", 404: "Not Found", 409: "Conflict", 413: "Content Too Large",
              422: "Unprocessable Content", 502: "Bad Gateway", 503: "Service Unavailable"}
    headers = {"Retry-After": "30"} if exc.status == 503 else None
    return Problem(exc.status, titles.get(exc.status, "Error"), exc.detail, type_=f"/problems/{exc.kind}",
                   extra=exc.extra, headers=headers)


def _unavailable(write: bool = False) -> Problem:
    detail = ("The database is unavailable (D1 outage); nothing was recorded. Try again shortly."
              if write else "The database is unavailable (D1 outage).")
    return Problem(503, "Service Unavailable", detail, type_="/problems/d1-unavailable", headers={"Retry-After": "30"})


def require_instructor(session: Session) -> None:
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors of this course can do this.", type_="/problems/forbidden")


def require_learner(session: Session) -> None:
    if session.is_instructor or session.course_role.value != "learner":
        raise Problem(403, "Forbidden", "Practice is answered by the course's learners.", type_="/problems/forbidden")


async def learner_activity(db: Database, session: Session, activity_id: str) -> dict:
    """The activity of the learner's launch: bound to the launch's resource link and in its
    course. Any other activity (another link's, course's or tenant's) answers 404."""
    row = await practice.get_activity(db, session.scope, activity_id)
    if (row is None or row["course_context"] != session.context_id or not session.claims.rl
            or row["resource_link_id"] != session.claims.rl):
        raise Problem(404, "Not Found", "No such activity in your launch.", type_="/problems/not-found")
    return row


async def _run(coro, write: bool = False):
    try:
        return await coro
    except DataUnavailable:
        raise _unavailable(write) from None
    except practice.PracticeError as exc:
        raise _problem(exc) from None


def _now_ms(request: Request) -> int:
    return clock.now_ms(request.scope["env"])


# -- a learner's activity ---------------------------------------------------------------------

@router.get("/activities/{activity_id}/next", summary="Learner: the item to practise now (never its answer key)",
            response_model=NextItemOut,
            responses=problem_responses(403, 404, 409))
async def next_item(activity_id: str, request: Request, session: Session = Depends(require_session)):
    require_learner(session)
    db = _db(request)

    async def work():
        activity = await learner_activity(db, session, activity_id)
        profile = await practice.learner_profile(db, session.scope, session.lti_user_id)
        out = await practice.next_item(db, session.scope, activity, profile["id"], profile["lti_user_id"],
                                       _now_ms(request))
        return {**out, "open": practice.is_open(activity, mem.to_iso(mem.from_epoch_ms(_now_ms(request))))}

    return await _run(work())


@router.post("/activities/{activity_id}/hints", summary="Learner: the next hint of the item shown",
             response_model=HintOut,
             responses=problem_responses(403, 404, 409))
async def next_hint(activity_id: str, body: ItemRef, request: Request, session: Session = Depends(require_session)):
    require_learner(session)
    db = _db(request)

    async def work():
        activity = await learner_activity(db, session, activity_id)
        profile = await practice.learner_profile(db, session.scope, session.lti_user_id)
        return await practice.hint(db, session.scope, activity, profile["id"], profile["lti_user_id"], body.item_id)

    return await _run(work(), write=True)


@router.post("/activities/{activity_id}/reveal", summary="Learner: turn the flashcard shown over",
             response_model=RevealOut,
             responses=problem_responses(403, 404, 409))
async def reveal(activity_id: str, body: ItemRef, request: Request, session: Session = Depends(require_session)):
    require_learner(session)
    db = _db(request)

    async def work():
        activity = await learner_activity(db, session, activity_id)
        profile = await practice.learner_profile(db, session.scope, session.lti_user_id)
        return await practice.reveal(db, session.scope, activity, profile["id"], profile["lti_user_id"], body.item_id)

    return await _run(work(), write=True)


async def record(request: Request, session: Session, activity_id: str, key: str, given: practice.AnswerIn) -> dict:
    """The answer path shared by the API and the practice page: check, record, update the
    grade, ask for the grade to be sent, tell the struggle hook."""
    env = request.scope["env"]
    db = _db(request)
    activity = await learner_activity(db, session, activity_id)
    profile = await practice.learner_profile(db, session.scope, session.lti_user_id)
    out = await practice.answer(db, session.scope, env, activity, profile, session.context_id,
                                session.learning_session_id, key, given, _now_ms(request))
    if out["progress"]["grade"]["status"] in ("pending", "retrying"):
        await gradebook.request_sync(env, session.scope.tenant_id, session.scope.d1_binding, activity_id)
    learner_result = out.pop("learner_result")
    # The session's struggle detector hears of the answer once (not on a replay); any offer
    # of help comes back with the answer.
    out["struggle"] = None if out["replayed"] else await hooks.answer_recorded(
        env, session, profile, struggle_service.answer_from_result(
            learner_result, credit=out["credit"], response_time_s=out["response_time_ms"] / 1000,
            hints_used=out["hints_used"], misconception=out["misconception"]),
        guide=guide_policy.guide_allowed(activity))
    return out


@router.post("/activities/{activity_id}/answers", status_code=201,
             summary="Learner: answer an item; checked on the server, recorded once per Idempotency-Key",
             response_model=AnswerOut,
             responses=problem_responses(400, 403, 404, 409, 422),
             openapi_extra={"parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                 "description": "The same on every retry of this answer (the practice page uses the "
                                "presentation id of the item shown).",
                 "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"}}]})
async def answer(activity_id: str, body: AnswerBody, request: Request, session: Session = Depends(require_session),
                 idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", include_in_schema=False)):
    if idempotency_key is None or not _KEY.match(idempotency_key):
        raise Problem(400, "Bad Request", "Send an `Idempotency-Key` header (1-200 visible ASCII characters), the "
                      "same on every retry of this answer.", type_="/problems/idempotency-key-required")
    require_learner(session)
    given = practice.AnswerIn(body.item_id, body.response, body.grade, body.response_time_ms)
    try:
        out = await record(request, session, activity_id, idempotency_key, given)
    except ConstraintViolation as exc:
        raise Problem(422, "Unprocessable Content", "The database refused the answer.", type_="/problems/constraint",
                      extra={"constraint": exc.kind}) from None
    except DataUnavailable:
        raise _unavailable(write=True) from None
    except practice.PracticeError as exc:
        raise _problem(exc) from None
    headers = {"Idempotent-Replayed": "true"} if out["replayed"] else {}
    return JSONResponse(out, status_code=201, headers=headers)


@router.get("/activities/{activity_id}/progress", summary="Learner: my grade and mastery in the activity",
            response_model=ProgressOut,
            responses=problem_responses(403, 404))
async def my_progress(activity_id: str, request: Request, session: Session = Depends(require_session)):
    require_learner(session)
    db = _db(request)

    async def work():
        activity = await learner_activity(db, session, activity_id)
        profile = await practice.learner_profile(db, session.scope, session.lti_user_id)
        return await practice.my_progress(db, session.scope, activity, profile["id"], profile["lti_user_id"])

    return await _run(work())


# -- the instructor's activities -----------------------------------------------------------------

async def course_activity(db: Database, session: Session, activity_id: str) -> dict:
    require_instructor(session)
    return await practice.activity_in_course(db, session.scope, activity_id, session.context_id)


@router.get("/activities", summary="Instructor: the course's practice activities",
            responses=problem_responses(403))
async def list_activities(request: Request, session: Session = Depends(require_session)):
    require_instructor(session)
    db = _db(request)

    async def work():
        rows = await practice.course_activities(db, session.scope, session.context_id)
        out = []
        for row in rows:
            report = await practice.activity_report(db, session.scope, row)
            out.append({**report["activity"], "learners_started": report["learners_started"],
                        "learners_mastered": report["learners_mastered"], "grade_sync": report["grade_sync"]})
        return {"course_context": session.context_id, "activities": out}

    return await _run(work())


@router.get("/activities/{activity_id}", summary="Instructor: an activity, who reached mastery, grades sent",
            responses=problem_responses(403, 404))
async def activity_report(activity_id: str, request: Request, session: Session = Depends(require_session)):
    db = _db(request)

    async def work():
        return await practice.activity_report(db, session.scope, await course_activity(db, session, activity_id))

    return await _run(work())


@router.patch("/activities/{activity_id}", summary="Instructor: change an activity's settings, open or close it",
              responses=problem_responses(403, 404, 422))
async def patch_activity(activity_id: str, body: ActivityPatch, request: Request,
                         session: Session = Depends(require_session)):
    db = _db(request)
    changes = body.model_dump(exclude_unset=True)
    if "closes_at" in changes and changes["closes_at"] is not None:
        changes["closes_at"] = mem.to_iso(changes["closes_at"].astimezone(UTC))
    nullable = {"closes_at"}
    changes = {k: v for k, v in changes.items() if v is not None or k in nullable}

    async def work():
        row = await course_activity(db, session, activity_id)
        return practice.activity_view(await practice.update_activity(db, session.scope, row, changes))

    return await _run(work(), write=True)


@router.post("/activities/{activity_id}/grades/retry", summary="Instructor: send failed grades again now",
             responses=problem_responses(403, 404))
async def retry_grades(activity_id: str, request: Request, session: Session = Depends(require_session)):
    db = _db(request)

    async def work():
        row = await course_activity(db, session, activity_id)
        count = await practice.retry_failed_grades(db, session.scope, row)
        scheduled = await gradebook.request_sync(request.scope["env"], session.scope.tenant_id,
                                                 session.scope.d1_binding, activity_id)
        return {"requeued": count, "scheduled": scheduled}

    return await _run(work(), write=True)


@router.post("/activities/{activity_id}/drafts", status_code=201,
             summary="Instructor: draft items from course text (nothing reaches learners before approval)",
             responses=problem_responses(403, 404, 409, 502))
async def create_draft(activity_id: str, body: DraftRequest, request: Request,
                       session: Session = Depends(require_session)):
    db = _db(request)

    async def work():
        row = await course_activity(db, session, activity_id)
        draft, cached = await practice.create_draft(db, session.scope, request.scope["env"], row, body.text)
        return JSONResponse({**draft, "cached": cached}, status_code=200 if cached else 201)

    return await _run(work(), write=True)


@router.get("/activities/{activity_id}/drafts", summary="Instructor: the activity's drafts",
            responses=problem_responses(403, 404))
async def list_drafts(activity_id: str, request: Request, session: Session = Depends(require_session)):
    db = _db(request)

    async def work():
        row = await course_activity(db, session, activity_id)
        return {"drafts": await practice.drafts_of(db, session.scope, row["id"])}

    return await _run(work())


@router.patch("/activities/{activity_id}/drafts/{draft_id}", summary="Instructor: edit a draft's items",
              responses=problem_responses(403, 404, 409, 422))
async def edit_draft(activity_id: str, draft_id: str, body: DraftEdit, request: Request,
                     session: Session = Depends(require_session)):
    db = _db(request)

    async def work():
        row = await course_activity(db, session, activity_id)
        docs = [i.model_dump(exclude_none=True) for i in body.items]
        for d in docs:
            d.pop("approved", None)
            d.pop("ref", None)
        return await practice.update_draft(db, session.scope, session.context_id, row["id"], draft_id, docs)

    return await _run(work(), write=True)


@router.post("/activities/{activity_id}/drafts/{draft_id}/approve",
             summary="Instructor: approve a draft; its items join the bank for learners",
             responses=problem_responses(403, 404, 409, 422))
async def approve_draft(activity_id: str, draft_id: str, body: DraftApproval, request: Request,
                        session: Session = Depends(require_session)):
    db = _db(request)

    async def work():
        row = await course_activity(db, session, activity_id)
        return await practice.approve_draft(db, session.scope, session.context_id, session.lti_user_id, row["id"],
                                            draft_id, body.items)

    return await _run(work(), write=True)


@router.post("/activities/{activity_id}/drafts/{draft_id}/discard", summary="Instructor: discard a draft",
             responses=problem_responses(403, 404, 409))
async def discard_draft(activity_id: str, draft_id: str, request: Request, session: Session = Depends(require_session)):
    db = _db(request)

    async def work():
        row = await course_activity(db, session, activity_id)
        return await practice.discard_draft(db, session.scope, row["id"], draft_id)

    return await _run(work(), write=True)


# -- the question bank ------------------------------------------------------------------------

_IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"anyOf": [
        {"$ref": "#/components/schemas/ImportDocument"},
        {"type": "array", "items": {"$ref": "#/components/schemas/ItemDocument"}, "minItems": 1,
         "maxItems": items.MAX_ITEMS}]}},
    "text/csv": {"schema": {"type": "string", "description": "A header row (format,concept,... see README "
                                                             "\"Activities\"), then one item per row."}}}}}


@router.post("/question-bank/import", status_code=201,
             summary="Instructor: import items (JSON or CSV, at most 64 KiB and 500 items); all or nothing",
             responses=problem_responses(400, 403, 409, 413, 415, 422), openapi_extra=_IMPORT_BODY)
async def import_items(request: Request, session: Session = Depends(require_session)):
    require_instructor(session)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("text/csv", "application/csv"):
        kind = "csv"
    elif content_type == "application/json" or content_type.endswith("+json"):
        kind = "json"
    else:
        raise Problem(415, "Unsupported Media Type", "Send the file as text/csv or application/json.",
                      type_="/problems/unsupported-media-type")
    raw = await request.body()
    if len(raw) > IMPORT_LIMIT_BYTES:
        raise Problem(413, "Content Too Large", "Imports are limited to 64 KiB (about 300 items); split the file.",
                      type_="/problems/import-too-large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "Bad Request", "The file is not UTF-8 text.", type_="/problems/not-utf8") from None
    if kind == "json":
        try:
            json.loads(text)
        except ValueError as exc:
            raise Problem(400, "Bad Request", f"The body is not valid JSON: {exc}", type_="/problems/malformed-json") \
                from None
    db = _db(request)
    try:
        out = await practice.import_items(db, session.scope, session.context_id, session.lti_user_id, text, kind)
    except DataUnavailable:
        raise _unavailable(write=True) from None
    except practice.PracticeError as exc:
        raise _problem(exc) from None
    except ConstraintViolation as exc:
        raise Problem(422, "Unprocessable Content", "The database refused the items.", type_="/problems/constraint",
                      extra={"constraint": exc.kind}) from None
    return JSONResponse(out, status_code=201)


@router.get("/question-bank", summary="Instructor: the course's items (by its concepts), with their keys",
            responses=problem_responses(403))
async def list_items(request: Request, session: Session = Depends(require_session),
                     status: Literal["approved", "awaiting_approval", "retired"] | None = None,
                     format: Literal["fill_blank", "flashcard"] | None = None,
                     concept: Annotated[str | None, Query(max_length=100)] = None,
                     limit: Annotated[int, Query(ge=1, le=practice.MAX_PAGE)] = 100):
    require_instructor(session)
    return await _run(practice.list_items(_db(request), session.scope, session.context_id, status, format, concept,
                                          limit))


@router.get("/question-bank/items/{item_id}", summary="Instructor: one item with its key",
            responses=problem_responses(403, 404))
async def get_item(item_id: str, request: Request, session: Session = Depends(require_session)):
    require_instructor(session)
    db = _db(request)

    async def work():
        return practice.item_view(await practice.get_item(db, session.scope, session.context_id, item_id))

    return await _run(work())


@router.patch("/question-bank/items/{item_id}", summary="Instructor: edit, approve or retire an item",
              responses=problem_responses(403, 404, 409, 422))
async def patch_item(item_id: str, body: ItemPatch, request: Request, session: Session = Depends(require_session)):
    require_instructor(session)
    changes = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None}
    return await _run(practice.update_item(_db(request), session.scope, session.context_id, item_id, changes),
                      write=True)


# -- admin ----------------------------------------------------------------------------------------

@admin_router.get("/tenants/{tenant_id}/ai-settings/drafting",
                  summary="The tenant's drafting provider and model (default: the Worker's)",
                  responses=problem_responses(401, 404, 503))
async def read_drafting(tenant_id: str, request: Request):
    scope = await _tenant_scope(request, tenant_id)
    try:
        row = await practice.drafting_setting(_db(request), scope)
    except DataUnavailable:
        raise _unavailable() from None
    if row is None:
        return {"feature": "drafting", "provider": None, "model": None,
                "default_provider": str(getattr(request.scope["env"], "DRAFTING_PROVIDER", None) or "workers-ai")}
    return {"feature": "drafting", "provider": row["provider"], "model": row["model"], "updated_at": row["updated_at"]}


@admin_router.put("/tenants/{tenant_id}/ai-settings/drafting",
                  summary="Choose the tenant's drafting provider and model",
                  responses=problem_responses(401, 404, 413, 422, 503))
async def write_drafting(tenant_id: str, body: DraftingSetting, request: Request):
    scope = await _tenant_scope(request, tenant_id)
    try:
        return await practice.save_drafting_setting(_db(request), scope, body.provider, body.model)
    except DataUnavailable:
        raise _unavailable(write=True) from None

