"""Struggle flags and the help offered, read from `struggle_events` and `intervention_logs`
as struggle detection writes them (one module, so the reading follows that feature).

What is assumed of the rows: `struggle_events.event_type` is the rule that fired (the
codes below; unknown codes are shown as they are), `severity` its score in [0, 1],
`signals` JSON whose `reasons` list holds `{code, evidence}` per rule (the evidence of the
fired rule is shown; rows without it show their `signals` object), `session_id` names the
learning session and so the course. `intervention_logs.intervention_type` is the kind of
help, `outcome` accepted / dismissed / ignored (NULL: not answered yet)."""

from __future__ import annotations

import json

from db.database import Database
from db.scope import MAX_IN_LIST, TenantScope

# The rule behind each flag, as the page explains it.
REASONS = {
    "wheel_spinning": ("Wheel-spinning", "10 attempts at a concept without 3 right in a row (Beck & Gong)"),
    "rapid_guessing": ("Rapid guessing", "answers faster than 10% of the item's typical time, at most 10 s (NT10)"),
    "misconception": ("Repeated misconception", "the same wrong answer pattern twice on a concept"),
    "repeated_error": ("Repeated errors", "several wrong answers in a row on one concept"),
    "help_abuse": ("Help abuse", "hints requested faster than they can be read"),
    "help_avoidance": ("Help avoidance", "many errors and no help asked"),
    "long_dwell": ("Long dwell", "a long time on one element without progress"),
    "idle": ("Long idle", "no activity for a long time while studying"),
    "rapid_scrolling": ("Rapid scrolling", "scrolling past content faster than it can be read"),
    "revisiting": ("Revisiting", "returning to the same item again and again"),
    "rapid_reread": ("Rapid rereading", "rereading the same passage quickly"),
    "hover_confusion": ("Hover confusion", "hovering back and forth over the same element"),
    "help_request": ("Help requested", "the learner asked the Guide about one concept again and again"),
    "low_confidence": ("Low confidence", "the learner told the Guide they were confused or lost"),
}
HELP_KINDS = {
    "hint": "Hint", "explanation": "Concept summary", "example": "Worked example", "break_suggestion": "Break",
    "chat_prompt": "Guide chat", "review_prompt": "Prerequisite review", "instructor_note": "Note to instructor",
}
EVENT_COLUMNS = ["learner_id", "session_id", "concept_id", "event_type", "severity", "signals", "detected_at"]
HELP_COLUMNS = ["learner_id", "session_id", "intervention_type", "outcome", "delivered_at", "responded_at", "content"]
ROWS_PER_QUERY = 2000


def reason_label(code: str) -> str:
    return REASONS.get(code, (code.replace("_", " ").capitalize(), ""))[0]


def reason_rule(code: str) -> str:
    return REASONS.get(code, ("", "a rule of struggle detection"))[1]


def help_label(kind: str) -> str:
    return HELP_KINDS.get(kind, kind.replace("_", " ").capitalize())


def _evidence(event_type: str, signals: str | dict | None) -> dict:
    try:
        data = json.loads(signals) if isinstance(signals, str) else (signals or {})
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    for r in data.get("reasons") or []:
        if isinstance(r, dict) and r.get("code") == event_type and isinstance(r.get("evidence"), dict):
            return r["evidence"]
    return {k: v for k, v in data.items() if k != "reasons" and isinstance(v, (int, float, str, bool))}


def event(row: dict) -> dict:
    """A struggle_events row as the insight pages use it."""
    signals = row.get("signals")
    concept = row.get("concept_id")
    if not concept and isinstance(signals, str) and '"concept"' in signals:
        try:
            concept = json.loads(signals).get("concept")
        except ValueError:
            concept = None
    return {"learner_id": row["learner_id"], "session_id": row.get("session_id"), "concept": concept,
            "reason": row["event_type"], "score": round(float(row["severity"]), 4), "at": row["detected_at"],
            "evidence": _evidence(row["event_type"], signals)}


def intervention(row: dict) -> dict:
    return {"learner_id": row["learner_id"], "session_id": row.get("session_id"), "kind": row["intervention_type"],
            "outcome": row.get("outcome"), "at": row["delivered_at"], "responded_at": row.get("responded_at")}


async def course_history(db: Database, scope: TenantScope, learner_ids: list[str], course_sessions: set[str],
                         since_iso: str) -> tuple[list[dict], list[dict]]:
    """(events, interventions) of these learners since `since_iso`, in the course's
    sessions only (a learner's struggle in another course is not this course's)."""
    events, helps = [], []
    for i in range(0, len(learner_ids), MAX_IN_LIST):
        chunk = learner_ids[i:i + MAX_IN_LIST]
        for row in await db.all(scope.select("struggle_events", {"learner_id__in": chunk, "detected_at__ge": since_iso},
                                             columns=EVENT_COLUMNS, name="insights.course_events")):
            if row["session_id"] in course_sessions:
                events.append(event(row))
        for row in await db.all(scope.select("intervention_logs", {"learner_id__in": chunk,
                                                                   "delivered_at__ge": since_iso},
                                             columns=HELP_COLUMNS, name="insights.course_help")):
            if row["session_id"] in course_sessions:
                helps.append(intervention(row))
    return events, helps


async def since_snapshot(db: Database, scope: TenantScope, context_id: str, since_iso: str,
                         limit: int = MAX_IN_LIST) -> dict:
    """The same-day delta: the newest flags and offers of help in the whole institution
    since the snapshot (by time, indexed), kept when their session is in this course.
    `complete` is False when more rows exist than were read (the page says so)."""
    events = await db.all(scope.select("struggle_events", {"detected_at__gt": since_iso}, columns=EVENT_COLUMNS,
                                       order_by="detected_at DESC", limit=limit + 1, name="insights.delta_events"))
    helps = await db.all(scope.select("intervention_logs", {"delivered_at__gt": since_iso}, columns=HELP_COLUMNS,
                                      order_by="delivered_at DESC", limit=limit + 1, name="insights.delta_help"))
    complete = len(events) <= limit and len(helps) <= limit
    events, helps = events[:limit], helps[:limit]
    sessions = sorted({r["session_id"] for r in events + helps if r.get("session_id")})
    in_course: set[str] = set()
    for i in range(0, len(sessions), MAX_IN_LIST):
        rows = await db.all(scope.select("learning_sessions", {"id__in": sessions[i:i + MAX_IN_LIST],
                                                               "course_context": context_id},
                                         columns=["id"], name="insights.delta_sessions"))
        in_course |= {r["id"] for r in rows}
    return {"events": [event(r) for r in events if r.get("session_id") in in_course],
            "interventions": [intervention(r) for r in helps if r.get("session_id") in in_course],
            "complete": complete}


async def learner_history(db: Database, scope: TenantScope, learner_id: str, since_iso: str,
                          limit: int = ROWS_PER_QUERY) -> tuple[list[dict], list[dict]]:
    """One learner's flags and the help offered to them since `since_iso`, newest first."""
    events = await db.all(scope.select("struggle_events", {"learner_id": learner_id, "detected_at__ge": since_iso},
                                       columns=EVENT_COLUMNS, order_by="detected_at DESC", limit=limit,
                                       name="insights.learner_events"))
    helps = await db.all(scope.select("intervention_logs", {"learner_id": learner_id, "delivered_at__ge": since_iso},
                                      columns=HELP_COLUMNS, order_by="delivered_at DESC", limit=limit,
                                      name="insights.learner_help"))
    return [event(r) for r in events], [intervention(r) for r in helps]
