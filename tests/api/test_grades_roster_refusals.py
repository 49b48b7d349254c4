"""Wrong requests to the grade and roster routes get a clear 4xx/503 and change
nothing (admin refusals: test_admin_refusals.py; the happy paths run against a test platform in tests/lti/test_flow.py)."""

from __future__ import annotations

from devhost.bindings._common import Fault
from tests.api.helpers import fingerprint
from tests.conftest import INSTRUCTOR, auth

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



async def test_mastery_sync_during_a_d1_outage_is_a_503(client, host):
    headers = auth(host)
    await client.get("/api/profile", headers=headers)  # the tenant row is known to the isolate
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    try:
        r = await client.post("/api/mastery/sync", headers=headers)
    finally:
        host.faults.clear()
    assert r.status_code == 503 and r.headers["retry-after"] == "30"
