"""Wrong requests to the grade, roster and admin routes get a clear 4xx/503 and change
nothing (the happy paths run against a test platform in tests/lti/test_flow.py)."""

from __future__ import annotations

from devhost.bindings._common import Fault
from tests.api.helpers import fingerprint, seed_learner
from tests.conftest import DEV_VARS, INSTRUCTOR, TENANT_A, auth

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}
SCORE = {"lti_user_id": "learner-1", "score_given": 7.0, "score_maximum": 10.0}


async def test_a_learner_cannot_post_scores_or_read_the_roster(client, host):
    before = fingerprint(host)
    r = await client.post("/api/courses/course-1/scores", headers=auth(host), json=SCORE)
    assert r.status_code == 403 and r.json()["type"] == "/problems/forbidden"
    r = await client.get("/api/courses/course-1/roster", headers=auth(host))
    assert r.status_code == 403
    assert fingerprint(host) == before


async def test_another_course_than_the_launch_context_is_not_found(client, host):
    teacher = auth(host, user="teacher-1", roles=(INSTRUCTOR,))
    assert (await client.post("/api/courses/course-2/scores", headers=teacher, json=SCORE)).status_code == 404
    assert (await client.get("/api/courses/course-2/roster", headers=teacher)).status_code == 404


async def test_a_score_above_its_maximum_is_refused(client, host):
    teacher = auth(host, user="teacher-1", roles=(INSTRUCTOR,))
    r = await client.post("/api/courses/course-1/scores", headers=teacher,
                          json={**SCORE, "score_given": 11.0})
    assert r.status_code == 422 and "exceed" in r.json()["detail"]


async def test_grades_need_a_launch_from_the_course_first(client, host):
    teacher = auth(host, user="teacher-1", roles=(INSTRUCTOR,))
    r = await client.post("/api/courses/course-1/scores", headers=teacher, json=SCORE)
    assert r.status_code == 409 and r.json()["type"] == "/problems/no-launch-context"
    r = await client.get("/api/courses/course-1/roster", headers=teacher)
    assert r.status_code == 409


async def test_mastery_sync_needs_a_profile_and_measured_mastery(client, host):
    r = await client.post("/api/mastery/sync", headers=auth(host, user="nobody"))
    assert r.status_code == 404
    await seed_learner(host, TENANT_A, "learner-1")
    r = await client.post("/api/mastery/sync", headers=auth(host))
    assert r.status_code == 409 and r.json()["type"] == "/problems/no-mastery"


async def test_mastery_sync_during_a_d1_outage_is_a_503(client, host):
    headers = auth(host)
    await client.get("/api/profile", headers=headers)  # the tenant row is known to the isolate
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    try:
        r = await client.post("/api/mastery/sync", headers=headers)
    finally:
        host.faults.clear()
    assert r.status_code == 503 and r.headers["retry-after"] == "30"


async def test_a_registration_link_for_an_unconfigured_database_is_refused(client, host):
    r = await client.post("/admin/registration-links", headers=ADMIN,
                          json={"tenant_name": "Nowhere U", "d1_binding": "D1_NOT_CONFIGURED"})
    assert r.status_code == 422 and "D1_NOT_CONFIGURED" in r.json()["detail"]


async def test_registering_a_platform_while_d1_is_down_registers_nothing(client, host):
    before = fingerprint(host)
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    try:
        r = await client.post("/admin/platforms", headers=ADMIN,
                              json={"tenant_name": "Down U", "preset": "canvas", "client_id": "1700001",
                                    "deployment_ids": ["1:x"]})
    finally:
        host.faults.clear()
    assert r.status_code == 503 and r.json()["type"] == "/problems/d1-unavailable"
    assert fingerprint(host) == before
