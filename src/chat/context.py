"""What the Guide knows about the learner for one turn, read from D1 through the tenant's
scope and the learner model's own row reader (learner/service.py): mastery and recall
per concept (knowledge_state, BKT and FSRS), the concept's prerequisites
(knowledge_graph), the question bank's items for the concepts in play (questions),
recent struggle (struggle_events) and the last wrong answer (question_responses).

The single adapter between the chat and the learner model, in two D1 batches. Concept
identity is the knowledge graph's concept id; the chat speaks names, so everything
returned here is by name (a concept the graph does not know keeps the name it was given).
To give the Guide more of the learner model (readiness, predicted success), add it to
`learner_context`; the prompt and the offline Guide read the dict it returns."""

from __future__ import annotations

import json

from db.database import Database
from db.scope import MAX_IN_LIST, TenantScope
from learner import memory as mem
from learner.service import state_from_row

MAX_STATES = 200
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


def _state(row: dict, now_ms: int) -> dict:
    """mastery (BKT's P(known)), mastered (the model's criterion) and recall today."""
    try:
        state, memory = state_from_row(row)
    except (KeyError, TypeError, ValueError):  # a row written before the learner model's columns
        level = float(row.get("mastery_level") or 0)
        return {"mastery": level, "mastered": False, "fading": False}
    recall = mem.recall_probability(memory, mem.from_epoch_ms(now_ms))
    return {"mastery": state.p_known, "mastered": state.mastered,
            "fading": mem.status(state.mastered, state.attempts, recall) == "fading"}


async def learner_context(db: Database, scope: TenantScope, learner_id: str, concept: str | None,
                          concepts: list[str] | None = None, now_ms: int = 0) -> dict:
    """{concept, concept_mastery, prerequisites: [{name, mastery}], mastered: [names],
    fading: [names], struggles: [reason], last_error: {question, answer, misconceptions}
    | None, questions: [bank rows for the concepts in play, JSON decoded, `concept` as a
    name]}. `concept` and `concepts` may be graph ids or names."""
    refs = [c for c in dict.fromkeys([concept, *(concepts or [])]) if c][:MAX_IN_LIST]
    first = [
        scope.select("knowledge_state", {"learner_id": learner_id}, limit=MAX_STATES, name="chat.ctx.states"),
        scope.select("struggle_events", {"learner_id": learner_id}, columns=["event_type", "concept_id", "severity"],
                     order_by="detected_at DESC", limit=5, name="chat.ctx.struggles"),
        scope.select("question_responses", {"learner_id": learner_id},
                     columns=["question_id", "response_text", "is_correct", "misconceptions_detected"],
                     order_by="responded_at DESC", limit=10, name="chat.ctx.responses"),
    ]
    if refs:
        first += [scope.select("knowledge_graph", {"concept_id__in": refs}, name="chat.ctx.concepts_by_id"),
                  scope.select("knowledge_graph", {"concept_name__in": refs}, name="chat.ctx.concepts_by_name")]
    results = await db.batch(first, name="chat.context")
    states_rows, struggles, responses = (_rows(r) for r in results[:3])
    graph = {r["concept_id"]: r for r in (_rows(results[3]) + _rows(results[4]) if refs else [])}
    by_ref = {**{r["concept_name"]: r for r in graph.values()}, **graph}

    states = {r["concept"]: _state(r, now_ms) for r in states_rows}
    focus = by_ref.get(concept) if concept else None
    prereq_ids = [d for d in _json_list(focus["dependencies"]) if isinstance(d, str)] if focus else []
    wrong = next((r for r in responses if r.get("is_correct") == 0), None)
    known_ids = {*prereq_ids, *(c for c, s in states.items() if s["mastered"] or s["fading"])} - set(graph)
    in_play = [*{r["concept_id"] for r in graph.values()}, *refs]
    second = []
    if known_ids:
        second.append(scope.select("knowledge_graph", {"concept_id__in": sorted(known_ids)[:MAX_IN_LIST]},
                                   columns=["concept_id", "concept_name"], name="chat.ctx.names"))
    if in_play:
        second.append(scope.select(
            "questions", {"concept__in": list(dict.fromkeys(in_play))[:MAX_IN_LIST], "is_active": 1},
            columns=["id", "question_text", "question_type", "concept", "expected_concepts", "expected_reasoning_path",
                     "common_misconceptions", "hints"], limit=MAX_QUESTIONS, name="chat.ctx.questions"))
    if wrong is not None:
        second.append(scope.select("questions", {"id": wrong["question_id"]}, columns=["question_text"],
                                   name="chat.ctx.error_question"))
    later = await db.batch(second, name="chat.context.more") if second else []
    names = {cid: r["concept_name"] for cid, r in graph.items()}
    if known_ids:
        names.update({r["concept_id"]: r["concept_name"] for r in _rows(later[0])})
    questions = _rows(later[1 if known_ids else 0]) if in_play else []
    asked = _rows(later[-1]) if wrong is not None else []

    def name_of(ref: str) -> str:
        return names.get(ref) or ref

    decoded = [{**q, "concept": name_of(q["concept"]),
                **{k: _json_list(q.get(k)) for k in ("expected_concepts", "expected_reasoning_path",
                                                      "common_misconceptions", "hints")}} for q in questions]
    focus_id = focus["concept_id"] if focus else concept
    last_error = None
    if wrong is not None:
        last_error = {"question": asked[0]["question_text"] if asked else "",
                      "answer": wrong.get("response_text") or "",
                      "misconceptions": [str(m) for m in _json_list(wrong.get("misconceptions_detected"))][:3]}
    return {
        "concept": name_of(focus_id) if focus_id else None,
        "concept_mastery": states[focus_id]["mastery"] if focus_id in states else None,
        "prerequisites": [{"name": name_of(d), "mastery": states.get(d, {}).get("mastery", 0.0)} for d in prereq_ids],
        "mastered": sorted(name_of(c) for c, s in states.items() if s["mastered"])[:20],
        "fading": sorted(name_of(c) for c, s in states.items() if s["fading"])[:10],
        "struggles": [s["event_type"].replace("_", " ") for s in struggles],
        "last_error": last_error,
        "questions": decoded,
    }
