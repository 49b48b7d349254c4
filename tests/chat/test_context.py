"""The learner-context adapter reads what the learner model holds today (mastery,
prerequisites from the knowledge graph, the question bank, struggle, the last wrong
answer), and the Guide's reply uses it."""

import json
import time

from chat.context import learner_context
from db.database import Database
from db.profiles import new_id
from db.system import system_scope
from tests.chat.helpers import say, seed_learner, start
from tests.conftest import TENANT_A, TENANT_B


def _iso(seconds_ago: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(time.time() - seconds_ago, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def _seed_model(host, tenant=TENANT_A, user="learner-1") -> dict:
    """What the learner model (issue 9) writes: a graph keyed by concept id, knowledge
    state per concept id (BKT P(known), attempts, FSRS memory), a question bank whose
    items name the concept id, a wrong answer, a struggle event."""
    learner = await seed_learner(host, tenant, user)
    scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test-seed")
    db = Database(host.env)
    graph = (("c-fact", "Factoring", []), ("c-exp", "Exponents", []), ("c-frac", "Fractions", []),
             ("c-quad", "Quadratics", ["c-fact", "c-exp"]))
    for cid, name, deps in graph:
        await db.run(scope.insert("knowledge_graph", {"concept_id": cid, "concept_name": name,
                                                      "dependencies": json.dumps(deps)}))
    day = 86_400
    # (concept, P(known), attempts, FSRS stability in days, last review seconds ago)
    for cid, known, attempts, stability, ago in (("c-fact", 0.2, 6, 1.0, day), ("c-exp", 0.97, 8, 40.0, day),
                                                 ("c-frac", 0.98, 9, 1.0, 90 * day), ("c-quad", 0.4, 3, 2.0, day)):
        await db.run(scope.insert("knowledge_state", {
            "id": new_id(), "learner_id": learner["id"], "subject": "math", "topic": "algebra", "concept": cid,
            "mastery_level": known, "p_learned": known, "review_count": attempts, "correct_count": attempts // 2,
            "memory_stability": stability, "memory_difficulty": 5.0, "memory_state": 2, "last_reviewed": _iso(ago),
            "next_review_date": _iso(ago - stability * day)}))
    question = new_id()
    await db.run(scope.insert("questions", {
        "id": question, "question_text": "Factor x^2 - 5x + 6.", "question_type": "clarifying", "subject": "math",
        "topic": "algebra", "concept": "c-quad", "difficulty_level": 3,
        "expected_concepts": json.dumps(["roots"]), "hints": json.dumps(["Look for two numbers."])}))
    session = (await db.first(scope.select("learning_sessions", {"learner_id": learner["id"]})))["id"]
    await db.run(scope.insert("question_responses", {
        "id": new_id(), "learner_id": learner["id"], "session_id": session, "question_id": question,
        "response_text": "(x+2)(x+3)", "response_time_seconds": 40, "is_correct": 0,
        "misconceptions_detected": json.dumps(["sign error"])}))
    await db.run(scope.insert("struggle_events", {"id": new_id(), "learner_id": learner["id"],
                                                  "event_type": "repeated_error", "severity": 0.7}))
    return learner


async def test_the_adapter_reads_mastery_recall_prerequisites_bank_struggle_and_the_last_error(host):
    learner = await _seed_model(host)
    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    for ref in ("Quadratics", "c-quad"):  # a page may name the concept or give its graph id
        ctx = await learner_context(Database(host.env), scope, learner["id"], ref, [ref], int(time.time() * 1000))
        assert ctx["concept"] == "Quadratics" and ctx["concept_mastery"] == 0.4
        assert ctx["prerequisites"] == [{"name": "Factoring", "mastery": 0.2}, {"name": "Exponents", "mastery": 0.97}]
        assert ctx["mastered"] == ["Exponents", "Fractions"] and ctx["fading"] == ["Fractions"]
        assert ctx["struggles"] == ["repeated error"]
        assert ctx["last_error"] == {"question": "Factor x^2 - 5x + 6.", "answer": "(x+2)(x+3)",
                                     "misconceptions": ["sign error"]}
        assert [q["concept"] for q in ctx["questions"]] == ["Quadratics"]
        assert ctx["questions"][0]["expected_concepts"] == ["roots"]
        assert ctx["questions"][0]["hints"] == ["Look for two numbers."]
    empty = await learner_context(Database(host.env), scope, learner["id"], None)
    assert empty["prerequisites"] == [] and empty["questions"] == [] and empty["concept_mastery"] is None
    unknown = await learner_context(Database(host.env), scope, learner["id"], "Topology")
    assert unknown["concept"] == "Topology" and unknown["prerequisites"] == []


async def test_another_tenants_learner_model_is_never_read(host):
    await _seed_model(host, TENANT_A)
    other = await seed_learner(host, TENANT_B, "learner-1")
    scope = system_scope({"id": TENANT_B, "d1_binding": "D1_PRIMARY"}, "test")
    ctx = await learner_context(Database(host.env), scope, other["id"], "c-quad", ["Quadratics"])
    assert ctx["prerequisites"] == [] and ctx["questions"] == [] and ctx["last_error"] is None
    assert ctx["mastered"] == [] and ctx["struggles"] == []


async def test_the_guide_asks_about_the_weakest_prerequisite(host, client):
    await _seed_model(host)
    conversation = await start(client, host, concept="Quadratics")
    reply = (await say(client, host, conversation["id"], "I'm lost with quadratics")).json()["reply"]["content"]
    assert "Quadratics builds on Factoring, which you have at 20% so far." in reply
    assert "How does Factoring work, in your own words" in reply and "Exponents" not in reply
