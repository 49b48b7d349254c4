"""Grades and rosters refuse what cannot be done, each with its own clear status: the
wrong role or course, no launch context, no grant of the service, a platform that does
not answer, a learner without measured mastery, a D1 outage."""

from devhost.bindings._common import Fault
from lti.launch_flow import course_services_key
from tests.api.helpers import seed_learner
from tests.conftest import DEV_VARS, INSTRUCTOR, TENANT_A, auth

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}
SCORE = {"lti_user_id": "learner-1", "score_given": 5, "score_maximum": 10}


async def register(client) -> str:
    r = await client.post("/admin/platforms", headers=ADMIN, json={
        "tenant_name": "Grades U", "issuer": "http://127.0.0.1:9", "client_id": "grades-client",
        "deployment_ids": ["d1"], "auth_login_url": "http://127.0.0.1:9/login",
        "auth_token_url": "http://127.0.0.1:9/token", "key_set_url": "http://127.0.0.1:9/jwks"})
    assert r.status_code == 201, r.text
    return r.json()["tenant_id"]


async def test_only_instructors_of_the_launch_course_post_scores_and_read_rosters(host, client):
    learner = auth(host)
    teacher = auth(host, user="t", roles=[INSTRUCTOR])
    assert (await client.post("/api/courses/course-1/scores", headers=learner, json=SCORE)).status_code == 403
    assert (await client.post("/api/courses/course-2/scores", headers=teacher, json=SCORE)).status_code == 404
    too_much = {**SCORE, "score_given": 11}
    assert (await client.post("/api/courses/course-1/scores", headers=teacher, json=too_much)).status_code == 422
    assert (await client.get("/api/courses/course-1/roster", headers=learner)).status_code == 403
    assert (await client.get("/api/courses/course-2/roster", headers=teacher)).status_code == 404


async def test_without_a_launch_context_or_its_registration_nothing_is_sent(host, client):
    teacher = auth(host, user="t", roles=[INSTRUCTOR])
    r = await client.post("/api/courses/course-1/scores", headers=teacher, json=SCORE)
    assert r.status_code == 409 and r.json()["type"] == "/problems/no-launch-context"
    await host.env.LTI_PLATFORMS.put(course_services_key(TENANT_A, "course-1"),
                                     '{"issuer": "https://gone.example", "client_id": "gone"}')
    r = await client.get("/api/courses/course-1/roster", headers=teacher)
    assert r.status_code == 409 and r.json()["type"] == "/problems/no-registration"


async def test_a_course_without_the_grant_or_with_an_unreachable_platform_says_so(host, client):
    tenant = await register(client)
    teacher = auth(host, tenant=tenant, user="t", roles=[INSTRUCTOR])
    key = course_services_key(tenant, "course-1")
    await host.env.LTI_PLATFORMS.put(key, '{"issuer": "http://127.0.0.1:9", "client_id": "grades-client"}')
    r = await client.post("/api/courses/course-1/scores", headers=teacher, json=SCORE)
    assert r.status_code == 409 and r.json()["type"] == "/problems/no-ags"
    r = await client.get("/api/courses/course-1/roster", headers=teacher)
    assert r.status_code == 409 and r.json()["type"] == "/problems/no-nrps"
    await host.env.LTI_PLATFORMS.put(key, '{"issuer": "http://127.0.0.1:9", "client_id": "grades-client", '
                                          '"ags": {"lineitems": "http://127.0.0.1:9/lineitems", "scope": '
                                          '["https://purl.imsglobal.org/spec/lti-ags/scope/score"]}}')
    r = await client.post("/api/courses/course-1/scores", headers=teacher, json=SCORE)
    assert r.status_code == 502 and r.json()["type"] == "/problems/platform-service"


async def test_mastery_sync_needs_a_profile_and_measured_mastery(host, client):
    assert (await client.post("/api/mastery/sync", headers=auth(host, user="nobody"))).status_code == 404
    await seed_learner(host, TENANT_A, "learner-1")
    r = await client.post("/api/mastery/sync", headers=auth(host))
    assert r.status_code == 409 and r.json()["type"] == "/problems/no-mastery"
    await client.get("/api/profile", headers=auth(host))  # a cached tenant for the outage
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    r = await client.post("/api/mastery/sync", headers=auth(host))
    assert r.status_code == 503 and r.headers["retry-after"]
