"""Learner-model routes: the knowledge graph (import, read, readiness), answers
(`POST /api/responses`), my mastery and review queue, and the instructor's mastery view
and settings of the launch course. HTTP in and out only; the work is in learner/."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

import clock
from api import grades
from auth.session import Session, require_session
from db import profiles
from db.database import ConstraintViolation, Database, DataUnavailable
from learner import graph as kg
from learner import service
from api.types import StrictBody
from problems import Problem, problem_responses

router = APIRouter(prefix="/api", tags=["learner model"])

ConceptId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ContextId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
MAX_IMPORT = 300
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


_Strict = StrictBody


class ConceptIn(_Strict):
    id: ConceptId
    name: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    prerequisites: list[ConceptId] = Field(default_factory=list, max_length=100)
    course_contexts: list[ContextId] | None = Field(default=None, max_length=100)
    subject: Label = "general"
    topic: Label = "general"


class GraphImport(_Strict):
    concepts: list[ConceptIn] = Field(min_length=1, max_length=MAX_IMPORT)


class AnswerIn(_Strict):
    question_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    # 1 / true right, 0 / false wrong, in between partial credit.
    correct: StrictBool | Annotated[float, Field(ge=0, le=1)]
    response_time_ms: int = Field(ge=0, le=86_400_000)
    hints: int = Field(default=0, ge=0, le=100)
    response_text: str = Field(default="", max_length=20_000)


class MasterySettings(_Strict):
    mastery_threshold: float = Field(default=80.0, ge=0, le=100)
    concept_columns: bool = False


def _db(request: Request) -> Database:
    return Database(request.scope["env"])


def _unavailable(write: bool = False) -> Problem:
    detail = ("The learner database is unavailable (D1 outage); nothing was recorded. Try again shortly."
              if write else "The learner database is unavailable (D1 outage).")
    return Problem(503, "Service Unavailable", detail, type_="/problems/d1-unavailable", headers={"Retry-After": "30"})


def _problem(exc: service.LearnerError) -> Problem:
    titles = {404: "Not Found", 409: "Conflict", 422: "Unprocessable Content"}
    return Problem(exc.status, titles.get(exc.status, "Error"), exc.detail, type_=f"/problems/{exc.kind}",
                   extra=exc.extra)


def _require_instructor(session: Session, context_id: str | None = None) -> None:
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors of this course can do this.", type_="/problems/forbidden")
    if context_id is not None and context_id != session.context_id:
        raise Problem(404, "Not Found", "No such course in your launch context.", type_="/problems/not-found")


async def _learner(db: Database, session: Session) -> dict:
    row = await profiles.get_by_user(db, session.scope, session.lti_user_id)
    if row is None:
        raise Problem(404, "Not Found", "No learner profile yet; launch the tool from your course first.",
                      type_="/problems/not-found")
    return row


def graph_problem(plan: kg.ImportPlan) -> Problem:
    ids = sorted({i for p in plan.problems for i in p.ids})
    return Problem(422, "Unprocessable Content", "The knowledge graph import was refused; nothing was stored.",
                   type_="/problems/graph-invalid",
                   extra={"ids": ids, "problems": [p.as_dict() for p in plan.problems]})


def concepts_from(body: GraphImport, default_contexts: list[str]) -> list[kg.Concept]:
    return [kg.Concept(c.id, c.name, tuple(c.prerequisites),
                       tuple(c.course_contexts if c.course_contexts is not None else default_contexts),
                       c.subject, c.topic) for c in body.concepts]


def graph_view(graph: dict[str, kg.Concept], ids: list[str]) -> list[dict]:
    return [{"id": cid, "name": graph[cid].name, "prerequisites": list(graph[cid].prerequisites),
             "course_contexts": list(graph[cid].course_contexts), "subject": graph[cid].subject,
             "topic": graph[cid].topic} for cid in ids]


# -- knowledge graph ---------------------------------------------------------------------

@router.post("/knowledge-graph", status_code=201, summary="Instructor: import concepts and prerequisites",
             responses=problem_responses(403, 404, 409, 422))
async def import_graph(body: GraphImport, request: Request, session: Session = Depends(require_session)):
    _require_instructor(session)
    foreign_contexts = sorted({ctx for c in body.concepts for ctx in (c.course_contexts or [])
                               if ctx != session.context_id})
    if foreign_contexts:
        raise Problem(422, "Unprocessable Content", "An instructor can attach concepts to the launch course only.",
                      type_="/problems/validation", extra={"course_contexts": foreign_contexts})
    db = _db(request)
    try:
        existing = await service.load_graph(db, session.scope)
        incoming = []
        for c in concepts_from(body, [session.context_id]):
            # Keep the other courses an existing concept is used in; add this one.
            old = existing.get(c.id)
            contexts = tuple(sorted(set(old.course_contexts if old else ()) | {session.context_id}))
            incoming.append(kg.Concept(c.id, c.name, c.prerequisites, contexts, c.subject, c.topic))
        plan = await service.import_graph(db, session.scope, incoming)
    except DataUnavailable:
        raise _unavailable(write=True) from None
    except service.LearnerError as exc:
        raise _problem(exc) from None
    if plan.problems:
        raise graph_problem(plan)
    return {"created": list(plan.created), "updated": list(plan.updated), "concepts": len(plan.graph)}


@router.get("/knowledge-graph", summary="The launch course's concepts and their prerequisites",
             responses=problem_responses(404))
async def read_graph(request: Request, session: Session = Depends(require_session)):
    try:
        graph = await service.load_graph(_db(request), session.scope)
    except DataUnavailable:
        raise _unavailable() from None
    ids = kg.course_concepts(graph, session.context_id)
    # Prerequisites from outside the course are listed too, so the graph is complete.
    closure = set(ids)
    frontier = list(ids)
    while frontier:
        for p in graph[frontier.pop()].prerequisites:
            if p not in closure and p in graph:
                closure.add(p)
                frontier.append(p)
    return {"course_context": session.context_id, "concepts": graph_view(graph, sorted(closure))}


@router.get("/readiness", summary="My readiness per concept of the course (all prerequisites mastered?)",
             responses=problem_responses(404))
async def my_readiness(request: Request, session: Session = Depends(require_session)):
    db = _db(request)
    try:
        learner = await _learner(db, session)
        concepts = await service.readiness_of(db, session.scope, learner["id"], session.context_id)
    except DataUnavailable:
        raise _unavailable() from None
    return {"course_context": session.context_id, "concepts": concepts}


# -- answers -----------------------------------------------------------------------------

@router.post("/responses", status_code=201, summary="Record my answer and update what the tool believes I know",
             responses=problem_responses(400, 404, 409, 422),
             openapi_extra={"parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                 "description": "The same on every retry of this answer: a replay returns the original answer.",
                 "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"}}]})
async def record_response(body: AnswerIn, request: Request, session: Session = Depends(require_session),
                          idempotency_key: str | None = Header(default=None, alias="Idempotency-Key",
                                                               include_in_schema=False)):
    if idempotency_key is None or not _KEY.match(idempotency_key):
        raise Problem(400, "Bad Request", "Send an `Idempotency-Key` header (1-200 visible ASCII characters), the "
                      "same on every retry of this answer.", type_="/problems/idempotency-key-required")
    env = request.scope["env"]
    db = _db(request)
    answer = service.Answer(body.question_id, float(body.correct), body.response_time_ms / 1000.0, body.hints,
                            body.response_text)
    try:
        learner = await _learner(db, session)
        result, replayed = await service.record_answer(
            db, session.scope, learner_id=learner["id"], context_id=session.context_id,
            session_id=session.learning_session_id, key=idempotency_key, answer=answer, now_ms=clock.now_ms(env))
        if not replayed:
            result = await _after_answer(request, session, db, learner["id"], result)
    except DataUnavailable:
        raise _unavailable(write=True) from None
    except service.LearnerError as exc:
        raise _problem(exc) from None
    except ConstraintViolation as exc:
        raise Problem(422, "Unprocessable Content", "The database refused the answer.", type_="/problems/constraint",
                      extra={"constraint": exc.kind}) from None
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(result, status_code=201, headers=headers)


async def _after_answer(request: Request, session: Session, db: Database, learner_id: str, result: dict) -> dict:
    """The answer is stored (with the course score in student_progress). A score that
    crossed the threshold now goes to the gradebook, best effort: a gradebook that cannot
    be reached does not undo the answer (POST /api/mastery/sync sends it again)."""
    if not result["course"]["reached"]:
        return result
    course = await service.course_progress(db, session.scope, learner_id, session.context_id)
    try:
        sent = await grades.pass_back(request, session, learner_id, course)
        gradebook = {"status": "sent", "score_given": sent["score_given"]}
    except Problem as exc:
        gradebook = {"status": "not_sent", "detail": exc.detail}
    result = {**result, "course": {**result["course"], "gradebook": gradebook}}
    await service.store_result(db, session.scope, result)
    return result


@router.get("/mastery", summary="My mastery, recall and readiness per concept",
             responses=problem_responses(404))
async def my_mastery(request: Request, session: Session = Depends(require_session)):
    db = _db(request)
    try:
        learner = await _learner(db, session)
        return await service.my_mastery(db, session.scope, learner["id"], session.context_id,
                                        clock.now_ms(request.scope["env"]))
    except DataUnavailable:
        raise _unavailable() from None


@router.get("/reviews/due", summary="My review queue: concepts due for spaced review, or fading",
             responses=problem_responses(404))
async def my_reviews(request: Request, session: Session = Depends(require_session)):
    db = _db(request)
    try:
        learner = await _learner(db, session)
        due = await service.due_reviews(db, session.scope, learner["id"], clock.now_ms(request.scope["env"]))
    except DataUnavailable:
        raise _unavailable() from None
    return {"due": due, "count": len(due)}


# -- instructor ---------------------------------------------------------------------------

@router.get("/courses/{context_id}/mastery", summary="Instructor: learners x concepts of the launch course",
             responses=problem_responses(403, 404))
async def course_mastery(context_id: str, request: Request, session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    try:
        return await service.course_mastery(_db(request), session.scope, context_id,
                                            clock.now_ms(request.scope["env"]))
    except DataUnavailable:
        raise _unavailable() from None


@router.get("/courses/{context_id}/mastery-settings", summary="Instructor: the course's mastery threshold and columns",
             responses=problem_responses(403, 404))
async def read_settings(context_id: str, request: Request, session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    try:
        return await service.course_settings(_db(request), session.scope, context_id)
    except DataUnavailable:
        raise _unavailable() from None


@router.put("/courses/{context_id}/mastery-settings", summary="Instructor: set the threshold and per-concept columns",
             responses=problem_responses(403, 404))
async def write_settings(context_id: str, body: MasterySettings, request: Request,
                         session: Session = Depends(require_session)):
    _require_instructor(session, context_id)
    try:
        return await service.save_course_settings(_db(request), session.scope, context_id, body.mastery_threshold,
                                                  body.concept_columns)
    except DataUnavailable:
        raise _unavailable(write=True) from None
