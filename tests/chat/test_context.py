"""The learner-context adapter reads what the learner model holds today (mastery,
prerequisites from the knowledge graph, the question bank, struggle, the last wrong
answer), and the Guide's reply uses it."""

import json

from chat.context import learner_context
from db.database import Database
from db.profiles import new_id
from db.system import system_scope
from tests.chat.helpers import say, seed_learner, start
from tests.conftest import TENANT_A, TENANT_B


async def _seed_model(host, tenant=TENANT_A, user="learner-1") -> dict:
    learner = await seed_learner(host, tenant, user)
    scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test-seed")
    db = Database(host.env)
    ids = {name: new_id() for name in ("Factoring", "Exponents", "Quadratics")}
    for name, deps in (("Factoring", []), ("Exponents", []), ("Quadratics", ["Factoring", "Exponents"])):
        await db.run(scope.insert("knowledge_graph", {"concept_id": ids[name], "concept_name": name,
                                                      "dependencies": json.dumps([ids[d] for d in deps])}))
    for name, mastery in (("Factoring", 0.2), ("Exponents", 0.9), ("Quadratics", 0.4)):
        await db.run(scope.insert("knowledge_state", {"id": new_id(), "learner_id": learner["id"], "subject": "math",
                                                      "topic": "algebra", "concept": name, "mastery_level": mastery}))
    question = new_id()
    await db.run(scope.insert("questions", {
        "id": question, "question_text": "Factor x^2 - 5x + 6.", "question_type": "clarifying", "subject": "math",
        "topic": "algebra", "concept": "Quadratics", "difficulty_level": 3,
        "expected_concepts": json.dumps(["roots"]), "hints": json.dumps(["Look for two numbers."])}))
    session = (await db.first(scope.select("learning_sessions", {"learner_id": learner["id"]})))["id"]
    await db.run(scope.insert("question_responses", {
        "id": new_id(), "learner_id": learner["id"], "session_id": session, "question_id": question,
        "response_text": "(x+2)(x+3)", "response_time_seconds": 40,
        "is_correct": 0, "misconceptions_detected": json.dumps(["sign error"])}))
    await db.run(scope.insert("struggle_events", {"id": new_id(), "learner_id": learner["id"],
                                                  "event_type": "repeated_error", "severity": 0.7}))
    return learner


async def test_the_adapter_reads_mastery_prerequisites_bank_struggle_and_the_last_error(host):
    learner = await _seed_model(host)
    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    ctx = await learner_context(Database(host.env), scope, learner["id"], "Quadratics", ["Quadratics"])
    assert ctx["concept_mastery"] == 0.4
    assert ctx["prerequisites"] == [{"name": "Factoring", "mastery": 0.2}, {"name": "Exponents", "mastery": 0.9}]
    assert ctx["mastered"] == ["Exponents"] and ctx["struggles"] == ["repeated error"]
    assert ctx["last_error"] == {"question": "Factor x^2 - 5x + 6.", "answer": "(x+2)(x+3)",
                                 "misconceptions": ["sign error"]}
    assert ctx["questions"][0]["expected_concepts"] == ["roots"] and ctx["questions"][0]["hints"] == ["Look for two numbers."]
    empty = await learner_context(Database(host.env), scope, learner["id"], None)
    assert empty["prerequisites"] == [] and empty["questions"] == [] and empty["concept_mastery"] is None


async def test_another_tenants_learner_model_is_never_read(host):
    await _seed_model(host, TENANT_A)
    other = await seed_learner(host, TENANT_B, "learner-1")
    scope = system_scope({"id": TENANT_B, "d1_binding": "D1_PRIMARY"}, "test")
    ctx = await learner_context(Database(host.env), scope, other["id"], "Quadratics", ["Quadratics"])
    assert ctx["prerequisites"] == [] and ctx["questions"] == [] and ctx["last_error"] is None
    assert ctx["mastered"] == [] and ctx["struggles"] == []


async def test_the_guide_asks_about_the_weakest_prerequisite(host, client):
    await _seed_model(host)
    conversation = await start(client, host, concept="Quadratics")
    reply = (await say(client, host, conversation["id"], "I'm lost with quadratics")).json()["reply"]["content"]
    assert "Quadratics builds on Factoring, which you have at 20% so far." in reply
    assert "How does Factoring work, in your own words" in reply and "Exponents" not in reply
