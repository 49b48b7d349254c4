"""The learner's AI Guide routes: start a conversation (with the page it was opened
from), send a message and receive the reply as server-sent events or as JSON, resume a
reply after a disconnect (`Last-Event-ID`), list, read and delete conversations. Only a
conversation's owner reaches it; anyone else's id answers 404."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

import clock
from auth.session import Session, require_session
from chat import limits, policy, providers, service, sse
from chat.context import learner_context
from db import profiles
from db.database import Database, DataUnavailable
from problems import Problem, problem_responses
from struggle import service as struggle_service

log = logging.getLogger("atomic_guide.chat")
router = APIRouter(prefix="/api/chat", tags=["chat"])

WAIT_MS = 2_000  # one long poll of the conversation object while a reply streams
EVENT_STREAM = "text/event-stream"
ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


# -- bodies and answers -----------------------------------------------------------------

class PageContext(BaseModel):
    """Where the learner opened the Guide (shown to the Guide, never trusted for access)."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=200)
    path: str | None = Field(default=None, max_length=500)


class StartConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: PageContext | None = None
    concept: Text100 | None = None
    activity_id: str | None = Field(default=None, min_length=1, max_length=64)


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=limits.LEARNER_MESSAGE_MAX_CHARS)


class Conversation(BaseModel):
    id: str
    title: str | None = None
    mode: str
    course_context: str
    page: dict = {}
    activity: dict | None = None
    instructor_visible: bool
    started_at: str
    tokens_used: int
    message_count: int
    graded: dict | None = None
    notices: list[str] = []


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    seq: int
    id: str
    role: str
    status: str
    content: str
    at: str


class Transcript(BaseModel):
    conversation: Conversation
    messages: list[Message]
    has_more: bool


class ConversationSummary(BaseModel):
    id: str
    title: str | None = None
    course_context: str
    status: str
    started_at: str
    last_message_at: str | None = None
    message_count: int
    mode: str


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


class Turn(BaseModel):
    user: dict
    reply: Message
    graded: dict | None = None


class Availability(BaseModel):
    available: bool
    reason: str | None = None
    notices: list[str] = []
    provider: str


# -- shared steps ---------------------------------------------------------------------------

def _db(request: Request) -> Database:
    return Database(request.scope["env"])


def _unavailable(what: str = "The learner database is unavailable (D1 outage); nothing was changed.") -> Problem:
    return Problem(503, "Service Unavailable", what, type_="/problems/d1-unavailable", headers={"Retry-After": "30"})


def _guide_unavailable() -> Problem:
    return Problem(503, "Service Unavailable", "The Guide cannot be reached right now; nothing was lost. Try again "
                   "shortly.", type_="/problems/guide-unavailable", headers={"Retry-After": "5"})


def _not_found() -> Problem:
    return Problem(404, "Not Found", "No such conversation.", type_="/problems/not-found")


async def _call(stub_call) -> dict:
    """A conversation object's answer; an object that cannot be reached is a 503."""
    try:
        return await stub_call
    except Exception as exc:
        log.warning("chat object call failed: %s", exc)
        raise _guide_unavailable() from None


async def _profile(db: Database, session: Session) -> dict:
    try:
        row = await profiles.get_by_user(db, session.scope, session.lti_user_id)
    except DataUnavailable:
        raise _unavailable("The learner database is unavailable (D1 outage).") from None
    if row is None:
        raise Problem(404, "Not Found", "No learner profile yet; launch Atomic Guide from your course first.",
                      type_="/problems/not-found")
    return row


def _require_consent(profile: dict) -> None:
    if not policy.chat_consent(profile):
        raise Problem(403, "Forbidden", policy.CONSENT_OFF, type_="/problems/chat-consent")


async def _owned_row(db: Database, session: Session, conversation_id: str, learner_id: str) -> dict:
    try:
        row = await db.first(session.scope.select("chat_conversations", {"id": conversation_id, "learner_id": learner_id},
                                                  name="chat.conversation.owned"))
    except DataUnavailable:
        raise _unavailable("The learner database is unavailable (D1 outage).") from None
    if row is None:
        raise _not_found()
    return _decode_conversation(row)


def _decode_conversation(row: dict) -> dict:
    out = dict(row)
    if isinstance(out.get("metadata"), str):
        out["metadata"] = json.loads(out["metadata"])
    return out


def _page(session: Session, page: PageContext | None, concept: str | None, activity: dict | None) -> dict:
    out = {"course": session.claims.ct, "concept": concept}
    if page is not None:
        out.update({k: v for k, v in page.model_dump().items() if v})
    if activity is not None:
        view = service.activity_view(activity)
        out["activity"] = {"id": view["id"], "title": view["title"]}
        if concept is None and len(view["concepts"]) == 1:
            out["concept"] = view["concepts"][0]
    return {k: v for k, v in out.items() if v is not None}


# -- routes ----------------------------------------------------------------------------------

@router.get("/availability", response_model=Availability, summary="Whether the Guide can be used here, and why not",
            responses=problem_responses(401, 404, 422, 503))
async def availability(request: Request, session: Session = Depends(require_session),
                       activity_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None):
    db = _db(request)
    profile = await _profile(db, session)
    try:
        settings, _ = await service.settings_and_usage(request.scope["env"], db, session.scope, session.context_id,
                                                       profile["id"])
        activity = await service.course_activity(db, session.scope, activity_id, session.context_id) \
            if activity_id else None
    except DataUnavailable:
        raise _unavailable("The learner database is unavailable (D1 outage).") from None
    if activity_id and activity is None:
        raise Problem(404, "Not Found", "No such activity in your course.", type_="/problems/not-found")
    offline = isinstance(providers.choose(request.scope["env"], settings), providers.OfflineProvider)
    reason = None
    if not policy.chat_consent(profile):
        reason = policy.CONSENT_OFF
    elif not policy.guide_allowed(activity):
        reason = policy.GUIDE_OFF
    graded = activity is not None and policy.is_guide_activity(activity)
    return {"available": reason is None, "reason": reason,
            "notices": policy.notices(policy.staff_may_read(settings["instructor_transcripts"], profile), graded,
                                      offline),
            "provider": "offline" if offline else "workers-ai"}


@router.post("/conversations", status_code=201, response_model=Conversation,
             summary="Start a conversation (or return the learner's conversation of a Guide activity)",
             responses={200: {"model": Conversation, "description": "The learner's existing Guide-activity conversation"},
                        **problem_responses(400, 401, 403, 404, 413, 415, 422, 503)})
async def start(body: StartConversation, request: Request, session: Session = Depends(require_session)):
    env = request.scope["env"]
    db = _db(request)
    scope = session.scope
    profile = await _profile(db, session)
    _require_consent(profile)
    activity = None
    try:
        if body.activity_id:
            activity = await service.course_activity(db, scope, body.activity_id, session.context_id)
            if activity is None:
                raise Problem(404, "Not Found", "No such activity in your course.", type_="/problems/not-found")
            if not policy.guide_allowed(activity):
                raise Problem(403, "Forbidden", policy.GUIDE_OFF, type_="/problems/guide-off")
        graded = activity is not None and policy.is_guide_activity(activity)
        settings, _ = await service.settings_and_usage(env, db, scope, session.context_id, profile["id"])
        if graded:
            existing = await db.first(scope.select("assessment_conversations", {
                "assessment_config_id": activity["id"], "learner_id": profile["id"]}, columns=["id"], limit=1,
                name="chat.assessment.existing"))
            if existing is not None:
                opened = await _call(service.conversation_stub(env, scope.tenant_id, existing["id"]).read(
                    session.lti_user_id, limit=1))
                if opened.get("status") == "ok":
                    conversation = opened["conversation"]
                    offline = isinstance(providers.choose(env, settings), providers.OfflineProvider)
                    conversation["notices"] = policy.notices(conversation["instructor_visible"], True, offline)
                    return JSONResponse(conversation, status_code=200)
    except DataUnavailable:
        raise _unavailable() from None
    instructor_visible = policy.staff_may_read(settings["instructor_transcripts"], profile)
    conversation_id = profiles.new_id()
    meta = {"conversation_id": conversation_id, "tenant_id": scope.tenant_id, "d1_binding": scope.d1_binding,
            "learner_id": profile["id"], "lti_user_id": session.lti_user_id, "course_context": session.context_id,
            "mode": "graded" if graded else "study", "page": _page(session, body.page, body.concept, activity),
            "activity": service.activity_view(activity) if activity is not None else None,
            "instructor_visible": instructor_visible, "title": (service.activity_view(activity)["title"]
                                                                if graded else None)}
    stub = service.conversation_stub(env, scope.tenant_id, conversation_id)
    opened = await _call(stub.open(meta))
    statements = [scope.insert("chat_conversations", {
        "id": conversation_id, "learner_id": profile["id"], "course_context": session.context_id,
        "title": meta["title"], "instructor_visible": int(instructor_visible),
        "metadata": _json({"mode": meta["mode"], "page": meta["page"],
                           "activity_id": activity["id"] if activity else None})}, name="chat.conversation.create")]
    if graded:
        statements.append(scope.insert("assessment_conversations", {
            "id": conversation_id, "assessment_config_id": activity["id"], "learner_id": profile["id"],
            "course_context": session.context_id, "metadata": _json({"chat_conversation_id": conversation_id})},
            name="chat.assessment.create"))
    try:
        await db.batch(statements, name="chat.conversation.start")
    except DataUnavailable:
        await _call(stub.purge(None))  # not acknowledged: the object must not keep it either
        raise _unavailable() from None
    offline = isinstance(providers.choose(env, settings), providers.OfflineProvider)
    conversation = opened["conversation"]
    conversation["notices"] = policy.notices(instructor_visible, graded, offline)
    return JSONResponse(conversation, status_code=201)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@router.get("/conversations", response_model=ConversationList, summary="My conversations, newest first",
            responses=problem_responses(401, 404, 503))
async def list_mine(request: Request, session: Session = Depends(require_session)):
    db = _db(request)
    profile = await _profile(db, session)
    try:
        rows = await db.all(session.scope.select("chat_conversations", {"learner_id": profile["id"]},
                                                 order_by="started_at DESC", limit=service.MAX_LISTED,
                                                 name="chat.conversation.list"))
    except DataUnavailable:
        raise _unavailable("The learner database is unavailable (D1 outage).") from None
    out = []
    for row in map(_decode_conversation, rows):
        out.append({"id": row["id"], "title": row.get("title"), "course_context": row["course_context"],
                    "status": row["status"], "started_at": row["started_at"], "last_message_at": row["last_message_at"],
                    "message_count": row["message_count"], "mode": (row.get("metadata") or {}).get("mode", "study")})
    return {"conversations": out}


@router.get("/conversations/{conversation_id}", response_model=Transcript, summary="One of my conversations",
            responses=problem_responses(401, 404, 422, 503))
async def read(conversation_id: ConversationId, request: Request, session: Session = Depends(require_session),
               before_seq: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 200):
    stub = service.conversation_stub(request.scope["env"], session.scope.tenant_id, conversation_id)
    result = await _call(stub.read(session.lti_user_id, None, before_seq, limit))
    if result.get("status") != "ok":
        raise _not_found()
    return {k: result[k] for k in ("conversation", "messages", "has_more")}


@router.delete("/conversations/{conversation_id}", status_code=204, summary="Delete one of my conversations",
               responses=problem_responses(401, 404, 409, 422, 503))
async def delete(conversation_id: ConversationId, request: Request, session: Session = Depends(require_session)):
    env = request.scope["env"]
    db = _db(request)
    profile = await _profile(db, session)
    row = await _owned_row(db, session, conversation_id, profile["id"])
    if (row.get("metadata") or {}).get("mode") == "graded":
        raise Problem(409, "Conflict", "A graded Guide conversation is part of your assessment record; it is removed "
                      "with the rest of your data when you erase it.", type_="/problems/graded-conversation")
    await _call(service.conversation_stub(env, session.scope.tenant_id, conversation_id).purge(session.lti_user_id))
    scope = session.scope
    try:
        await db.batch([
            scope.update("chat_usage", {"conversation_id": None}, {"conversation_id": conversation_id},
                         name="chat.usage.forget_conversation"),
            scope.delete("chat_messages", {"conversation_id": conversation_id}, name="chat.messages.delete"),
            scope.delete("chat_conversations", {"id": conversation_id, "learner_id": profile["id"]},
                         name="chat.conversation.delete"),
        ], name="chat.conversation.delete")
    except DataUnavailable:
        raise _unavailable("The learner database is unavailable; the conversation's messages are gone from the Guide "
                           "but its record remains. Delete it again shortly.") from None
    return Response(status_code=204)


# -- sending and streaming ----------------------------------------------------------------------

def _wants_stream(request: Request) -> bool:
    return EVENT_STREAM in request.headers.get("accept", "").lower()


async def _reply_events(stub, owner: str, seq: int | None, offset: int) -> AsyncIterator[bytes]:
    """The reply as SSE: `delta` events (id `<seq>.<offset>`) as its text is stored, then
    `done` with the sealed message. Comment lines keep the connection alive."""
    while True:
        try:
            result = await stub.stream_from(owner, seq, offset, WAIT_MS)
        except Exception as exc:
            log.warning("chat stream read failed: %s", exc)
            yield sse.format_event("error", {"message": "The Guide could not be reached; reconnect to resume."})
            return
        if result.get("status") != "ok":
            yield sse.format_event("error", {"message": "There is no reply to resume here."})
            return
        seq = result["seq"]
        for chunk in result["chunks"]:
            offset = chunk["start"] + len(chunk["text"])
            yield sse.format_event("delta", {"seq": seq, "text": chunk["text"]}, sse.event_id(seq, offset))
        if result["done"]:
            yield sse.format_event("done", {"seq": seq, "reply": result["reply"]}, sse.event_id(seq, offset))
            return
        if not result["chunks"]:
            yield b": waiting\n\n"


async def _whole_reply(stub, owner: str, seq: int) -> dict:
    while True:
        result = await _call(stub.stream_from(owner, seq, 0, WAIT_MS, True))
        if result.get("status") != "ok":
            raise _guide_unavailable()
        if result["done"]:
            return result["reply"]


async def _sync_grade(request: Request, session: Session, db: Database, stub, graded: dict | None,
                      activity_id: str | None) -> dict | None:
    """Sends a graded conversation's grade when it changed since the last one the
    gradebook accepted (retried by the next turn or page view when it fails)."""
    if not graded or activity_id is None or graded.get("grade") == graded.get("grade_sent"):
        return graded
    try:
        activity = await service.load_activity(db, session.scope, activity_id)
    except DataUnavailable:
        return graded
    if activity is None:
        return graded
    # The grade goes the way of every activity's, through activity_progress and GradeSync:
    # with the platform columns its launches left (deep linking, practice/launch.py) or,
    # for one made with the API, its course's grant.
    outcome = None
    if not activity.get("platform_issuer"):
        try:
            activity, outcome = await service.adopt_course_grants(request.scope["env"], db, session.scope, activity,
                                                                  session.context_id)
        except DataUnavailable:
            activity, outcome = None, "failed"
    if activity is not None:
        outcome = await _queue_grade(request, session, db, activity, graded)
    try:
        await stub.record_grade(session.lti_user_id, float(graded["grade"]), outcome)
    except Exception as exc:
        log.warning("grade outcome not recorded: %s", exc)
    return {**graded, "grade_outcome": outcome, "grade_sent": graded["grade"] if outcome in ("sent", "queued") else
            graded.get("grade_sent")}


async def _queue_grade(request: Request, session: Session, db: Database, activity: dict, graded: dict) -> str:
    """queued (GradeSync will send it, retrying as it does for practice) or failed (D1)."""
    from practice import gradebook
    from practice import service as practice

    env = request.scope["env"]
    try:
        profile = await practice.learner_profile(db, session.scope, session.lti_user_id)
        await practice.record_guide_score(db, session.scope, activity, profile["id"], session.lti_user_id,
                                          float(graded["grade"]), graded.get("status") == "completed",
                                          clock.now_ms(env))
    except (DataUnavailable, practice.PracticeError):
        return "failed"
    await gradebook.request_sync(env, session.scope.tenant_id, session.scope.d1_binding, activity["id"])
    return "queued"


def _public_graded(graded: dict | None) -> dict | None:
    if graded is None:
        return None
    return {k: graded.get(k) for k in ("mastery_score", "status", "grade", "grade_sent", "grade_outcome")}


@router.post("/conversations/{conversation_id}/messages", response_model=Turn,
             summary="Send a message; the reply streams as server-sent events (Accept: text/event-stream) or "
                     "comes whole as JSON",
             responses={200: {"content": {EVENT_STREAM: {"schema": {"type": "string"}}},
                              "description": "The reply (JSON, or events `stored`, `delta`, `done`)"},
                        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503)})
async def send(conversation_id: ConversationId, body: SendMessage, request: Request,
               session: Session = Depends(require_session)):
    env = request.scope["env"]
    db = _db(request)
    scope = session.scope
    profile = await _profile(db, session)
    _require_consent(profile)
    row = await _owned_row(db, session, conversation_id, profile["id"])
    try:
        text = limits.learner_message(body.content)
    except limits.LimitError as exc:
        raise Problem(422, "Unprocessable Content", str(exc), type_="/problems/validation") from None
    metadata = row.get("metadata") or {}
    activity = None
    try:
        if metadata.get("activity_id"):
            activity = await service.load_activity(db, scope, metadata["activity_id"])
            if activity is not None and not policy.guide_allowed(activity):
                raise Problem(403, "Forbidden", policy.GUIDE_OFF, type_="/problems/guide-off")
        gate = await _call(service.learner_stub(env, scope.tenant_id, profile["id"]).admit())
        if not gate["allowed"]:
            raise Problem(429, "Too Many Requests", f"You can send {limits.RATE_LIMIT_MESSAGES} messages a minute to "
                          f"the Guide; wait {gate['retry_after_s']} s.", type_="/problems/chat-rate-limit",
                          headers={"Retry-After": str(gate["retry_after_s"])},
                          extra={"retry_after_s": gate["retry_after_s"]})
        settings, usage = await service.settings_and_usage(env, db, scope, row["course_context"], profile["id"])
        page = metadata.get("page") or {}
        concepts = service.activity_view(activity)["concepts"] if activity is not None else []
        learner = await learner_context(db, scope, profile["id"], page.get("concept"), concepts, clock.now_ms(env))
    except DataUnavailable:
        raise _unavailable("The learner database is unavailable (D1 outage); nothing was sent.") from None
    stub = service.conversation_stub(env, scope.tenant_id, conversation_id)
    result = await _call(stub.send(session.lti_user_id, text, {
        "page": page, "learner": learner, "settings": settings, "usage": usage, "d1_binding": scope.d1_binding}))
    status = result.get("status")
    if status == "not_found":
        raise _not_found()
    if status == "invalid":
        raise Problem(422, "Unprocessable Content", result["message"], type_="/problems/validation")
    if status == "full":
        raise Problem(409, "Conflict", result["message"], type_="/problems/conversation-full")
    if status == "limited":
        headers = {"Retry-After": str(result["retry_after_s"])} if result.get("retry_after_s") else {}
        raise Problem(429, "Too Many Requests", result["message"], type_="/problems/chat-budget", headers=headers,
                      extra={"limit": result["limit"]})
    if status != "ok":
        raise _unavailable(result.get("message") or "The learner database is unavailable; nothing was sent.")
    # What the message says of the learner's struggle goes to their session's detector
    # (never fails the chat; nothing without a learning session or analytics consent).
    await struggle_service.report_chat(env, session, profile, conversation_id, result["signals"])
    reply_seq = result["reply_seq"]
    activity_id = activity["id"] if activity is not None and policy.is_guide_activity(activity) else None

    if _wants_stream(request):
        async def events() -> AsyncIterator[bytes]:
            yield sse.retry_hint(1000)
            yield sse.format_event("stored", {"conversation_id": conversation_id, "user": result["user"],
                                              "reply_seq": reply_seq})
            async for chunk in _reply_events(stub, session.lti_user_id, reply_seq, 0):
                yield chunk
            graded = await _sync_grade(request, session, db, stub, result.get("graded"), activity_id)
            if graded is not None:
                yield sse.format_event("graded", _public_graded(graded))

        return StreamingResponse(events(), media_type=EVENT_STREAM, headers={"X-Accel-Buffering": "no"})
    reply = await _whole_reply(stub, session.lti_user_id, reply_seq)
    graded = await _sync_grade(request, session, db, stub, result.get("graded"), activity_id)
    return {"user": result["user"], "reply": reply, "graded": _public_graded(graded)}


@router.get("/conversations/{conversation_id}/stream", summary="Resume a reply's event stream after a disconnect",
            response_class=StreamingResponse,
            responses={200: {"content": {EVENT_STREAM: {"schema": {"type": "string"}}},
                             "description": "Events `delta` and `done` from the character after Last-Event-ID"},
                       **problem_responses(401, 404, 422, 503)})
async def resume(conversation_id: ConversationId, request: Request, session: Session = Depends(require_session),
                 last_event_id: Annotated[str, Header(max_length=40, description=(
                     "`<seq>.<offset>`: the id of the last event received. Anything else is ignored, as an "
                     "event stream's server ignores an id it did not send: the latest reply comes from its start."))
                 ] = None):
    """Without Last-Event-ID: the latest reply from its start. With `<seq>.<offset>`
    (the id of the last event received): that reply from the next character."""
    stub = service.conversation_stub(request.scope["env"], session.scope.tenant_id, conversation_id)
    position = sse.parse_event_id(last_event_id)
    seq, offset = position if position else (None, 0)
    first = await _call(stub.stream_from(session.lti_user_id, seq, offset, 0))
    if first.get("status") == "not_found":
        raise _not_found()
    if first.get("status") != "ok":
        raise Problem(404, "Not Found", "This conversation has no reply to resume.", type_="/problems/not-found")

    async def events() -> AsyncIterator[bytes]:
        yield sse.retry_hint(1000)
        async for chunk in _reply_events(stub, session.lti_user_id, first["seq"], offset):
            yield chunk

    return StreamingResponse(events(), media_type=EVENT_STREAM, headers={"X-Accel-Buffering": "no"})
