"""Drafts from course text through the provider interface (offline and Workers AI, cached
by content hash, approved by the instructor only), the tenant's choice of drafting model,
and grade sync's safety nets (the nightly sweep, never another course's gradebook)."""

import json

import pytest

from db.database import Database
from durable.grade_sync import GradeSync
from practice import gradebook, providers
from tests.api.helpers import fingerprint
from tests.conftest import DEV_VARS, TENANT_A, TENANT_B
from tests.practice.helpers import (activity, answer, course, fill_item, import_items, launch_learner,
                                    learner_headers, next_item, rows, scope_of, teacher)

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}
TEXT = ("Photosynthesis — the process by which plants make glucose from light. Chlorophyll is the green pigment "
        "that absorbs light. Chlorophyll sits in the chloroplasts of leaf cells. Respiration: the process that "
        "releases energy from glucose.")


async def _activity(client, host, type_="fill_blank"):
    await course(client, host, concepts=[{"id": "p-photo", "name": "Photosynthesis"},
                                         {"id": "p-resp", "name": "Respiration"}])
    return await activity(host, concepts=("p-photo", "p-resp"), type_=type_)


async def test_a_draft_is_cached_by_content_hash_and_reaches_learners_only_when_approved(host, client):
    a = await _activity(client, host)
    await launch_learner(host)
    first = await client.post(f"/api/activities/{a['id']}/drafts", json={"text": TEXT}, headers=teacher(host))
    assert first.status_code == 201, first.text
    draft = first.json()
    assert draft["provider"] == "offline" and draft["status"] == "draft" and len(draft["items"]) >= 3
    again = await client.post(f"/api/activities/{a['id']}/drafts", json={"text": TEXT + "  "}, headers=teacher(host))
    assert again.status_code == 200 and again.json()["cached"] and again.json()["id"] == draft["id"]
    assert (await next_item(client, host, a["id"])).json()["item"] is None
    edited = [dict(i) for i in draft["items"]]
    edited[0]["prompt"] = "EDITED " + edited[0]["prompt"]
    r = await client.patch(f"/api/activities/{a['id']}/drafts/{draft['id']}", json={"items": edited},
                           headers=teacher(host))
    assert r.status_code == 200 and r.json()["items"][0]["prompt"].startswith("EDITED")
    bad = await client.patch(f"/api/activities/{a['id']}/drafts/{draft['id']}",
                             json={"items": [{**edited[0], "concept": "elsewhere"}]}, headers=teacher(host))
    assert bad.status_code == 422
    learner_try = await client.post(f"/api/activities/{a['id']}/drafts/{draft['id']}/approve", json={},
                                    headers=learner_headers(host))
    assert learner_try.status_code == 403
    ok = await client.post(f"/api/activities/{a['id']}/drafts/{draft['id']}/approve", json={"items": [0]},
                           headers=teacher(host))
    assert ok.status_code == 200 and ok.json()["approved_items"] == 1
    item = (await next_item(client, host, a["id"])).json()["item"]
    assert item["prompt"].startswith("EDITED")
    twice = await client.post(f"/api/activities/{a['id']}/drafts/{draft['id']}/approve", json={},
                              headers=teacher(host))
    assert twice.status_code == 409
    listing = (await client.get(f"/api/activities/{a['id']}/drafts", headers=teacher(host))).json()["drafts"]
    assert [d["status"] for d in listing] == ["approved"]


async def test_a_discarded_draft_adds_nothing_and_bad_requests_change_nothing(host, client):
    a = await _activity(client, host, type_="flashcards")
    draft = (await client.post(f"/api/activities/{a['id']}/drafts", json={"text": TEXT},
                               headers=teacher(host))).json()
    assert {i["format"] for i in draft["items"]} == {"flashcard"}
    before = fingerprint(host)
    out_of_range = await client.post(f"/api/activities/{a['id']}/drafts/{draft['id']}/approve",
                                     json={"items": [59]}, headers=teacher(host))
    assert out_of_range.status_code == 422
    elsewhere = await client.post(f"/api/activities/{a['id']}/drafts/nope/approve", json={}, headers=teacher(host))
    assert elsewhere.status_code == 404
    other_course = await client.get(f"/api/activities/{a['id']}/drafts", headers=teacher(host, context="course-2"))
    assert other_course.status_code == 404
    assert fingerprint(host) == before
    gone = await client.post(f"/api/activities/{a['id']}/drafts/{draft['id']}/discard", headers=teacher(host))
    assert gone.status_code == 200 and gone.json()["status"] == "discarded"
    assert rows(host, "SELECT count(*) FROM questions") == [(0,)]
    chat = await activity(host, concepts=("p-photo",), type_="chat", rl="rl-chat")
    r = await client.post(f"/api/activities/{chat['id']}/drafts", json={"text": TEXT}, headers=teacher(host))
    assert r.status_code == 409


class FakeAI:
    def __init__(self, reply):
        self.reply = reply
        self.calls = []

    async def run(self, model, inputs):
        self.calls.append((model, inputs))
        if isinstance(self.reply, Exception):
            raise self.reply
        return {"response": self.reply}


async def test_workers_ai_drafts_with_the_tenants_model_and_its_reply_is_validated(host, client):
    a = await _activity(client, host)
    r = await client.put(f"/admin/tenants/{TENANT_A}/ai-settings/drafting", headers=ADMIN,
                         json={"provider": "workers-ai", "model": "@cf/test/model-1"})
    assert r.status_code == 200
    assert (await client.get(f"/admin/tenants/{TENANT_A}/ai-settings/drafting", headers=ADMIN)).json()["model"] == \
        "@cf/test/model-1"
    reply = "Here you are:\n" + json.dumps([
        {"format": "fill_blank", "concept": "p-photo", "prompt": "Plants make glucose by ___.",
         "answers": ["photosynthesis"], "difficulty": 4},
        {"format": "fill_blank", "concept": "p-elsewhere", "prompt": "x ___", "answers": ["y"]},  # not its concept
        {"format": "flashcard", "concept": "p-photo", "front": "f", "back": "b"},                # not its kind
        {"format": "fill_blank", "concept": "p-photo", "prompt": "no gap", "answers": ["y"]}])   # not valid
    real = host.env.AI
    host.env.AI = FakeAI(reply)
    try:
        r = await client.post(f"/api/activities/{a['id']}/drafts", json={"text": TEXT}, headers=teacher(host))
        assert r.status_code == 201, r.text
        assert r.json()["provider"] == "workers-ai" and r.json()["model"] == "@cf/test/model-1"
        assert [i["prompt"] for i in r.json()["items"]] == ["Plants make glucose by ___."]
        assert host.env.AI.calls[0][0] == "@cf/test/model-1"
        host.env.AI = FakeAI("I cannot help with that.")
        r = await client.post(f"/api/activities/{a['id']}/drafts", json={"text": TEXT + " More."},
                              headers=teacher(host))
        assert r.status_code == 502 and "usable" in r.json()["detail"]
        host.env.AI = FakeAI(RuntimeError("model overloaded"))
        r = await client.post(f"/api/activities/{a['id']}/drafts", json={"text": TEXT + " Other."},
                              headers=teacher(host))
        assert r.status_code == 502
    finally:
        host.env.AI = real
    assert rows(host, "SELECT count(*) FROM generated_content") == [(1,)]


async def test_admin_ai_settings_refuse_unknown_tenants_and_providers(host, client):
    r = await client.get("/admin/tenants/00000000-0000-4000-8000-000000000000/ai-settings/drafting", headers=ADMIN)
    assert r.status_code == 404
    default = await client.get(f"/admin/tenants/{TENANT_B}/ai-settings/drafting", headers=ADMIN)
    assert default.json()["provider"] is None and default.json()["default_provider"] == "offline"
    bad = await client.put(f"/admin/tenants/{TENANT_B}/ai-settings/drafting", headers=ADMIN,
                           json={"provider": "gpt", "model": "x"})
    assert bad.status_code == 422


def test_the_provider_follows_the_setting_then_the_worker_default():
    class Env:
        DRAFTING_PROVIDER = "workers-ai"
        AI = FakeAI("[]")

    assert providers.provider_for(Env(), "offline", None).name == "offline"
    assert providers.provider_for(Env(), None, None).model == providers.DEFAULT_WORKERS_AI_MODEL
    Env.AI = None
    with pytest.raises(providers.DraftingError):
        providers.provider_for(Env(), None, None)
    assert providers.parse_reply("no json here", "fill_blank", [("a", "A")]) == []
    assert providers.parse_reply("[not json]", "fill_blank", [("a", "A")]) == []


async def test_the_nightly_sweep_asks_every_activity_with_a_waiting_grade_to_send_it(host, client):
    await course(client, host)
    a = await activity(host)
    await import_items(client, host, [fill_item()])
    await launch_learner(host)
    item = (await next_item(client, host, a["id"])).json()["item"]
    await answer(client, host, a["id"], item["item_id"], response="4")
    await Database(host.env).run(scope_of().update("activity_progress", {"sync_status": "pending", "score": 40.0},
                                                   {"activity_id": a["id"]}, increments={"score_version": 1}))
    assert await gradebook.sweep(host.env) == 1
    await host.alarms_idle()
    # The test activity's platform is not registered: the send fails for good and says why.
    ((status, attempts, error, next_at),) = rows(host, "SELECT sync_status, sync_attempts, sync_error, next_sync_at "
                                                       "FROM activity_progress")
    assert status == "failed" and attempts == 1 and "registration" in error and next_at is None


async def test_a_grade_is_never_sent_for_another_course(host, client):
    await course(client, host)
    a = await activity(host)
    await launch_learner(host)
    await launch_learner(host, user="learner-9", context="course-9")
    learner = rows(host, "SELECT id FROM learner_profiles WHERE lti_user_id = 'learner-9'")[0][0]
    await Database(host.env).run(scope_of().insert("activity_progress", {
        "id": "p-foreign", "activity_id": a["id"], "learner_id": learner, "course_context": "course-9",
        "lti_user_id": "learner-9", "score": 90.0, "score_version": 1, "sync_status": "pending"}))
    again = await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 0)
    assert again is None
    assert rows(host, "SELECT sync_status, sync_error FROM activity_progress") == \
        [("failed", "this progress belongs to another course")]


async def test_an_ungraded_activity_sends_nothing(host, client):
    await course(client, host)
    a = await activity(host, graded=False)
    await import_items(client, host, [fill_item()])
    await launch_learner(host)
    item = (await next_item(client, host, a["id"])).json()["item"]
    body = (await answer(client, host, a["id"], item["item_id"], response="4")).json()
    assert body["progress"]["grade"]["status"] == "not_graded"
    assert await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 0) is None


async def test_backoff_doubles_up_to_six_hours():
    assert [gradebook.backoff_s(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert gradebook.backoff_s(20) == 6 * 3600


class _Storage:
    def __init__(self):
        self.values, self.alarm = {}, None

    async def put(self, k, v):
        self.values[k] = v

    async def get(self, k):
        return self.values.get(k)

    async def getAlarm(self):
        return self.alarm

    async def setAlarm(self, ms):
        self.alarm = ms


class _Ctx:
    def __init__(self):
        self.storage = _Storage()


class _Env:
    class CLOCK:
        @staticmethod
        def now():
            return 1000.0


async def test_the_grade_sync_object_keeps_the_earliest_alarm_and_looks_again_when_d1_is_down(monkeypatch):
    obj = GradeSync()
    obj.ctx, obj.env = _Ctx(), _Env()
    assert (await obj.schedule("t", "D1_PRIMARY", "a", 5000))["alarm_at"] == 1_005_000
    assert (await obj.schedule("t", "D1_PRIMARY", "a", 0))["alarm_at"] == 1_000_000
    assert (await obj.schedule("t", "D1_PRIMARY", "a", 9000))["alarm_at"] == 1_000_000
    from db.database import DataUnavailable

    async def down(*args):
        raise DataUnavailable("D1 is down")

    monkeypatch.setattr(gradebook, "sync_activity", down)
    obj.ctx.storage.alarm = None
    await obj.alarm()
    assert obj.ctx.storage.alarm == 1_000_000 + gradebook.D1_RETRY_MS
    empty = GradeSync()
    empty.ctx, empty.env = _Ctx(), _Env()
    await empty.alarm()  # never scheduled: nothing to do
    assert empty.ctx.storage.alarm is None
