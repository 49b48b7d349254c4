"""The Guide's API: conversations reached only by their owner, replies as JSON or
server-sent events and resumed by Last-Event-ID, the message rate, the budgets and the
usage ledger, consent, erasure, export, instructor transcripts, Guide activities and the
graded conversation, struggle signals, and the administrator's settings and usage."""

import json
import sqlite3

import pytest

from devhost.clock import ManualClock
from tests.chat.helpers import ADMIN, d1, say, seed_bank, seed_learner, settings, start, stub
from tests.chat.test_conversation import _client, _events
from tests.conftest import INSTRUCTOR, TENANT_A, TENANT_B, auth, make_host


@pytest.fixture
async def clocked(tmp_path):
    host = await make_host(tmp_path / "state", clock=ManualClock(start=1_767_225_600.0))  # 2026-01-01T00:00Z
    async with _client(host) as client:
        yield host, client
    await host.aclose()


# -- conversations -----------------------------------------------------------------------

async def test_a_learner_starts_talks_lists_reads_and_deletes_a_conversation(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    conversation = await start(client, host, page={"title": "Week 3: Quadratics", "path": "/app"}, concept="Quadratics")
    assert conversation["mode"] == "study" and conversation["page"]["title"] == "Week 3: Quadratics"
    assert conversation["notices"] == ["The offline Guide is answering: no AI model is connected, so it works with "
                                       "guiding questions."]
    r = await say(client, host, conversation["id"], "I don't understand quadratics at all")
    assert r.status_code == 200
    turn = r.json()
    assert turn["user"]["content"] == "I don't understand quadratics at all"
    assert turn["reply"]["role"] == "assistant" and turn["reply"]["provider"] == "offline"
    assert "Quadratics" in turn["reply"]["content"] and turn["reply"]["content"].endswith("?")

    listed = (await client.get("/api/chat/conversations", headers=auth(host))).json()["conversations"]
    assert [(c["id"], c["message_count"], c["title"]) for c in listed] == [
        (conversation["id"], 2, "I don't understand quadratics at all")]
    read = (await client.get(f"/api/chat/conversations/{conversation['id']}", headers=auth(host))).json()
    assert [m["seq"] for m in read["messages"]] == [1, 2] and read["conversation"]["tokens_used"] > 0

    r = await client.delete(f"/api/chat/conversations/{conversation['id']}", headers=auth(host))
    assert r.status_code == 204
    assert (await client.get(f"/api/chat/conversations/{conversation['id']}", headers=auth(host))).status_code == 404
    assert d1(host, "SELECT count(*) FROM chat_messages") == [(0,)]
    assert d1(host, "SELECT count(*), count(conversation_id) FROM chat_usage") == [(1, 0)]  # paid, not personal
    assert (await stub(host, conversation["id"]).storage_stats())["messages"] == 0


async def test_only_the_owner_reaches_a_conversation(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    await seed_learner(host, TENANT_A, "learner-2")
    await seed_learner(host, TENANT_B, "learner-1")
    conversation = await start(client, host)
    cid = conversation["id"]
    for who in (auth(host, user="learner-2"), auth(host, tenant=TENANT_B)):
        assert (await client.get(f"/api/chat/conversations/{cid}", headers=who)).status_code == 404
        assert (await client.get(f"/api/chat/conversations/{cid}/stream", headers=who)).status_code == 404
        r = await client.post(f"/api/chat/conversations/{cid}/messages", json={"content": "hi"}, headers=who)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert (await client.delete(f"/api/chat/conversations/{cid}", headers=who)).status_code == 404
    assert (await client.get("/api/chat/conversations", headers=auth(host, user="learner-2"))).json() == \
        {"conversations": []}
    assert (await stub(host, cid).storage_stats())["messages"] == 0  # nothing reached the object


async def test_the_reply_streams_as_server_sent_events_and_resumes_from_last_event_id(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    conversation = await start(client, host, concept="Vectors")
    r = await say(client, host, conversation["id"], "How do vectors add?", Accept="text/event-stream")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-store"
    events = _events(r.text)
    assert events[0]["event"] == "stored" and events[0]["data"]["user"]["seq"] == 1
    deltas = [e for e in events if e["event"] == "delta"]
    done = events[-1]
    assert len(deltas) > 3 and done["event"] == "done"
    assert "".join(e["data"]["text"] for e in deltas) == done["data"]["reply"]["content"]
    middle = deltas[len(deltas) // 2]
    seq, offset = map(int, middle["id"].split("."))
    resumed = await client.get(f"/api/chat/conversations/{conversation['id']}/stream",
                               headers={**auth(host), "Last-Event-ID": middle["id"]})
    rest = _events(resumed.text)
    assert done["data"]["reply"]["content"][:offset] + "".join(e["data"]["text"] for e in rest if e["event"] == "delta") \
        == done["data"]["reply"]["content"]
    assert rest[-1]["id"] == done["id"]
    whole = await client.get(f"/api/chat/conversations/{conversation['id']}/stream", headers=auth(host))
    assert _events(whole.text)[0]["data"]["text"] == done["data"]["reply"]["content"]  # latest reply from the start
    ignored = await client.get(f"/api/chat/conversations/{conversation['id']}/stream",
                               headers={**auth(host), "Last-Event-ID": "nonsense"})  # not an id we sent: ignored
    assert _events(ignored.text)[0]["data"]["text"] == done["data"]["reply"]["content"]
    too_long = await client.get(f"/api/chat/conversations/{conversation['id']}/stream",
                                headers={**auth(host), "Last-Event-ID": "1" * 41})
    assert too_long.status_code == 422
    unknown = await client.get(f"/api/chat/conversations/{conversation['id']}/stream",
                               headers={**auth(host), "Last-Event-ID": "1.0"})  # a learner message, not a reply
    assert unknown.status_code == 404


async def test_a_conversation_without_replies_has_nothing_to_resume(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    conversation = await start(client, host)
    r = await client.get(f"/api/chat/conversations/{conversation['id']}/stream", headers=auth(host))
    assert r.status_code == 404


async def test_bad_bodies_are_refused_and_change_nothing(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    conversation = await start(client, host)
    for body in ({"content": ""}, {"content": "x" * 5001}, {"content": 3}, {"content": "hi", "extra": 1}, {}):
        r = await client.post(f"/api/chat/conversations/{conversation['id']}/messages", json=body, headers=auth(host))
        assert r.status_code == 422, body
    r = await client.post(f"/api/chat/conversations/{conversation['id']}/messages", json={"content": "   "},
                          headers=auth(host))
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    for body in ({"concept": ""}, {"page": {"title": "x" * 201}}, {"nope": 1}):
        assert (await client.post("/api/chat/conversations", json=body, headers=auth(host))).status_code == 422
    assert (await client.post("/api/chat/conversations", json={"activity_id": "missing"},
                              headers=auth(host))).status_code == 404
    assert d1(host, "SELECT count(*) FROM chat_messages") == [(0,)]
    assert (await client.post("/api/chat/conversations", json={},
                              headers=auth(host, user="nobody"))).status_code == 404  # no profile yet


# -- limits ------------------------------------------------------------------------------

async def test_ten_messages_a_minute_then_429_with_retry_after(clocked):
    host, client = clocked
    await seed_learner(host, TENANT_A, "learner-1")
    first = await start(client, host)
    second = await start(client, host)
    for i in range(10):  # across two conversations: the limit is per learner
        r = await say(client, host, (first, second)[i % 2]["id"], f"question {i}?")
        assert r.status_code == 200, r.text
        host.clock.advance(1)
    refused = await say(client, host, first["id"], "one more?")
    assert refused.status_code == 429 and refused.json()["type"] == "/problems/chat-rate-limit"
    assert refused.headers["retry-after"] == "50"  # the first send leaves the window 60 s after it
    assert d1(host, "SELECT count(*) FROM chat_messages WHERE role = 'user'") == [(10,)]  # not stored
    host.clock.advance(50)
    assert (await say(client, host, first["id"], "now?")).status_code == 200
    other = await seed_learner(host, TENANT_A, "learner-2")
    assert other and (await say(client, host, (await start(client, host, user="learner-2"))["id"], "hi?",
                                user="learner-2")).status_code == 200


async def _until_refused(client, host, conversation_id, user="learner-1", limit=40):
    for i in range(limit):
        host.clock.advance(7)  # under the message rate
        r = await say(client, host, conversation_id, f"Tell me more about vectors, part {i}?", user=user)
        if r.status_code != 200:
            return r, i
    raise AssertionError("never refused")


@pytest.mark.parametrize("budget, limit", [
    ({"conversation_tokens": 2400}, "conversation"),
    ({"tenant_daily_tokens": 2400}, "tenant_day"),
])
async def test_conversation_and_tenant_budgets_are_never_exceeded_and_say_so_in_the_chat(clocked, budget, limit):
    host, client = clocked
    await seed_learner(host, TENANT_A, "learner-1")
    await settings(client, host, prompt_budget_tokens=500, reply_max_tokens=100, **budget)
    conversation = await start(client, host)
    refused, answered = await _until_refused(client, host, conversation["id"])
    assert answered >= 2
    problem = refused.json()
    assert refused.status_code == 429 and problem["type"] == "/problems/chat-budget" and problem["limit"] == limit
    assert "budget" in problem["detail"]
    if limit == "tenant_day":
        assert refused.headers["retry-after"] == str(86_400 - int(host.clock.now()) % 86_400)
        assert "midnight UTC" in problem["detail"]
    else:
        assert "retry-after" not in refused.headers and "new conversation" in problem["detail"]
    spent = d1(host, "SELECT sum(total_tokens), count(*) FROM chat_usage")[0]
    assert spent[0] <= 2400 and spent[1] == answered
    assert d1(host, "SELECT count(*) FROM chat_messages WHERE role = 'user'") == [(answered,)]


async def test_course_and_learner_budgets_are_set_by_the_administrator(clocked):
    host, client = clocked
    learner = await seed_learner(host, TENANT_A, "learner-1")
    await seed_learner(host, TENANT_A, "learner-2")
    admin = auth(host, user="admin-1", roles=[ADMIN])
    await settings(client, host, prompt_budget_tokens=500, reply_max_tokens=100)
    r = await client.put(f"/api/institution/chat/budgets/learners/{learner['id']}", json={"learner_daily_tokens": 1500},
                         headers=admin)
    assert r.status_code == 200 and r.json()["settings"] == {"learner_daily_tokens": 1500}
    assert (await client.put("/api/institution/chat/budgets/learners/not-a-learner", json={}, headers=admin)
            ).status_code == 404
    mine = await start(client, host)
    refused, answered = await _until_refused(client, host, mine["id"])
    assert refused.json()["limit"] == "learner_day" and "You have used today's Guide budget" in refused.json()["detail"]
    theirs = await start(client, host, user="learner-2")  # another learner is not limited by it
    assert (await say(client, host, theirs["id"], "hello?", user="learner-2")).status_code == 200

    r = await client.put("/api/institution/chat/budgets/courses/course-1", json={"course_daily_tokens": 1},
                         headers=admin)
    assert r.status_code == 200
    blocked = await say(client, host, theirs["id"], "again?", user="learner-2")
    assert blocked.status_code == 429 and blocked.json()["limit"] == "course_day"
    r = await client.put("/api/institution/chat/budgets/courses/course-1", json={"course_daily_tokens": None},
                         headers=admin)
    assert r.json()["settings"] == {}  # back to the tenant's default
    assert (await say(client, host, theirs["id"], "again?", user="learner-2")).status_code == 200


# -- privacy -----------------------------------------------------------------------------

async def _withdraw_chat_consent(client, host, user="learner-1"):
    h = auth(host, user=user)
    etag = (await client.get("/api/profile", headers=h)).headers["etag"]
    r = await client.patch("/api/profile", json={"privacy_settings": {"consent": {"ai_chat": False}}},
                           headers={**h, "If-Match": etag})
    assert r.status_code == 200


async def test_a_learner_who_withdrew_chat_consent_gets_no_chat_and_the_panel_says_why(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    conversation = await start(client, host)
    await _withdraw_chat_consent(client, host)
    r = await client.post("/api/chat/conversations", json={}, headers=auth(host))
    assert r.status_code == 403 and r.json()["type"] == "/problems/chat-consent"
    r = await say(client, host, conversation["id"], "hello?")
    assert r.status_code == 403 and "turned off the AI Guide" in r.json()["detail"]
    assert (await stub(host, conversation["id"]).storage_stats())["messages"] == 0 and host.env.AI.calls == []
    availability = (await client.get("/api/chat/availability", headers=auth(host))).json()
    assert availability["available"] is False and "privacy settings" in availability["reason"]
    page = await client.get("/app", params={"ltik": auth(host)["Authorization"][7:]})
    assert 'id="guide-unavailable"' in page.text and "turned off the AI Guide" in page.text
    assert 'id="guide-form"' not in page.text
    # reading and deleting their own conversations stays possible
    assert (await client.get(f"/api/chat/conversations/{conversation['id']}", headers=auth(host))).status_code == 200


async def test_erasure_removes_conversations_from_the_objects_and_d1(host, client):
    learner = await seed_learner(host, TENANT_A, "learner-1")
    other = await seed_learner(host, TENANT_A, "learner-2")
    ids = []
    for _ in range(2):
        conversation = await start(client, host)
        await say(client, host, conversation["id"], "What is a derivative?")
        ids.append(conversation["id"])
    kept = await start(client, host, user="learner-2")
    await say(client, host, kept["id"], "Mine stays?", user="learner-2")
    export = (await client.get("/api/profile/export", headers=auth(host))).json()["tables"]
    assert len(export["chat_conversations"]) == 2 and len(export["chat_messages"]) == 4
    assert len(export["chat_usage"]) == 2

    erased = await client.delete("/api/profile", headers=auth(host))
    assert erased.status_code == 200 and erased.json()["conversations_emptied"] == 2
    assert erased.json()["rows_deleted"]["chat_messages"] == 4
    for cid in ids:
        assert (await stub(host, cid).storage_stats())["messages"] == 0
        assert await stub(host, cid).read("learner-1") == {"status": "not_found"}
    for table in ("chat_conversations", "chat_messages", "chat_settings"):
        assert d1(host, f"SELECT count(*) FROM {table} WHERE learner_id = ?", learner["id"]) == [(0,)], table
    assert d1(host, "SELECT count(*), count(learner_id) FROM chat_usage WHERE learner_id IS NULL OR learner_id = ?",
              learner["id"]) == [(2, 0)]  # the tenant's spend stays, without the person
    assert (await stub(host, kept["id"]).storage_stats())["messages"] == 2  # others untouched
    assert d1(host, "SELECT count(*) FROM chat_messages WHERE learner_id = ?", other["id"]) == [(2,)]


# -- instructors -------------------------------------------------------------------------

async def test_instructors_read_transcripts_only_where_enabled_and_the_learner_was_told(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    await seed_learner(host, TENANT_A, "learner-2")
    teacher = auth(host, user="teacher-1", roles=[INSTRUCTOR])
    before = await start(client, host)  # started while transcripts were off
    assert (await client.get("/api/courses/course-1/chat/transcripts", headers=teacher)).status_code == 403
    await settings(client, host, instructor_transcripts=True)
    told = await start(client, host)
    assert "Your instructor can read this conversation." in told["notices"] and told["instructor_visible"]
    page = await client.get("/app", params={"ltik": auth(host)["Authorization"][7:]})
    assert "Your instructor can read this conversation." in page.text  # shown before any message
    await say(client, host, told["id"], "Is this private?")
    await _hide_from_instructors(client, host, "learner-2")
    hidden = await start(client, host, user="learner-2")
    assert "Your instructor can read this conversation." not in hidden["notices"]

    listed = (await client.get("/api/courses/course-1/chat/transcripts", headers=teacher)).json()
    assert [(c["id"], c["learner"]) for c in listed["conversations"]] == [(told["id"], "learner-1")]
    transcript = await client.get(f"/api/courses/course-1/chat/transcripts/{told['id']}", headers=teacher)
    assert transcript.status_code == 200 and transcript.json()["messages"][0]["content"] == "Is this private?"
    for cid in (before["id"], hidden["id"]):
        assert (await client.get(f"/api/courses/course-1/chat/transcripts/{cid}", headers=teacher)).status_code == 404
    assert (await client.get("/api/courses/course-1/chat/transcripts", headers=auth(host))).status_code == 403
    assert (await client.get("/api/courses/course-2/chat/transcripts", headers=teacher)).status_code == 404


async def _hide_from_instructors(client, host, user):
    h = auth(host, user=user)
    etag = (await client.get("/api/profile", headers=h)).headers["etag"]
    await client.patch("/api/profile", json={"privacy_settings": {"consent": {"instructor_visibility": False}}},
                       headers={**h, "If-Match": etag})


async def test_a_graded_guide_conversation_judges_explanations_and_keeps_a_mastery_score(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    await seed_bank(host)
    teacher = auth(host, user="teacher-1", roles=[INSTRUCTOR])
    r = await client.post("/api/courses/course-1/guide-activities", headers=teacher, json={
        "title": "Explain photosynthesis", "concepts": ["Photosynthesis", "Respiration"], "mastery_threshold": 70})
    assert r.status_code == 201, r.text
    activity = r.json()
    assert activity["assessment_type"] == "chat" and activity["guide_enabled"]
    listed = (await client.get("/api/courses/course-1/guide-activities", headers=teacher)).json()["activities"]
    assert [a["id"] for a in listed] == [activity["id"]]
    assert (await client.post("/api/courses/course-1/guide-activities", headers=auth(host),
                              json={"title": "x", "concepts": ["y"]})).status_code == 403

    conversation = await start(client, host, activity_id=activity["id"])
    assert conversation["mode"] == "graded" and conversation["title"] == "Explain photosynthesis"
    assert any("graded" in n for n in conversation["notices"])
    again = await client.post("/api/chat/conversations", json={"activity_id": activity["id"]}, headers=auth(host))
    assert again.status_code == 200 and again.json()["id"] == conversation["id"]  # one per learner and activity

    r = await say(client, host, conversation["id"], "Chlorophyll absorbs light energy and the plant makes glucose from "
                                                     "carbon dioxide and water.")
    turn = r.json()
    assert turn["graded"]["mastery_score"] == 50.0 and turn["graded"]["status"] == "active"
    assert turn["graded"]["grade_outcome"] == "no_launch"  # no course launch known: nothing to send yet
    assert "discriminant" not in turn["reply"]["content"]
    r = await say(client, host, conversation["id"], "Respiration happens in the mitochondria where glucose is broken "
                                                     "down to release energy as ATP.")
    assert r.json()["graded"]["mastery_score"] == 100.0 and r.json()["graded"]["status"] == "completed"
    row = d1(host, "SELECT mastery_score, status, completed_at IS NOT NULL FROM assessment_conversations WHERE id = ?",
             conversation["id"])
    assert row == [(100.0, "completed", 1)]
    assert d1(host, "SELECT count(*) FROM assessment_messages WHERE conversation_id = ?", conversation["id"]) == [(5,)]
    opening = d1(host, "SELECT role, content FROM chat_messages WHERE seq = 1 AND conversation_id = ?", conversation["id"])
    assert opening == [("assistant", "Let's begin with Photosynthesis. Explain Photosynthesis in your own words: what "
                                     "is it, and why does it work?")]
    judged = json.loads(d1(host, "SELECT metadata FROM chat_messages WHERE seq = 2 AND conversation_id = ?",
                           conversation["id"])[0][0])["judgments"]
    assert {j["concept"]: j["score"] for j in judged} == {"Photosynthesis": 1.0, "Respiration": 0.0}
    # a graded conversation is part of the assessment record
    assert (await client.delete(f"/api/chat/conversations/{conversation['id']}", headers=auth(host))).status_code == 409

    page = await client.get(f"/app/guide/{activity['id']}", params={"ltik": auth(host)["Authorization"][7:]})
    assert page.status_code == 200 and 'id="mastery-meter"' in page.text and 'value="100"' in page.text
    staff_page = await client.get(f"/app/guide/{activity['id']}",
                                  params={"ltik": teacher["Authorization"][7:]})
    assert "<strong>1</strong> learner(s) started, <strong>1</strong>" in staff_page.text
    assert (await client.get("/app/guide/nope", params={"ltik": auth(host)["Authorization"][7:]})).status_code == 404


async def test_instructors_turn_the_guide_off_per_activity(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    teacher = auth(host, user="teacher-1", roles=[INSTRUCTOR])
    activity = (await client.post("/api/courses/course-1/guide-activities", headers=teacher,
                                  json={"title": "Talk it through", "concepts": ["Limits"]})).json()
    conversation = await start(client, host, activity_id=activity["id"])
    r = await client.put(f"/api/courses/course-1/activities/{activity['id']}/guide", json={"enabled": False},
                         headers=teacher)
    assert r.status_code == 200 and r.json()["guide_enabled"] is False
    r = await say(client, host, conversation["id"], "hello?")
    assert r.status_code == 403 and r.json()["type"] == "/problems/guide-off"
    r = await client.post("/api/chat/conversations", json={"activity_id": activity["id"]}, headers=auth(host))
    assert r.status_code == 403
    availability = (await client.get(f"/api/chat/availability?activity_id={activity['id']}", headers=auth(host))).json()
    assert availability == {**availability, "available": False, "reason": "Your instructor turned the Guide off for "
                                                                         "this activity."}
    assert (await client.put(f"/api/courses/course-2/activities/{activity['id']}/guide", json={"enabled": True},
                             headers=teacher)).status_code == 404
    assert (await client.put("/api/courses/course-1/activities/missing/guide", json={"enabled": True},
                             headers=teacher)).status_code == 404


# -- struggle detection ------------------------------------------------------------------

async def _learning_session(host, user: str) -> str:
    """The id of the learner's learning session (seed_learner opens one, as a launch does)."""
    return d1(host, "SELECT s.id FROM learning_sessions s JOIN learner_profiles p ON p.id = s.learner_id "
                    "WHERE p.lti_user_id = ?", user)[0][0]


async def test_what_a_learner_tells_the_guide_reaches_their_struggle_detector(host, client):
    # given a learner in a learning session, talking to the Guide about factoring
    from struggle.service import object_name

    await seed_learner(host, TENANT_A, "learner-1")
    session_id = await _learning_session(host, "learner-1")
    conversation = await start(client, host, concept="Factoring")
    h = auth(host, learning_session_id=session_id)
    detector = host.env.STRUGGLE_DETECTOR.getByName(object_name(TENANT_A, session_id))

    # when they ask about it once, nothing worries the detector yet: the message counts as help asked
    r = await client.post(f"/api/chat/conversations/{conversation['id']}/messages",
                          json={"content": "What is factoring?"}, headers=h)
    assert r.status_code == 200, r.text
    stats = await detector.stats()
    assert stats["bound"] and stats["counters"]["signals.chat"] == 1 and stats["last"]["reasons"] == []

    # when they say they are lost and keep asking about the same concept
    for text in ("I'm confused, how does factoring work?", "Why does factoring work? I still don't get it"):
        r = await client.post(f"/api/chat/conversations/{conversation['id']}/messages", json={"content": text},
                              headers=h)
        assert r.status_code == 200, r.text

    # then the detector holds both reasons with the conversation as evidence, and the session is struggling
    last = (await detector.stats())["last"]
    reasons = {r["code"]: r for r in last["reasons"]}
    assert set(reasons) == {"low_confidence", "help_request"} and last["state"] == "struggling"
    assert reasons["low_confidence"]["evidence"] == {"source": "chat", "expressions": 2, "concept": "Factoring",
                                                     "conversation_id": conversation["id"]}
    assert reasons["help_request"]["evidence"]["questions"] == 3
    stats = await detector.stats()
    assert stats["offers"] == []  # no offer inside the chat: the learner is with the Guide already
    # and the instructor's record of it reaches D1
    assert (await detector.flush_now())["status"] == "ok"
    events = d1(host, "SELECT event_type, session_id, json_extract(signals, '$.source') FROM struggle_events")
    assert events == [("low_confidence", session_id, "chat")]
    assert d1(host, "SELECT count(*) FROM intervention_logs") == [(0,)]


async def test_a_learner_without_analytics_consent_is_not_assessed_from_the_chat(host, client):
    learner = await seed_learner(host, TENANT_A, "learner-1")
    d1_write = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    with d1_write:
        d1_write.execute("UPDATE learner_profiles SET privacy_settings = ? WHERE id = ?",
                         (json.dumps({"consent": {"analytics": False}}), learner["id"]))
    d1_write.close()
    session_id = await _learning_session(host, "learner-1")
    conversation = await start(client, host, concept="Factoring")
    r = await client.post(f"/api/chat/conversations/{conversation['id']}/messages",
                          json={"content": "I'm totally lost with factoring"},
                          headers=auth(host, learning_session_id=session_id))
    assert r.status_code == 200, r.text  # the Guide answers...
    from struggle.service import object_name

    stats = await host.env.STRUGGLE_DETECTOR.getByName(object_name(TENANT_A, session_id)).stats()
    assert not stats["bound"] and stats["signals_held"] == 0  # ...and nothing of it reaches the detector


# -- the administrator -------------------------------------------------------------------

async def test_the_administrator_chooses_the_model_and_sees_usage(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    admin = auth(host, user="admin-1", roles=[ADMIN])
    defaults = (await client.get("/api/institution/chat/settings", headers=admin)).json()
    assert defaults["stored"] == {} and defaults["effective"]["model"] == "@cf/meta/llama-3.1-8b-instruct"
    view = await settings(client, host, provider="workers-ai", model="@cf/mistral/mistral-7b-instruct-v0.1",
                          prompt_cost_per_1k=0.5, completion_cost_per_1k=2.0)
    assert view["effective"]["model"] == "@cf/mistral/mistral-7b-instruct-v0.1"
    conversation = await start(client, host)
    await say(client, host, conversation["id"], "What is momentum?")
    assert host.env.AI.calls[0]["model"] == "@cf/mistral/mistral-7b-instruct-v0.1"
    usage = (await client.get("/api/institution/chat/usage?days=7", headers=admin)).json()
    assert usage["turns"] == 1 and usage["by_model"][0]["model"] == "@cf/mistral/mistral-7b-instruct-v0.1"
    row = usage["by_day"][0]
    assert row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"] > 0
    assert row["cost_units"] == pytest.approx((row["prompt_tokens"] * 0.5 + row["completion_tokens"] * 2.0) / 1000)
    assert usage["by_course"][0]["course_context"] == "course-1"
    assert usage["today"]["remaining"] == usage["today"]["tenant_daily_tokens"] - row["total_tokens"]
    for path in ("/api/institution/chat/settings", "/api/institution/chat/usage"):
        assert (await client.get(path, headers=auth(host))).status_code == 403
    assert (await client.put("/api/institution/chat/settings", json={"provider": "gpt"}, headers=admin)
            ).status_code == 422
    back = await settings(client, host, model=None)
    assert "model" not in back["stored"] and back["effective"]["model"] == "@cf/meta/llama-3.1-8b-instruct"
