"""Every query the data layer issues uses an index: EXPLAIN QUERY PLAN shows no full
scan of a tenant-owned table. The statements are captured from a real workload."""

import json
import sqlite3

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
        await client.get("/api/profile/export", headers=h)
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
                  "student_progress", "activity_progress", "assessment_configs", "generated_content",
                  "ai_model_settings"):
        assert any(table in sql for sql in recorder.sql), table
    assert any(sql.startswith("UPDATE knowledge_state") and "version = ?" in sql for sql in recorder.sql)
    for sql in sorted(recorder.sql):
        if sql.lstrip().upper().startswith("INSERT"):
            continue  # inserts do not read
        params = [None] * sql.count("?")
        for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params):
            detail = row[3]
            if detail.startswith("SCAN "):
                table = detail.split()[1]
                if table in tenant_tables:
                    offenders.append((sql, detail))
    conn.close()
    assert offenders == []
