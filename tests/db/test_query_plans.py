"""Every query the data layer issues uses an index: EXPLAIN QUERY PLAN shows no full
scan of a tenant-owned table. The statements are captured from a real workload."""

import sqlite3

from db.tables import TABLES
from tests.api.helpers import seed_learner
from tests.conftest import INSTRUCTOR, TENANT_A, auth


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


async def _chat_workload(host, client, learner, teacher):
    """The AI Guide's statements: settings and budgets, context, write-through, ledger,
    lists, transcripts, activities, usage."""
    from tests.chat.helpers import ADMIN

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
        etag = (await client.get("/api/profile", headers=h)).headers["etag"]
        await client.patch("/api/profile", json={"privacy_settings": {}}, headers={**h, "If-Match": etag})
        teacher = auth(host, user="t", context="course-1", roles=[INSTRUCTOR])
        listing = await client.get("/api/courses/course-1/profiles", headers=teacher)
        pid = listing.json()["profiles"][0]["id"]
        await client.get(f"/api/courses/course-1/profiles/{pid}", headers=teacher)
        await _chat_workload(host, client, h, teacher)
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
