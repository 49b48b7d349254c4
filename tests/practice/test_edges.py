"""The edges: a D1 outage (503 problem or page, nothing recorded), activity settings and
concept names refused with their reasons, binding races at launch, and the grade sender's
decisions against a platform that misbehaves (no column scope, a deleted column, a score
changing mid-send, more to send than one run takes)."""

import pytest

from db.database import ConstraintViolation, Database
from devhost.bindings._common import Fault
from lti.launch import LaunchClaims
from lti.registration import Registration
from practice import gradebook, launch as practice_launch, service as practice
from tests.api.helpers import fingerprint
from tests.conftest import INSTRUCTOR, LEARNER, TENANT_A, token
from tests.practice.helpers import (activity, answer, course, fill_item, import_items, launch_learner,
                                    learner_headers, learner_token, next_item, rows, scope_of, teacher)


async def test_a_d1_outage_is_503_for_the_api_and_a_readable_page_and_records_nothing(host, client):
    await course(client, host)
    a = await activity(host)
    await import_items(client, host, [fill_item()])
    await launch_learner(host)
    item = (await next_item(client, host, a["id"])).json()["item"]  # the tenant is cached in KV now
    ltik, tltik = learner_token(host), token(host, user="teacher-1", roles=[INSTRUCTOR])
    before = fingerprint(host)
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    try:
        for call in (answer(client, host, a["id"], item["item_id"], response="4"),
                     next_item(client, host, a["id"]),
                     client.get(f"/api/activities/{a['id']}", headers=teacher(host)),
                     client.get("/api/activities", headers=teacher(host)),
                     client.post("/api/question-bank/import", json=[fill_item()], headers=teacher(host)),
                     client.patch(f"/api/activities/{a['id']}", json={"title": "x"}, headers=teacher(host))):
            r = await call
            assert r.status_code == 503 and r.headers["retry-after"], r.text
        for path in (f"/app/practice?ltik={ltik}", f"/app/activities?ltik={tltik}",
                     f"/app/activities/{a['id']}?ltik={tltik}", f"/app/question-bank?ltik={tltik}"):
            page = await client.get(path)
            assert page.status_code == 503 and "<h1" in page.text, path
        posted = await client.post(f"/app/practice?ltik={ltik}", data={"action": "answer", "item": item["item_id"],
                                                                       "presentation": item["presentation_id"],
                                                                       "response": "4"})
        assert posted.status_code == 503
    finally:
        host.faults.clear()
    assert fingerprint(host) == before


def test_activity_settings_name_every_problem():
    bad = practice.ActivitySettings(title=" ", type="quiz", concepts=(), mastery_threshold=120,
                                    grading_schema="vibes", typo_tolerance=4, engagement_target=0)
    assert [p.split(":")[0] for p in bad.problems()] == ["title", "type", "concepts", "mastery_threshold",
                                                          "grading_schema", "typo_tolerance", "engagement_target"]
    many = practice.ActivitySettings(title="t", type="fill_blank", concepts=tuple(f"c{i}" for i in range(51)))
    assert many.problems() == ["concepts: at most 50"]


async def test_creating_an_activity_refuses_unknown_concepts_and_reuses_concepts_by_name(host, client):
    await course(client, host)
    db, scope = Database(host.env), scope_of()
    with pytest.raises(practice.PracticeError) as exc:
        await practice.create_activity(db, scope, "course-1", "t", practice.ActivitySettings(
            "t", "fill_blank", ("p-counting", "nowhere")))
    assert exc.value.status == 422 and exc.value.extra["ids"] == ["nowhere"]
    with pytest.raises(practice.PracticeError):
        await practice.create_activity(db, scope, "course-1", "t", practice.ActivitySettings("", "fill_blank", ()))
    # "counting" names an existing concept (any case): it is reused and attached to the other course.
    ids = await practice.ensure_concepts(db, scope, "course-2", ["COUNTING", "Brand new", "  "])
    assert ids[0] == "p-counting" and ids[1].startswith("brand-new-")
    graph = {r[0]: r[1] for r in rows(host, "SELECT concept_id, course_contexts FROM knowledge_graph")}
    assert "course-2" in graph["p-counting"] and graph[ids[1]] == '["course-2"]'
    assert await practice.ensure_concepts(db, scope, "course-2", []) == []
    with pytest.raises(practice.PracticeError):
        await practice.ensure_concepts(db, scope, "course-2", ["x" * 301])


def _claims(rl: str, custom: dict, context: str = "course-1", ags: dict | None = None) -> LaunchClaims:
    return LaunchClaims(issuer="https://platform.example", client_id="c1", deployment_id="d", sub="learner-1",
                        message_type="LtiResourceLinkRequest", roles=[LEARNER], context_id=context,
                        resource_link_id=rl, target_link_uri="x", nonce="n", custom=custom, ags=ags)


async def test_a_launch_naming_the_column_keeps_it_and_a_lost_binding_race_opens_the_winner(host, client, monkeypatch):
    await course(client, host)
    db, scope = Database(host.env), scope_of()
    pending = await activity(host, rl=None)
    ags = {"lineitems": "https://platform.example/li", "lineitem": "https://platform.example/li/7",
           "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]}
    first = await practice_launch.open_activity(db, scope, _claims("rl-1", {"activity_id": pending["id"]}, ags=ags))
    assert first.activity_id == pending["id"] and first.path(False) == "/app/practice"
    assert rows(host, "SELECT line_item_url FROM assessment_configs") == [("https://platform.example/li/7",)]
    # Another pending activity's first launch races one that bound the same link a moment before.
    other = await activity(host, rl=None)
    real = practice_launch.activity_for_link
    calls = {"n": 0}

    async def stale_then_real(db_, scope_, rl):
        calls["n"] += 1
        return None if calls["n"] == 1 else await real(db_, scope_, rl)

    monkeypatch.setattr(practice_launch, "activity_for_link", stale_then_real)
    won = await practice_launch.open_activity(db, scope, _claims("rl-1", {"activity_id": other["id"]}))
    assert won.activity_id == pending["id"]
    calls["n"] = 0
    copied = await practice_launch.open_activity(db, scope, _claims("rl-1", {"activity_id": pending["id"]},
                                                                     context="course-9"))
    assert copied.activity_id == pending["id"]  # the copy lost to the link's own activity

    async def never(db_, scope_, rl):
        return None

    monkeypatch.setattr(practice_launch, "activity_for_link", never)
    lost = await practice_launch.open_activity(db, scope, _claims("rl-2", {"activity_id": other["id"]}))
    assert lost.activity_id is None and lost.path(False) == "/app"
    assert await practice_launch.open_activity(db, scope, _claims("rl-3", {})) is None


async def test_request_sync_is_best_effort(host):
    class Broken:
        def getByName(self, name):
            raise RuntimeError("object unreachable")

    class NoBinding:
        pass

    assert await gradebook.request_sync(NoBinding(), TENANT_A, "D1_PRIMARY", "a") is False
    real = host.env.GRADE_SYNC
    host.env.GRADE_SYNC = Broken()
    try:
        assert await gradebook.request_sync(host.env, TENANT_A, "D1_PRIMARY", "a") is False
    finally:
        host.env.GRADE_SYNC = real
    assert await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", "no-such-activity", 0) is None


async def _pending_grades(client, host, learners=("learner-1",), scopes=None):
    await course(client, host)
    a = await activity(host)
    if scopes is not None:
        await Database(host.env).run(scope_of().update("assessment_configs", {"ags_scope": scopes}, {"id": a["id"]}))
    await import_items(client, host, [fill_item()])
    for user in learners:
        await launch_learner(host, user=user)
        item = (await next_item(client, host, a["id"], user=user)).json()["item"]
        await answer(client, host, a["id"], item["item_id"], response="4", user=user)
        await Database(host.env).run(scope_of().update("activity_progress", {"sync_status": "pending", "score": 50.0},
                                                       {"lti_user_id": user}, increments={"score_version": 1}))
    return a


@pytest.fixture
def platform_double(monkeypatch):
    """A registered platform whose AGS calls the test scripts."""
    reg = Registration(tenant_id=TENANT_A, platform_id="p", issuer="https://platform.example", client_id="c1",
                       deployment_ids=["d"], auth_login_url="https://platform.example/a",
                       auth_token_url="https://platform.example/t", key_set_url="https://platform.example/k")
    calls = {"posts": [], "created": 0, "post": None}

    async def find(env, issuer, client_id):
        return reg

    async def find_line_item(env, reg_, url, rl, tag, base):
        return None

    async def create_line_item(env, reg_, url, rl, tag, label, maximum, base):
        calls["created"] += 1
        return "https://platform.example/li/1"

    async def post_score(env, reg_, url, body, base):
        calls["posts"].append((url, body["userId"], body["scoreGiven"]))
        if calls["post"]:
            await calls["post"](body)
        return 204

    from lti import registration, services

    monkeypatch.setattr(registration, "find", find)
    monkeypatch.setattr(services, "find_line_item", find_line_item)
    monkeypatch.setattr(services, "create_line_item", create_line_item)
    monkeypatch.setattr(services, "post_score", post_score)
    return calls


async def test_without_a_column_and_without_the_scope_to_create_one_the_grade_is_retried(host, client,
                                                                                       platform_double):
    a = await _pending_grades(client, host, scopes='["https://purl.imsglobal.org/spec/lti-ags/scope/score"]')
    again = await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 0)
    ((status, error, next_at),) = rows(host, "SELECT sync_status, sync_error, next_sync_at FROM activity_progress")
    assert status == "retrying" and "did not grant creating one" in error
    assert again == 30_000 and platform_double["posts"] == []


async def test_a_deleted_column_is_found_again_and_a_score_changed_mid_send_goes_next(host, client, platform_double):
    from lti import services

    a = await _pending_grades(client, host)

    async def gone(body):
        raise services.ServiceError("posting the score answered HTTP 404")

    platform_double["post"] = gone
    await Database(host.env).run(scope_of().update("assessment_configs", {"line_item_url": "https://x/old"},
                                                   {"id": a["id"]}))
    await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 0)
    assert rows(host, "SELECT line_item_url FROM assessment_configs") == [(None,)]

    async def change_meanwhile(body):
        platform_double["post"] = None
        await Database(host.env).run(scope_of().update("activity_progress", {"score": 75.0}, {"lti_user_id":
                                                                                                  "learner-1"},
                                                       increments={"score_version": 1}))

    platform_double["post"] = change_meanwhile
    await Database(host.env).run(scope_of().update("activity_progress", {"next_sync_at": None}, {"lti_user_id":
                                                                                                    "learner-1"}))
    again = await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 10**12)
    assert again == 10**12  # the new score is due now
    ((status, sent),) = rows(host, "SELECT sync_status, sent_score FROM activity_progress")
    assert sent == 50.0 and status in ("pending", "retrying")  # sent, but not the latest: still to send
    await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 10**12)
    assert [p[2] for p in platform_double["posts"]][-2:] == [50.0, 75.0] and platform_double["created"] == 1
    assert rows(host, "SELECT sync_status, sent_score FROM activity_progress") == [("sent", 75.0)]


async def test_more_grades_than_one_run_sends_are_sent_by_the_next_run(host, client, platform_double, monkeypatch):
    a = await _pending_grades(client, host, learners=("learner-1", "learner-2"))
    monkeypatch.setattr(gradebook, "MAX_SENDS_PER_RUN", 1)
    assert await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 5) == 5
    assert await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 5) is None
    assert sorted(p[1] for p in platform_double["posts"]) == ["learner-1", "learner-2"]


async def test_a_waiting_retry_sets_the_next_run_and_many_failures_give_up(host, client, platform_double):
    from lti import services

    a = await _pending_grades(client, host)

    async def refuse(body):
        raise services.ServiceError("posting the score answered HTTP 500")

    platform_double["post"] = refuse
    now = 1_000_000
    for attempt in range(1, gradebook.MAX_ATTEMPTS + 1):
        again = await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], now)
        if attempt < gradebook.MAX_ATTEMPTS:
            assert again == now + int(gradebook.backoff_s(attempt) * 1000)
            # before that time nothing is sent, and the same time comes back
            assert await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], now + 1) == again
            now = again
    assert rows(host, "SELECT sync_status, sync_attempts FROM activity_progress") == [("failed",
                                                                                        gradebook.MAX_ATTEMPTS)]


async def test_instructor_page_errors_are_pages_that_say_what_to_fix(host, client):
    await course(client, host)
    a = await activity(host)
    tltik = token(host, user="teacher-1", roles=[INSTRUCTOR])
    base = f"/app/activities/{a['id']}?ltik={tltik}"
    for data, status, text in (
            ({"action": "draft", "text": "short"}, 422, "Paste at least"),
            ({"action": "dance"}, 400, "Unknown action"),
            ({"action": "draft-discard", "draft": "nope"}, 404, "No such draft"),
            ({"action": "draft-approve", "draft": "nope", "count": "0"}, 404, "No such draft")):
        r = await client.post(base, data=data)
        assert r.status_code == status and text in r.text, (data, r.status_code)
    text = "Counting — saying numbers in order, one by one. Addition is a way to combine two numbers into one."
    await client.post(base, data={"action": "draft", "text": text})
    draft_id = rows(host, "SELECT id FROM generated_content")[0][0]
    none = await client.post(base, data={"action": "draft-approve", "draft": draft_id, "count": "0"})
    assert none.status_code == 422 and "Check at least one" in none.text
    saved = await client.post(base, data={"action": "draft-save", "draft": draft_id, "count": "0"},
                              follow_redirects=False)
    assert saved.status_code == 303
    discarded = await client.post(base, data={"action": "draft-discard", "draft": draft_id}, follow_redirects=False)
    assert discarded.status_code == 303
    retry = await client.post(base, data={"action": "retry"}, follow_redirects=False)
    assert retry.status_code == 303 and "notice=retry" in retry.headers["location"]
    learner = await client.post(f"/app/activities/{a['id']}?ltik={learner_token(host)}", data={"action": "retry"})
    assert learner.status_code == 403
    missing = await client.post(f"/app/activities/nope?ltik={tltik}", data={"action": "retry"})
    assert missing.status_code == 404
    bank = f"/app/question-bank?ltik={tltik}"
    assert (await client.post(bank, data={"action": "dance"})).status_code == 400
    assert (await client.post(bank, data={"action": "approve", "item": "nope"})).status_code == 404
    assert (await client.get(f"/app/question-bank/items/nope?ltik={tltik}")).status_code == 404
    assert (await client.post(f"/app/question-bank/items/nope?ltik={tltik}", data={"concept": "x"})).status_code \
        == 404
    assert (await client.get(f"/app/activities?ltik={learner_token(host)}")).status_code == 403
    empty = await client.get(f"/app/activities?ltik={token(host, user='teacher-1', context='course-7', roles=[INSTRUCTOR])}")
    assert 'id="activities-none"' in empty.text


async def test_a_chat_activity_offers_the_guide_and_instructors_posting_practice_are_shown_the_page(host, client):
    await course(client, host)
    await activity(host, type_="chat")
    await launch_learner(host)
    page = await client.get(f"/app/practice?ltik={learner_token(host)}")
    assert "/app/guide/" in page.text
    tltik = token(host, user="teacher-1", roles=[INSTRUCTOR])
    posted = await client.post(f"/app/practice?ltik={tltik}", data={"action": "answer"})
    assert posted.status_code == 200 and "/app/activities" in posted.text
    none = await client.post(f"/app/practice?ltik={token(host, roles=[LEARNER])}", data={"action": "answer"})
    assert none.status_code == 404
    r = await client.get(f"/api/activities/{rows(host, 'SELECT id FROM assessment_configs')[0][0]}/next",
                         headers=learner_headers(host))
    assert r.status_code == 409


async def test_a_concurrent_import_with_the_same_ref_asks_to_send_again(host, client, monkeypatch):
    await course(client, host)
    real_batch = Database.batch

    async def racing(self, statements, name):
        if name == "questions.import_batch":
            raise ConstraintViolation("UNIQUE constraint failed: questions.ref", "unique")
        return await real_batch(self, statements, name)

    monkeypatch.setattr(Database, "batch", racing)
    r = await client.post("/api/question-bank/import", json=[fill_item(ref="r1")], headers=teacher(host))
    assert r.status_code == 409 and "send the file again" in r.json()["detail"]
