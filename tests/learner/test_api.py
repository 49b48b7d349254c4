"""The learner-model API: knowledge graph import and readiness, answers with idempotency
and concurrency, my mastery and reviews, the instructor's view."""

import asyncio

from tests.api.helpers import fingerprint, seed_learner
from tests.conftest import DEV_VARS, TENANT_A, TENANT_B, auth
from tests.learner.helpers import add_question, answer, chain_graph, import_graph, rows, teacher, use_clock

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}


# -- knowledge graph ---------------------------------------------------------------------------

async def test_instructor_imports_a_graph_and_everyone_in_the_course_reads_it(host, client):
    r = await import_graph(client, host, chain_graph())
    assert r.status_code == 201, r.text
    assert r.json()["created"] == ["addition", "counting", "multiplication"]
    graph = (await client.get("/api/knowledge-graph", headers=auth(host))).json()
    assert {c["id"]: c["prerequisites"] for c in graph["concepts"]} == {
        "counting": [], "addition": ["counting"], "multiplication": ["addition"]}
    assert all(c["course_contexts"] == ["course-1"] for c in graph["concepts"])
    # Another course sees none of them.
    other = (await client.get("/api/knowledge-graph", headers=auth(host, context="course-2"))).json()
    assert other["concepts"] == []


async def test_reimport_updates_a_concept_and_keeps_its_other_courses(host, client):
    await import_graph(client, host, [{"id": "counting", "name": "Counting"}], context="course-2")
    r = await import_graph(client, host, [{"id": "counting", "name": "Counting to ten"}])
    assert r.status_code == 201 and r.json()["updated"] == ["counting"]
    concept = (await client.get("/api/knowledge-graph", headers=auth(host))).json()["concepts"][0]
    assert concept["name"] == "Counting to ten" and concept["course_contexts"] == ["course-1", "course-2"]


async def test_a_malformed_graph_is_refused_naming_the_ids_and_nothing_is_stored(host, client):
    await import_graph(client, host, [{"id": "counting", "name": "Counting"}])
    before = fingerprint(host)
    bad = [{"id": "a", "name": "A", "prerequisites": ["c"]}, {"id": "b", "name": "B", "prerequisites": ["a"]},
           {"id": "c", "name": "C", "prerequisites": ["b"]}, {"id": "d", "name": "D", "prerequisites": ["ghost"]}]
    r = await import_graph(client, host, bad)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["ids"] == ["a", "b", "c", "ghost"]
    assert {p["kind"]: p["ids"] for p in body["problems"]} == {"cycle": ["a", "b", "c"],
                                                              "unknown_prerequisite": ["ghost"]}
    assert fingerprint(host) == before


async def test_a_concept_id_owned_by_another_tenant_is_refused(host, client):
    await import_graph(client, host, [{"id": "shared-id", "name": "Theirs"}], tenant=TENANT_B)
    before = fingerprint(host)
    r = await import_graph(client, host, [{"id": "shared-id", "name": "Ours"}, {"id": "fine", "name": "Fine"}])
    assert r.status_code == 422
    assert r.json()["problems"] == [{"kind": "foreign_concept", "ids": ["shared-id"],
                                     "detail": "concept ids already used outside this institution"}]
    assert fingerprint(host) == before


async def test_import_needs_an_instructor_of_the_course_named(host, client):
    r = await client.post("/api/knowledge-graph", json={"concepts": chain_graph()}, headers=auth(host))
    assert r.status_code == 403
    r = await import_graph(client, host, [{"id": "x", "name": "X", "course_contexts": ["course-9"]}])
    assert r.status_code == 422 and r.json()["course_contexts"] == ["course-9"]
    for body in ({"concepts": []}, {"concepts": [{"id": "bad id!", "name": "X"}]}, {"concepts": [{"id": "x"}]}):
        r = await client.post("/api/knowledge-graph", json=body, headers=teacher(host))
        assert r.status_code == 422, body


async def test_admin_imports_and_reads_a_tenants_graph(host, client):
    body = {"concepts": [{"id": "t-a", "name": "A", "course_contexts": ["c1", "c2"]},
                         {"id": "t-b", "name": "B", "prerequisites": ["t-a"], "subject": "math", "topic": "sets"}]}
    assert (await client.post(f"/admin/tenants/{TENANT_A}/knowledge-graph", json=body)).status_code == 401
    r = await client.post(f"/admin/tenants/{TENANT_A}/knowledge-graph", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    read = (await client.get(f"/admin/tenants/{TENANT_A}/knowledge-graph", headers=ADMIN)).json()
    assert [(c["id"], c["course_contexts"], c["topic"]) for c in read["concepts"]] == [
        ("t-a", ["c1", "c2"], "general"), ("t-b", [], "sets")]
    cyclic = {"concepts": [{"id": "t-a", "name": "A", "prerequisites": ["t-b"]}]}
    r = await client.post(f"/admin/tenants/{TENANT_A}/knowledge-graph", json=cyclic, headers=ADMIN)
    assert r.status_code == 422 and r.json()["ids"] == ["t-a", "t-b"]
    r = await client.get("/admin/tenants/00000000-0000-4000-8000-000000000000/knowledge-graph", headers=ADMIN)
    assert r.status_code == 404


# -- answers -----------------------------------------------------------------------------------

async def _course(host, client, tenant=TENANT_A):
    await seed_learner(host, tenant, "learner-1")
    await import_graph(client, host, chain_graph(), tenant=tenant)
    return {c: await add_question(host, tenant, c) for c in ("counting", "addition", "multiplication")}


async def test_an_answer_updates_mastery_and_schedules_a_review(host, client):
    use_clock(host)
    q = await _course(host, client)
    r = await answer(client, host, q["counting"], correct=1)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["concept_id"] == "counting" and body["counted_as_evidence"] is True
    assert body["mastery"]["mastery"] > 0.3 and body["mastery"]["attempts"] == 1
    assert body["next_review"] == "2026-01-03T00:00:00.000Z"
    assert body["mastery"]["recall_probability"] == 1.0 and body["mastery"]["half_life_days"] > 1
    assert 0 < body["prediction_before"]["p_correct"] < 1
    (row,) = rows(host, "SELECT subject, topic, concept, review_count, correct_count, version, memory_state, "
                        "repetition_interval_days FROM knowledge_state")
    assert row == ("general", "general", "counting", 1, 1, 1, 2, 2)
    (resp,) = rows(host, "SELECT question_id, is_correct, response_time_seconds, rapid_guess, concept "
                         "FROM question_responses")
    assert resp == (q["counting"], 1, 20.0, 0, "counting")


async def test_mastering_a_prerequisite_reports_the_readiness_change(host, client):
    q = await _course(host, client)
    ready = (await client.get("/api/readiness", headers=auth(host))).json()["concepts"]
    assert {c["concept_id"]: c["ready"] for c in ready} == {"counting": True, "addition": False,
                                                            "multiplication": False}
    changes = []
    for _ in range(6):
        changes += (await answer(client, host, q["counting"], correct=1)).json()["readiness_changes"]
    assert changes == [{"concept_id": "addition", "ready": True, "missing": []}]
    ready = (await client.get("/api/readiness", headers=auth(host))).json()["concepts"]
    assert {c["concept_id"]: c["missing_prerequisites"] for c in ready}["multiplication"] == ["addition"]


async def test_a_replayed_idempotency_key_returns_the_original_answer_and_counts_once(host, client):
    q = await _course(host, client)
    first = await answer(client, host, q["counting"], correct=1, key="attempt-42")
    again = await answer(client, host, q["counting"], correct=1, key="attempt-42")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert rows(host, "SELECT count(*) FROM question_responses") == [(1,)]
    assert rows(host, "SELECT review_count, version FROM knowledge_state") == [(1, 1)]
    assert rows(host, "SELECT times_asked FROM questions WHERE concept = 'counting'") == [(1,)]
    different = await answer(client, host, q["counting"], correct=0, key="attempt-42")
    assert different.status_code == 422 and different.json()["type"] == "/problems/idempotency-key-reused"


async def test_bad_answers_get_a_clear_4xx_and_change_nothing(host, client):
    q = await _course(host, client)
    before = fingerprint(host)
    for correct, ms in ((1.5, 1000), (-0.1, 1000), (1, -1), (1, 86_400_001), ("yes", 1000)):
        r = await answer(client, host, q["counting"], correct=correct, response_time_ms=ms)
        assert r.status_code == 422, (correct, ms)
    no_key = await client.post("/api/responses", json={"question_id": q["counting"], "correct": 1,
                                                       "response_time_ms": 10}, headers=auth(host))
    assert no_key.status_code == 400 and no_key.json()["type"] == "/problems/idempotency-key-required"
    assert fingerprint(host) == before


async def test_another_tenants_item_or_a_learner_without_a_session_is_404(host, client):
    q = await _course(host, client)
    theirs = await add_question(host, TENANT_B, "counting")
    before = fingerprint(host)
    r = await answer(client, host, theirs, correct=1)
    assert r.status_code == 404 and r.json()["detail"] == "No such question."
    r = await answer(client, host, "00000000-0000-4000-8000-000000000000", correct=1)
    assert r.status_code == 404 and r.json()["detail"] == "No such question."
    # learner-1 has a session in course-1 only
    r = await answer(client, host, q["counting"], correct=1, context="course-2")
    assert r.status_code == 404 and r.json()["type"] == "/problems/no-session"
    # no profile at all
    r = await answer(client, host, q["counting"], correct=1, user="stranger")
    assert r.status_code == 404
    assert fingerprint(host) == before


async def test_an_item_whose_concept_is_not_in_the_graph_is_422_and_another_tenants_concept_404(host, client):
    await _course(host, client)
    q = await add_question(host, TENANT_A, "unheard-of")
    r = await answer(client, host, q, correct=1)
    assert r.status_code == 422 and r.json()["ids"] == ["unheard-of"]
    await import_graph(client, host, [{"id": "theirs-only", "name": "Theirs"}], tenant=TENANT_B)
    q = await add_question(host, TENANT_A, "theirs-only")
    before = fingerprint(host)
    r = await answer(client, host, q, correct=1)
    assert r.status_code == 404 and r.json()["detail"] == "No such concept."
    assert fingerprint(host) == before


async def test_the_session_token_names_the_learning_session(host, client):
    q = await _course(host, client)
    (sid,) = rows(host, "SELECT id FROM learning_sessions")[0]
    r = await answer(client, host, q["counting"], correct=1, learning_session_id=sid)
    assert r.json()["learning_session_id"] == sid
    assert rows(host, "SELECT questions_answered, questions_correct FROM learning_sessions") == [(1, 1)]


async def test_a_rapid_guess_is_recorded_but_not_counted_as_evidence(host, client):
    await _course(host, client)
    q = await add_question(host, TENANT_A, "counting", estimated_time_seconds=60)
    r = await answer(client, host, q, correct=1, response_time_ms=1500)
    assert r.status_code == 201 and r.json()["rapid_guess"] is True
    assert r.json()["mastery"]["attempts"] == 0 and r.json()["mastery"]["rapid_guesses"] == 1
    assert rows(host, "SELECT rapid_guess FROM question_responses") == [(1,)]
    assert rows(host, "SELECT difficulty_count FROM concept_parameters WHERE concept_id = 'counting'") == [(0,)]


async def test_concurrent_answers_on_one_concept_lose_no_update(host, client):
    q = await _course(host, client)
    results = await asyncio.gather(*[answer(client, host, q["counting"], correct=i % 2) for i in range(8)])
    assert [r.status_code for r in results] == [201] * 8
    assert rows(host, "SELECT review_count, correct_count, incorrect_count, version FROM knowledge_state") == [
        (8, 4, 4, 8)]
    assert rows(host, "SELECT count(*) FROM question_responses") == [(8,)]
    assert rows(host, "SELECT difficulty_count FROM concept_parameters WHERE concept_id = 'counting'") == [(8,)]


async def test_concurrent_answers_on_different_concepts_all_count_towards_ability(host, client):
    q = await _course(host, client)
    await asyncio.gather(*[answer(client, host, q[c], correct=1) for c in ("counting", "addition") * 3])
    mastery = (await client.get("/api/mastery", headers=auth(host))).json()
    assert mastery["ability"]["attempts"] == 6
    assert {c["concept_id"]: c["attempts"] for c in mastery["concepts"]} == {
        "counting": 3, "addition": 3, "multiplication": 0}


# -- my mastery and reviews ------------------------------------------------------------------

async def test_review_queue_and_fading_mastery_follow_the_memory_model(host, client):
    clock = use_clock(host)
    q = await _course(host, client)
    for _ in range(6):
        await answer(client, host, q["counting"], correct=1)
    assert (await client.get("/api/reviews/due", headers=auth(host))).json()["count"] == 0
    clock.advance(days=400)
    due = (await client.get("/api/reviews/due", headers=auth(host))).json()
    assert [d["concept_id"] for d in due["due"]] == ["counting"]
    assert due["due"][0]["status"] == "fading" and due["due"][0]["mastered"] is True
    mine = {c["concept_id"]: c for c in (await client.get("/api/mastery", headers=auth(host))).json()["concepts"]}
    assert mine["counting"]["status"] == "fading" and mine["counting"]["mastery"] >= 0.95
    assert mine["addition"]["ready"] is True and mine["multiplication"]["ready"] is False
    # The review a day later is a retention test in retention_tracking, half-life from FSRS.
    await answer(client, host, q["counting"], correct=1)
    ((days, score, half),) = rows(host, "SELECT days_since_learning, retention_score, half_life_days "
                                        "FROM retention_tracking")
    assert days == 400 and score == 1.0 and half > 0


async def test_mastery_before_any_launch_is_404(host, client):
    assert (await client.get("/api/mastery", headers=auth(host))).status_code == 404
    assert (await client.get("/api/reviews/due", headers=auth(host))).status_code == 404


# -- instructor --------------------------------------------------------------------------------

async def test_instructor_sees_learners_by_concepts_of_the_launch_course_only_with_consent(host, client):
    q = await _course(host, client)
    await seed_learner(host, TENANT_A, "learner-2")
    await seed_learner(host, TENANT_A, "private-3")
    await seed_learner(host, TENANT_A, "elsewhere", course="course-2")
    await answer(client, host, q["counting"], correct=1)
    await answer(client, host, q["addition"], correct=0, user="learner-2")
    h = auth(host, user="private-3")
    etag = (await client.get("/api/profile", headers=h)).headers["etag"]
    await client.patch("/api/profile", json={"privacy_settings": {"consent": {"instructor_visibility": False}}},
                       headers={**h, "If-Match": etag})
    r = await client.get("/api/courses/course-1/mastery", headers=teacher(host))
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(v["lti_user_id"] for v in body["learners"]) == ["learner-1", "learner-2"]
    assert [c["concept_id"] for c in body["concepts"]] == ["addition", "counting", "multiplication"]
    one = next(v for v in body["learners"] if v["lti_user_id"] == "learner-1")
    assert one["concepts"]["counting"]["attempts"] == 1 and one["concepts"]["addition"] is None
    assert body["concepts"][0]["parameters"]["p_init"] == 0.3 and body["concepts"][0]["fitted"] is False
    assert (await client.get("/api/courses/course-2/mastery", headers=teacher(host))).status_code == 404
    assert (await client.get("/api/courses/course-1/mastery", headers=auth(host))).status_code == 403


async def test_instructor_sets_the_threshold_and_concept_columns(host, client):
    r = await client.get("/api/courses/course-1/mastery-settings", headers=teacher(host))
    assert r.json() == {"course_context": "course-1", "mastery_threshold": 80.0, "concept_columns": False}
    r = await client.put("/api/courses/course-1/mastery-settings", headers=teacher(host),
                         json={"mastery_threshold": 70, "concept_columns": True})
    assert r.status_code == 200 and r.json()["mastery_threshold"] == 70.0 and r.json()["concept_columns"] is True
    r = await client.put("/api/courses/course-1/mastery-settings", headers=teacher(host),
                         json={"mastery_threshold": 75, "concept_columns": False})
    assert r.json()["mastery_threshold"] == 75.0
    bad = await client.put("/api/courses/course-1/mastery-settings", headers=teacher(host),
                           json={"mastery_threshold": 101})
    assert bad.status_code == 422


async def test_a_d1_outage_gets_503_with_retry_after_and_records_nothing(host, client):
    from devhost.bindings._common import Fault

    q = await _course(host, client)
    await answer(client, host, q["counting"], correct=1)  # the tenant is now cached in KV
    before = fingerprint(host)
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    try:
        calls = [
            answer(client, host, q["counting"], correct=1),
            client.get("/api/mastery", headers=auth(host)),
            client.get("/api/reviews/due", headers=auth(host)),
            client.get("/api/readiness", headers=auth(host)),
            client.get("/api/knowledge-graph", headers=auth(host)),
            import_graph(client, host, [{"id": "new-one", "name": "New"}]),
            client.get("/api/courses/course-1/mastery", headers=teacher(host)),
            client.get("/api/courses/course-1/mastery-settings", headers=teacher(host)),
            client.put("/api/courses/course-1/mastery-settings", headers=teacher(host), json={}),
            client.post("/api/mastery/sync", headers=auth(host)),
        ]
        for call in calls:
            r = await call
            assert r.status_code == 503 and r.headers["retry-after"], r.text
    finally:
        host.faults.clear()
    assert fingerprint(host) == before
