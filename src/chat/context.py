"""What the Guide knows about the learner for one turn, read from D1 through the tenant's
scope: mastery per concept (knowledge_state), the concept's prerequisites
(knowledge_graph), the question bank's items for the concepts in play (questions),
recent struggle (struggle_events) and the last wrong answer (question_responses).

The single adapter between the chat and the learner model: it reads only what exists in
the schema today, in one D1 batch plus one lookup of prerequisite names. When the learner
model grows (recall probability, readiness), add it to `learner_context` here; the prompt
and the offline Guide read the dict it returns (keys documented below)."""

from __future__ import annotations

import json

from db.database import Database
from db.scope import TenantScope
from db.scope import MAX_IN_LIST

MASTERED = 0.8  # mastery_level at or above which a concept is listed as mastered
MAX_STATES = 100
MAX_QUESTIONS = 20


def _json_list(value: object) -> list:
    if isinstance(value, list):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else []
    except json.JSONDecodeError:
        return []
    return parsed if isinstance(parsed, list) else []


def _rows(result: dict) -> list[dict]:
    return result.get("results") or []


async def learner_context(db: Database, scope: TenantScope, learner_id: str, concept: str | None,
                          concepts: list[str] | None = None) -> dict:
    """{concept, concept_mastery, prerequisites: [{name, mastery}], mastered: [names],
    struggles: [reason], last_error: {question, answer, misconceptions} | None,
    questions: [question bank rows for the concepts in play, JSON decoded]}"""
    in_play = [c for c in dict.fromkeys([concept, *(concepts or [])]) if c][:MAX_IN_LIST]
    statements = [
        scope.select("knowledge_state", {"learner_id": learner_id},
                     columns=["concept", "mastery_level", "updated_at"], limit=MAX_STATES, name="chat.ctx.mastery"),
        scope.select("struggle_events", {"learner_id": learner_id}, columns=["event_type", "concept_id", "severity"],
                     order_by="detected_at DESC", limit=5, name="chat.ctx.struggles"),
        scope.select("question_responses", {"learner_id": learner_id},
                     columns=["question_id", "response_text", "is_correct", "misconceptions_detected"],
                     order_by="responded_at DESC", limit=10, name="chat.ctx.responses"),
    ]
    if concept:
        statements.append(scope.select("knowledge_graph", {"concept_name": concept},
                                       columns=["concept_id", "dependencies"], limit=1, name="chat.ctx.concept"))
    if in_play:
        statements.append(scope.select(
            "questions", {"concept__in": in_play, "is_active": 1},
            columns=["id", "question_text", "question_type", "concept", "expected_concepts", "expected_reasoning_path",
                     "common_misconceptions", "hints"], limit=MAX_QUESTIONS, name="chat.ctx.questions"))
    results = await db.batch(statements, name="chat.context")
    states, struggles, responses = (_rows(r) for r in results[:3])
    graph = _rows(results[3]) if concept else []
    questions = _rows(results[-1]) if in_play else []

    mastery = {r["concept"]: float(r["mastery_level"] or 0) for r in states}
    prerequisites: list[dict] = []
    deps = [d for d in _json_list(graph[0]["dependencies"]) if isinstance(d, str)][:MAX_IN_LIST] if graph else []
    if deps:
        rows = await db.all(scope.select("knowledge_graph", {"concept_id__in": deps},
                                         columns=["concept_id", "concept_name"], name="chat.ctx.prerequisites"))
        names = {r["concept_id"]: r["concept_name"] for r in rows}
        prerequisites = [{"name": names[d], "mastery": mastery.get(names[d], 0.0)} for d in deps if d in names]

    decoded = [{**q, **{k: _json_list(q.get(k)) for k in ("expected_concepts", "expected_reasoning_path",
                                                           "common_misconceptions", "hints")}} for q in questions]
    last_error = None
    wrong = next((r for r in responses if r.get("is_correct") == 0), None)
    if wrong is not None:
        asked = next((q for q in decoded if q["id"] == wrong["question_id"]), None)
        if asked is None:
            row = await db.first(scope.select("questions", {"id": wrong["question_id"]}, columns=["question_text"],
                                              name="chat.ctx.error_question"))
            asked = row or {}
        last_error = {"question": asked.get("question_text", ""), "answer": wrong.get("response_text") or "",
                      "misconceptions": [str(m) for m in _json_list(wrong.get("misconceptions_detected"))][:3]}
    return {
        "concept": concept,
        "concept_mastery": mastery.get(concept) if concept else None,
        "prerequisites": prerequisites,
        "mastered": sorted(c for c, m in mastery.items() if m >= MASTERED)[:20],
        "struggles": [s["event_type"].replace("_", " ") for s in struggles],
        "last_error": last_error,
        "questions": decoded,
    }
