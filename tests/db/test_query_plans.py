"""Every query the data layer issues uses an index: EXPLAIN QUERY PLAN shows no full
scan of a tenant-owned table. The statements are captured from a real workload."""

import json
import sqlite3

from db import system
from db.tables import TABLES
from tests.api.helpers import seed_learner
from learner import model as lm
from tests.conftest import DEV_VARS, INSTRUCTOR, TENANT_A, auth
from tests.learner.helpers import START, FakeClock, add_question, answer

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}


class Recorder:
    def __init__(self, db):
        self._db = db
        self.sql: set[str] = set()

    def prepare(self, sql):
        self.sql.add(sql)
        return self._db.prepare(sql)

    async def batch(self, statements):
        for s in statements:
            self.sql.add(s.sql)
        return await self._db.batch(statements)

# Reads of the whole platform directory by design: the frame-origins union of every
# registered platform, rebuilt only when its KV copy is missing (db/system.py).
WHOLE_DIRECTORY_READS = {system.all_platform_origins().sql}


async def _chat_workload(host, client, learner, teacher):
    """The AI Guide's statements: settings and budgets, context, write-through, ledger,
    lists, transcripts, activities, usage."""
    from tests.chat.helpers import ADMIN

    # tokens minted now: the workload before this one moved the host's clock
    learner, teacher = auth(host), auth(host, user="t", context="course-1", roles=[INSTRUCTOR])
    admin = auth(host, user="admin-1", roles=[ADMIN])
    await client.put("/api/institution/chat/settings", json={"instructor_transcripts": True}, headers=admin)
    await client.put("/api/institution/chat/budgets/courses/course-1", json={"course_daily_tokens": 10**6}, headers=admin)
    profile_id = (await client.get("/api/profile", headers=learner)).json()["id"]
    await client.put(f"/api/institution/chat/budgets/learners/{profile_id}", json={"learner_daily_tokens": 10**6},
                     headers=admin)
    conversation = (await client.post("/api/chat/conversations", json={"concept": "quadratics"}, headers=learner)).json()
    statuses = [(await client.post(f"/api/chat/conversations/{conversation['id']}/messages", json={"content": "help?"},
                                   headers=learner)).status_code]
    for path in ("/api/chat/conversations", "/api/chat/availability", "/api/courses/course-1/chat/transcripts",
                 f"/api/courses/course-1/chat/transcripts/{conversation['id']}"):
        statuses.append((await client.get(path, headers=teacher if "courses" in path else learner)).status_code)
    activity = (await client.post("/api/courses/course-1/guide-activities", headers=teacher,
                                  json={"title": "Explain", "concepts": ["quadratics"]})).json()
    await client.get("/api/courses/course-1/guide-activities", headers=teacher)
    graded = (await client.post("/api/chat/conversations", json={"activity_id": activity["id"]}, headers=learner)).json()
    await client.post(f"/api/chat/conversations/{graded['id']}/messages", json={"content": "Quadratics have a squared "
                      "term and a parabola as their graph, with up to two roots."}, headers=learner)
    await client.post("/api/chat/conversations", json={"activity_id": activity["id"]}, headers=learner)
    await client.put(f"/api/courses/course-1/activities/{activity['id']}/guide", json={"enabled": True}, headers=teacher)
    statuses.append((await client.get("/api/institution/chat/usage", headers=admin)).status_code)
    statuses.append((await client.delete(f"/api/chat/conversations/{conversation['id']}", headers=learner)).status_code)
    assert statuses == [200, 200, 200, 200, 200, 200, 204] and graded["mode"] == "graded"


async def test_data_layer_queries_never_scan_a_tenant_table(host, client):
    recorder = Recorder(host.env.D1_PRIMARY)
    host.env.D1_PRIMARY = recorder
    try:
        await seed_learner(host, TENANT_A, "learner-1", extra_rows=True)
        await seed_learner(host, TENANT_A, "learner-2", extra_rows=True)
        h = auth(host)
        teacher = auth(host, user="t", context="course-1", roles=[INSTRUCTOR])
        etag = (await client.get("/api/profile", headers=h)).headers["etag"]
        await client.patch("/api/profile", json={"privacy_settings": {}}, headers={**h, "If-Match": etag})
        listing = await client.get("/api/courses/course-1/profiles", headers=teacher)
        pid = listing.json()["profiles"][0]["id"]
        await client.get(f"/api/courses/course-1/profiles/{pid}", headers=teacher)
        # the learner model: graph import, answers (first and later, rapid), readings, settings
        await client.post("/api/knowledge-graph", headers=teacher, json={"concepts": [
            {"id": "qp-a", "name": "A"}, {"id": "qp-b", "name": "B", "prerequisites": ["qp-a"]}]})
        await client.put(f"/admin/tenants/{TENANT_A}/learner-model", headers=ADMIN,
                         content=json.dumps(lm.params_document(lm.ModelParams(), {"qp-a": {
                             "p_init": 0.3, "p_transit": 0.1, "p_slip": 0.1, "p_guess": 0.2}})))
        await client.get(f"/admin/tenants/{TENANT_A}/knowledge-graph", headers=ADMIN)
        qa = await add_question(host, TENANT_A, "qp-a")
        qb = await add_question(host, TENANT_A, "qp-b", estimated_time_seconds=60)
        for i, q in enumerate([qa, qa, qb, qa]):
            await answer(client, host, q, correct=i % 2, key=f"qp-{i}")
        await answer(client, host, qa, correct=1, key="qp-0")  # replay
        await answer(client, host, qb, correct=1, response_time_ms=100)  # rapid guess
        host.env.CLOCK = FakeClock(START + 3 * 86400)
        await answer(client, host, qa, correct=1)  # a spaced review (retention_tracking)
        for path in ("/api/mastery", "/api/reviews/due", "/api/readiness", "/api/knowledge-graph"):
            await client.get(path, headers=h)
        await client.get("/api/courses/course-1/mastery", headers=teacher)
        await client.put("/api/courses/course-1/mastery-settings", headers=teacher,
                         json={"mastery_threshold": 70, "concept_columns": True})
        await client.get("/api/courses/course-1/mastery-settings", headers=teacher)
        await client.post("/api/mastery/sync", headers=h)
        from tests.practice.helpers import workload as practice_workload

        await practice_workload(host, client)  # activities, the question bank, answers, drafts, grade sync
        # the insight pages: a first view computes the snapshot, a second reads it with the
        # same-day delta; details, CSV, my progress, and the nightly insights workflow
        from tests.insights.helpers import store_names

        from devhost import class_seed

        # concept names of their own: the practice workload's graph holds "Counting" too
        cls = await class_seed.seed(host.env, TENANT_A, "course-1", 6, concept_prefix="plans")
        await store_names(host, TENANT_A, "course-1", {"student-0001": "Ada"}, fetched_at="2000-01-01T00:00:00.000Z")
        ltik = {"ltik": auth(host, user="t", context="course-1", roles=[INSTRUCTOR])["Authorization"].split()[1]}
        for _ in range(2):
            r = await client.get("/app/courses/course-1/overview", params={**ltik, "show": "attention"})
            assert r.status_code == 200, r.text[-3000:]
        await client.get(f"/app/courses/course-1/learners/{cls.learners[3]['id']}", params=ltik)
        await client.get(f"/app/courses/course-1/concepts/{cls.concepts[5]['id']}", params=ltik)
        for table in ("heatmap", "flags"):
            await client.get(f"/app/courses/course-1/overview/{table}.csv", params=ltik)
        await client.get("/app/progress", params={"ltik": auth(host, user="student-0004")["Authorization"].split()[1]})
        host.workflows["INSIGHTS_WORKFLOW"].sleeper = __import__("tests.backups.helpers", fromlist=["x"]).instant
        from insights import job

        await job.schedule_nightly(host.env, 1_767_582_000_000)
        await host.workflows_idle()
        await _chat_workload(host, client, h, teacher)
        await client.get("/api/profile/export", headers=h)
        # struggle detection: signals, a reaction, an answer, the flush, the instructor's views
        from auth.session import session_from_token
        from struggle import service
        from tests.struggle.conftest import add_learner

        struggler = await add_learner(host, user="struggler")
        signals = await client.post("/api/signals", headers=struggler.headers,
                                    json={"signals": [{"type": "idle", "t": int(host.env.CLOCK.now() * 1000), "ms": 200_000}]})
        assert signals.status_code == 200, signals.text
        offer = signals.json()["intervention"]
        await client.post(f"/api/interventions/{offer['id']}/reaction", headers=struggler.headers,
                          json={"outcome": "accepted"})
        await service.report_answer(host.env, await session_from_token(host.env, struggler.token),
                                    {"concept_id": "c1", "credit": 0.0, "response_time_s": 30.0})
        await struggler.detector.flush_now()
        await client.get("/api/courses/course-1/struggle", headers=teacher)
        await client.get("/app", params={"ltik": teacher["Authorization"].split()[1]})
        await client.delete("/api/profile", headers=h)
        from tests.backups.helpers import instant, restore

        host.workflows["EXPORT_WORKFLOW"].sleeper = instant
        await host.scheduled("0 3 * * *", 1_767_582_000_000)  # the nightly export workflows
        await host.workflows_idle()
        await restore(host, TENANT_A, "2026-01-05")  # and a restore of one of them
    finally:
        host.env.D1_PRIMARY = recorder._db
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    tenant_tables = set(TABLES)
    offenders = []
    assert len(recorder.sql) > 40  # the workload really exercised the data layer
    for table in ("concept_parameters", "retention_tracking", "learner_models", "course_mastery_settings",
                  "student_progress", "analytics_snapshots", "course_roster", "activity_progress", "assessment_configs",
                  "generated_content", "ai_model_settings"):
        assert any(table in sql for sql in recorder.sql), table
    assert any(sql.startswith("UPDATE knowledge_state") and "version = ?" in sql for sql in recorder.sql)
    assert any("detected_at > ?" in sql and "ORDER BY detected_at DESC" in sql for sql in recorder.sql)  # the delta
    for sql in sorted(recorder.sql):
        if sql.lstrip().upper().startswith("INSERT"):
            continue  # inserts do not read
        params = [None] * sql.count("?")
        for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params):
            detail = row[3]
            if detail.startswith("SCAN "):
                table = detail.split()[1]
                if table in tenant_tables and sql not in WHOLE_DIRECTORY_READS:
                    offenders.append((sql, detail))
    conn.close()
    assert offenders == []
