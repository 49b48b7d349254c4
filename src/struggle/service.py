"""The thin async service of struggle detection: finds the session's StruggleDetector
(named by tenant and learning session, both from the verified session token), sets it up
once from D1 (the session row, the tenant's rule overrides, today's offers), honours
consent, and reads the instructor's overview from D1. Routes translate HTTP around it;
the responses route of the learner model calls `report_answer` server-side.

Errors are StruggleError subclasses with the HTTP status the routes answer."""

from __future__ import annotations

import json
import logging
from typing import Any

import clock
import privacy
from auth.session import Session
from db import profiles
from db.database import Database, DataUnavailable
from db.scope import MAX_IN_LIST
from db.system import get_tenant
from resilience.cache import profile_key, read_through
from struggle import intake
from struggle.config import lenient
from struggle.models import AnswerReport
from struggle.report import course_overview as summarise_course, iso

log = logging.getLogger("atomic_guide.struggle")

BINDING = "STRUGGLE_DETECTOR"
DAY_MS = 86_400_000
# Sessions whose objects may still hold data (they erase themselves a day after the end).
ERASE_LOOKBACK_MS = 3 * DAY_MS
OVERVIEW_ROWS = 5000  # per chunk of learners: an overview reads a bounded amount


class StruggleError(Exception):
    status = 500
    kind = "struggle-error"

    def __init__(self, detail: str, headers: dict[str, str] | None = None, extra: dict | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


class NoLearningSession(StruggleError):
    status, kind = 409, "no-learning-session"


class SessionNotFound(StruggleError):
    status, kind = 404, "not-found"


class ConsentOff(StruggleError):
    status, kind = 403, "analytics-consent-off"


class ImplausibleSignals(StruggleError):
    status, kind = 422, "implausible-signals"


class RateLimited(StruggleError):
    status, kind = 429, "rate-limited"


class ReactionConflict(StruggleError):
    status, kind = 409, "reaction-conflict"


class DetectorUnavailable(StruggleError):
    status, kind = 503, "detector-unavailable"


class LearnerDataUnavailable(StruggleError):
    status, kind = 503, "d1-unavailable"


def object_name(tenant_id: str, learning_session_id: str) -> str:
    return f"{tenant_id}:{learning_session_id}"


def _stub(env: Any, session: Session):
    return getattr(env, BINDING).getByName(object_name(session.scope.tenant_id, session.learning_session_id))


def _identity(session: Session, profile: dict) -> dict:
    return {"tenant_id": session.scope.tenant_id, "learning_session_id": session.learning_session_id,
            "learner_id": profile["id"]}


def _require_learning_session(session: Session) -> None:
    if not session.learning_session_id:
        raise NoLearningSession("This session token names no learning session (it was not issued by a launch); "
                                "launch the tool from the course to study with help.")


async def _profile(env: Any, session: Session) -> dict:
    """The caller's profile (consent flags): D1, or its KV copy during an outage."""
    try:
        row, _stale = await read_through(
            env, profile_key(session.scope.tenant_id, session.lti_user_id),
            lambda: profiles.get_by_user(Database(env), session.scope, session.lti_user_id),
            lambda r: str(r["version"]), session.scope.tenant_id)
    except DataUnavailable:
        raise LearnerDataUnavailable("The learner database is unavailable and no cached copy of your profile "
                                     "exists; nothing was recorded.", headers={"Retry-After": "30"}) from None
    if row is None:
        raise SessionNotFound("No learning session of yours is known here.")
    return row


def day_start_ms(now_ms: int) -> int:
    return now_ms - now_ms % DAY_MS


async def _bind(env: Any, session: Session, profile: dict, stub) -> None:
    """First contact with the session's object: the session must exist in D1 and be the
    caller's; the object learns the tenant's rule overrides and today's offers so far."""
    db = Database(env)
    scope = session.scope
    try:
        row = await db.first(scope.select("learning_sessions", {"id": session.learning_session_id,
                                                                "learner_id": profile["id"]},
                                          columns=["id"], name="struggle.session"))
        if row is None:
            raise SessionNotFound("This learning session no longer exists (erased, or never opened here).")
        tenant = await db.first(get_tenant(scope.tenant_id))
        today = await db.first(scope.count("intervention_logs", {
            "learner_id": profile["id"], "delivered_at__ge": iso(day_start_ms(clock.now_ms(env)))},
            name="struggle.offers_today"))
    except DataUnavailable:
        raise LearnerDataUnavailable("The learner database is unavailable, so help cannot be set up for this "
                                     "session yet; nothing was recorded.", headers={"Retry-After": "30"}) from None
    settings = json.loads((tenant or {}).get("settings") or "{}")
    overrides = settings.get("struggle") if isinstance(settings.get("struggle"), dict) else {}
    _rules, problems = lenient(overrides)
    if problems:
        log.warning(json.dumps({"event": "struggle_rules_ignored", "tenant_id": scope.tenant_id,
                                "problems": problems}))
    result = await stub.bind(_identity(session, profile), {"rules": overrides, "offers_today": today["n"]})
    if result["status"] != "ok":
        raise SessionNotFound("This learning session belongs to someone else.")


async def _call(env: Any, session: Session, profile: dict, method: str, *args) -> dict:
    stub = _stub(env, session)
    identity = _identity(session, profile)
    try:
        result = await getattr(stub, method)(identity, *args)
        if result["status"] == "unbound":
            await _bind(env, session, profile, stub)
            result = await getattr(stub, method)(identity, *args)
    except StruggleError:
        raise
    except Exception as exc:
        log.error(json.dumps({"event": "struggle_detector_unreachable", "method": method, "error": str(exc)[:200]}))
        raise DetectorUnavailable("Struggle detection is unavailable right now; nothing was recorded.",
                                  headers={"Retry-After": "10"}) from None
    if result["status"] in ("mismatch", "unbound"):
        raise SessionNotFound("This learning session belongs to someone else.")
    return result


# -- the learner's reports ----------------------------------------------------------------

async def report_signals(env: Any, session: Session, signals: list[dict], final: bool = False,
                         guide: bool = True) -> dict:
    """A validated batch of the page's signals for the caller's learning session. With
    analytics consent off nothing is stored (and what the object held is forgotten)."""
    _require_learning_session(session)
    profile = await _profile(env, session)
    consent = privacy.consent(profile.get("privacy_settings"))
    if not consent["analytics"]:
        try:
            await _stub(env, session).forget_behaviour(_identity(session, profile))
        except Exception:  # best-effort: nothing new is stored either way
            log.warning(json.dumps({"event": "struggle_forget_failed"}))
        raise ConsentOff("You turned analytics off in your privacy settings, so behaviour is not collected; "
                         "nothing was stored. Turn it on in your profile to get help offered while you study.")
    bad = intake.implausible_times([s["t"] for s in signals], clock.now_ms(env))
    if bad:
        raise ImplausibleSignals("Signal times must be within 15 minutes before and 2 minutes after the server's "
                                 "clock; nothing was stored.", extra={"signals": bad})
    result = await _call(env, session, profile, "record_signals", signals,
                         {"final": final, "analytics": True, "visible": consent["instructor_visibility"],
                          "guide": guide and consent["ai_chat"]})
    if result["status"] == "rate_limited":
        retry = result["retry_after_s"]
        raise RateLimited(f"At most the session's signals per minute are accepted; retry in {retry} s. "
                          "Nothing of this batch was stored.", headers={"Retry-After": str(retry)})
    return result


async def report_chat(env: Any, session: Session, profile: dict, conversation_id: str, signals: list[dict]) -> dict | None:
    """THE integration point of the AI Guide (issue 12): after a learner's message is
    stored, what chat/signals.py found in it goes to the session's detector with the
    conversation as evidence. Returns the detector's decision, or None when there is
    none to make (no learning session, analytics consent off, detector or D1 down):
    the chat never fails because of detection."""
    if not session.learning_session_id:
        return None
    consent = privacy.consent(profile.get("privacy_settings"))
    if not consent["analytics"]:
        return None  # behaviour (and what is said to the Guide is behaviour) is not collected
    try:
        return await _call(env, session, profile, "record_chat_signal",
                           {"conversation_id": conversation_id, "signals": signals},
                           {"analytics": True, "visible": consent["instructor_visibility"]})
    except StruggleError as exc:
        log.warning(json.dumps({"event": "struggle_chat_not_assessed", "why": exc.kind}))
        return None


def answer_from_result(result: dict, *, credit: float, response_time_s: float, hints_used: int,
                       misconception: str | None = None) -> dict:
    """The `answer` report_answer takes, from what learner.service.record_answer returned
    for a recorded answer (the same for POST /api/responses and practice answers)."""
    mastery = result.get("mastery") or {}
    return {"concept_id": result["concept_id"], "credit": credit, "response_time_s": response_time_s,
            "typical_time_s": result.get("typical_time_s"), "hints_used": hints_used,
            "item_id": str(result.get("question_id") or "")[:100] or None,
            "misconception": misconception[:100] if misconception else None,
            "rapid_guess": result.get("rapid_guess"), "mastery": mastery.get("mastery"),
            "recall": mastery.get("recall_probability") if mastery.get("attempts") else None,
            "prerequisites": list(result.get("prerequisites") or [])[:50]}


async def report_answer(env: Any, session: Session, answer: dict, *, profile: dict | None = None,
                        guide: bool = True) -> dict | None:
    """THE integration point of the responses route (issue 9): call it server-side after
    an answer is recorded, with what was recorded:

        await struggle.service.report_answer(env, session, {
            "concept_id": ..., "credit": 0..1, "response_time_s": ..., "typical_time_s": ... | None,
            "hints_used": n, "item_id": ..., "misconception": ... | None, "rapid_guess": bool | None,
            "mastery": 0..1 | None, "recall": 0..1 | None,
            "prerequisites": [{"concept_id": ..., "mastery": 0..1 | None, "recall": 0..1 | None}, ...]},
            profile=the caller's learner_profiles row if at hand)

    Returns {"assessment": ..., "intervention": ... | None} for the route's answer, or
    None when the session has no detector (a token without a learning session, or the
    detector or D1 unavailable): detection never makes recording an answer fail. A
    malformed `answer` is a programming error and raises pydantic's ValidationError."""
    report = AnswerReport.model_validate(answer).model_dump()
    if not session.learning_session_id:
        return None
    try:
        if profile is None:
            profile = await _profile(env, session)
        consent = privacy.consent(profile.get("privacy_settings"))
        result = await _call(env, session, profile, "record_answer", report,
                             {"analytics": consent["analytics"], "visible": consent["instructor_visibility"],
                              "guide": guide and consent["ai_chat"]})
    except StruggleError as exc:
        log.warning(json.dumps({"event": "struggle_answer_not_assessed", "why": exc.kind}))
        return None
    return {"assessment": result["assessment"], "intervention": result["intervention"]}


async def react(env: Any, session: Session, intervention_id: str, outcome: str) -> dict:
    _require_learning_session(session)
    profile = await _profile(env, session)
    result = await _call(env, session, profile, "react", intervention_id, outcome)
    if result["status"] == "not_found":
        raise SessionNotFound("No such offer in your learning session.")
    if result["status"] == "conflict":
        raise ReactionConflict(f"This offer was already {result['outcome']}.",
                               extra={"outcome": result["outcome"], "responded_at": result["responded_at"]})
    return {"id": result["id"], "kind": result["kind"], "outcome": result["outcome"],
            "responded_at": result["responded_at"]}


# -- erasure ----------------------------------------------------------------------------------

async def recent_session_ids(db: Database, scope, learner_id: str, now_ms: int) -> list[str]:
    rows = await db.all(scope.select("learning_sessions", {"learner_id": learner_id,
                                                           "session_start__ge": iso(now_ms - ERASE_LOOKBACK_MS)},
                                     columns=["id"], name="struggle.recent_sessions"))
    return [r["id"] for r in rows]


async def forget_sessions(env: Any, tenant_id: str, session_ids: list[str]) -> int:
    """Erases the detectors of these sessions (data-subject erasure). Best-effort per
    object: an object that cannot be reached erases itself a day after its session."""
    namespace = getattr(env, BINDING, None)
    erased = 0
    for sid in session_ids:
        try:
            await namespace.getByName(object_name(tenant_id, sid)).erase()
            erased += 1
        except Exception as exc:
            log.warning(json.dumps({"event": "struggle_erase_failed", "error": str(exc)[:200]}))
    return erased


# -- the instructor's view ---------------------------------------------------------------------

async def course_overview(db: Database, scope, context_id: str, now_ms: int, days: int) -> dict:
    """Who struggled in the course in the last `days` and why, the concepts most struggled
    with, and the help offered and taken per kind, over the learners who let instructors
    see them (the others are only counted)."""
    visible, hidden = await profiles.course_learners(db, scope, context_id)
    learners = {p["id"]: p["lti_user_id"] for p in visible}
    since_ms = now_ms - days * DAY_MS
    sessions = await db.all(scope.select("learning_sessions", {
        "course_context": context_id, "session_start__ge": iso(since_ms - DAY_MS)},
        columns=["id"], name="struggle.course_sessions"))
    in_course = {r["id"] for r in sessions}
    events, interventions = [], []
    ids = sorted(learners)
    for i in range(0, len(ids), MAX_IN_LIST):
        chunk = ids[i:i + MAX_IN_LIST]
        for row in await db.all(scope.select("struggle_events", {"learner_id__in": chunk,
                                                                 "detected_at__ge": iso(since_ms)},
                                             columns=["learner_id", "session_id", "concept_id", "event_type",
                                                      "severity", "signals", "detected_at"],
                                             limit=OVERVIEW_ROWS, name="struggle.course_events")):
            if row["session_id"] in in_course:
                signals = json.loads(row["signals"] or "{}")
                events.append({"learner_id": row["learner_id"], "concept": row["concept_id"] or signals.get("concept"),
                               "reason": row["event_type"], "score": row["severity"], "at": row["detected_at"]})
        for row in await db.all(scope.select("intervention_logs", {"learner_id__in": chunk,
                                                                   "delivered_at__ge": iso(since_ms)},
                                             columns=["learner_id", "session_id", "intervention_type", "outcome"],
                                             limit=OVERVIEW_ROWS, name="struggle.course_interventions")):
            if row["session_id"] in in_course:
                interventions.append({"learner_id": row["learner_id"], "kind": row["intervention_type"],
                                      "outcome": row["outcome"]})
    out = summarise_course(events, interventions, learners, {})
    await _name_concepts(db, scope, out)
    return {"course_context": context_id, "since": iso(since_ms), "days": days, "hidden_by_consent": hidden, **out}


async def _name_concepts(db: Database, scope, out: dict) -> None:
    """Fills in the knowledge graph's names of the concepts the overview shows."""
    shown = [c for c in out["concepts"]] + [c for row in out["learners"] for c in row["concepts"]]
    ids = sorted({c["concept_id"] for c in shown})
    names: dict[str, str] = {}
    for i in range(0, len(ids), MAX_IN_LIST):
        for row in await db.all(scope.select("knowledge_graph", {"concept_id__in": ids[i:i + MAX_IN_LIST]},
                                             columns=["concept_id", "concept_name"], name="struggle.concept_names")):
            names[row["concept_id"]] = row["concept_name"]
    for c in shown:
        c["concept_name"] = names.get(c["concept_id"])
