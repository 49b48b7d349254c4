"""The ChatConversation object: history across restarts, a reply never generated twice,
sends answered in order, provider failures, bounded prompts and rows for long
conversations, and the write-through to D1 (in order, idempotent, retried)."""

import asyncio
import json

import httpx

from devhost.bindings._common import Fault
from devhost.clock import ManualClock
from tests.chat.helpers import d1, sealed, say, seed_learner, settings, start, stub
from tests.conftest import TENANT_A, auth, make_host


def _client(host) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=host, raise_app_exceptions=False),
                             base_url="http://testserver")


async def test_history_survives_a_restart_of_the_local_host(tmp_path):
    host = await make_host(tmp_path / "state")
    await seed_learner(host, TENANT_A, "learner-1")
    async with _client(host) as client:
        conversation = await start(client, host, concept="Fractions")
        for text in ("What is a fraction?", "Is 1/2 bigger than 1/3?"):
            assert (await say(client, host, conversation["id"], text)).status_code == 200
        before = (await client.get(f"/api/chat/conversations/{conversation['id']}", headers=auth(host))).json()
    await host.aclose()

    host = await make_host(tmp_path / "state")  # same state directory: a restart
    async with _client(host) as client:
        after = (await client.get(f"/api/chat/conversations/{conversation['id']}", headers=auth(host))).json()
        assert after["messages"] == before["messages"] and len(after["messages"]) == 4
        assert [m["role"] for m in after["messages"]] == ["user", "assistant", "user", "assistant"]
        third = await say(client, host, conversation["id"], "Why is 1/2 bigger?")
        assert third.json()["reply"]["seq"] == 6
    assert [r[0] for r in d1(host, "SELECT seq FROM chat_messages WHERE conversation_id = ? ORDER BY seq",
                             conversation["id"])] == [1, 2, 3, 4, 5, 6]
    await host.aclose()


async def test_a_restart_mid_reply_resumes_from_storage_without_a_second_model_call(tmp_path):
    host = await make_host(tmp_path / "state")
    await seed_learner(host, TENANT_A, "learner-1")
    async with _client(host) as client:
        await settings(client, host, provider="workers-ai")
        conversation = await start(client, host)
    # The model sends six reads, then stalls (a long reply still being written).
    host.faults.set("AI", Fault(mode="latency", latency_ms=600_000, ops=("stream",), after=6))
    learner = d1(host, "SELECT id FROM learner_profiles WHERE lti_user_id = 'learner-1'")[0][0]
    sent = await stub(host, conversation["id"]).send("learner-1", "Explain parabolas please", await _turn(host, learner))
    assert sent["status"] == "ok"
    got, offset = "", 0
    while len(got) < 20:
        r = await stub(host, conversation["id"]).stream_from("learner-1", sent["reply_seq"], offset, 1000)
        for chunk in r["chunks"]:
            got += chunk["text"]
            offset = chunk["start"] + len(chunk["text"])
    calls_before = len(host.env.AI.calls)
    await host.aclose()  # the process goes away mid-reply

    host = await make_host(tmp_path / "state")
    async with _client(host) as client:
        r = await client.get(f"/api/chat/conversations/{conversation['id']}/stream",
                             headers={**auth(host), "Last-Event-ID": f"{sent['reply_seq']}.{offset}"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.text)
        done = events[-1]
        assert done["event"] == "done" and done["data"]["reply"]["status"] == "interrupted"
        rest = "".join(e["data"]["text"] for e in events if e["event"] == "delta")
        assert got + rest == done["data"]["reply"]["content"] and got.startswith("[local AI stand-in")
        assert "cut off" in done["data"]["reply"]["note"]
    assert calls_before == 1 and len(host.env.AI.calls) == 0  # asked once, never again
    usage = d1(host, "SELECT outcome, completion_tokens > 0 FROM chat_usage")
    assert usage == [("interrupted", 1)]  # what was generated is accounted, once
    await host.aclose()


async def _turn(host, learner_id: str, **over) -> dict:
    from chat import service
    from db.database import Database
    from db.system import system_scope

    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    settings_, usage = await service.settings_and_usage(host.env, Database(host.env), scope, "course-1", learner_id)
    return {"page": {}, "learner": {}, "settings": {**settings_, **over}, "usage": usage, "d1_binding": "D1_PRIMARY"}


def _events(text: str) -> list[dict]:
    out = []
    for frame in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line and not line.startswith(":"))
        if "data" in fields:
            out.append({"event": fields.get("event"), "id": fields.get("id"), "data": json.loads(fields["data"])})
    return out


async def test_two_sends_at_once_are_answered_one_after_the_other(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    await settings(client, host, provider="workers-ai")
    conversation = await start(client, host)
    first, second = await asyncio.gather(say(client, host, conversation["id"], "First question?"),
                                         say(client, host, conversation["id"], "Second question?"))
    assert first.status_code == second.status_code == 200
    transcript = (await client.get(f"/api/chat/conversations/{conversation['id']}", headers=auth(host))).json()
    roles = [(m["role"], m["content"][:20]) for m in transcript["messages"]]
    assert [r for r, _ in roles] == ["user", "assistant", "user", "assistant"]
    questions = [m["content"] for m in transcript["messages"] if m["role"] == "user"]
    replies = [m["content"] for m in transcript["messages"] if m["role"] == "assistant"]
    # each reply answers its own question, and the second was asked with the first reply in its prompt
    assert all(q in r for q, r in zip(questions, replies))
    calls = host.env.AI.calls
    assert len(calls) == 2 and replies[0] in [m["content"] for m in calls[1]["inputs"]["messages"]]
    assert {first.json()["reply"]["seq"], second.json()["reply"]["seq"]} == {2, 4}


async def test_a_failing_model_is_retried_with_backoff_then_the_learner_gets_a_fallback(tmp_path):
    host = await make_host(tmp_path / "state", extra_vars={"CHAT_RETRY_BASE_MS": "1"})
    await seed_learner(host, TENANT_A, "learner-1")
    async with _client(host) as client:
        await settings(client, host, provider="workers-ai")
        conversation = await start(client, host)
        host.faults.set("AI", Fault(mode="error", ops=("run",)))
        r = await say(client, host, conversation["id"], "Please help with vectors")
        assert r.status_code == 200
        reply = r.json()["reply"]
        assert reply["role"] == "system" and reply["status"] == "failed"
        assert "after 3 attempts" in reply["content"] and "Your message is saved" in reply["content"]
        assert host.faults.calls["AI"] == 3 and host.env.AI.calls == []
        rows = d1(host, "SELECT role, content, metadata FROM chat_messages WHERE conversation_id = ? ORDER BY seq",
                  conversation["id"])
        assert rows[0][:2] == ("user", "Please help with vectors")  # the learner's message is kept
        meta = json.loads(rows[1][2])
        assert (meta["status"], meta["attempts"]) == ("failed", 3)
        assert d1(host, "SELECT outcome, total_tokens FROM chat_usage") == [("failed", 0)]

        host.faults.set("AI", Fault(mode="error", ops=("run",), times=2))  # fails twice, then answers
        r = await say(client, host, conversation["id"], "Trying again")
        assert r.json()["reply"]["status"] == "complete" and len(host.env.AI.calls) == 1
        detail = d1(host, "SELECT metadata FROM chat_messages WHERE seq = 4 AND conversation_id = ?",
                    conversation["id"])[0][0]
        assert json.loads(detail)["attempts"] == 3
        stats = await stub(host, conversation["id"]).read("learner-1")
        assert stats["messages"][3]["provider"] == "workers-ai"
    await host.aclose()


async def test_a_stream_that_breaks_mid_reply_keeps_what_came_and_is_not_asked_again(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    await settings(client, host, provider="workers-ai")
    conversation = await start(client, host)
    host.faults.set("AI", Fault(mode="unavailable", ops=("stream",), after=4))
    reply = (await say(client, host, conversation["id"], "Tell me about limits")).json()["reply"]
    assert reply["status"] == "interrupted" and reply["content"].startswith("[local AI stand-in")
    assert len(host.env.AI.calls) == 1


async def test_a_thousand_message_conversation_keeps_its_prompt_in_budget_and_its_rows_bounded(host, client):
    learner = (await seed_learner(host, TENANT_A, "learner-1"))["id"]
    await settings(client, host, provider="offline", conversation_tokens=10_000_000, learner_daily_tokens=10_000_000,
                   prompt_budget_tokens=800)
    conversation = await start(client, host, concept="Vectors")
    object_ = stub(host, conversation["id"])
    turn = await _turn(host, learner)
    for i in range(500):
        text = f"Turn {i}: why do Vectors add head to tail? " + "More detail. " * (i % 40)
        sent = await object_.send("learner-1", text, turn)
        assert sent["status"] == "ok", sent
        await sealed(host, conversation["id"], sent["reply_seq"])
    stats = await object_.storage_stats()
    assert stats["messages"] == 1000 and stats["chunks"] == 0 and stats["meta"] <= 4
    assert stats["widest_row_chars"] < 8_000  # no row anywhere near SQLite's limits
    assert stats["summary"]["turns"] >= 480 and stats["summary"]["through_seq"] >= 960
    prompts = [r[0] for r in d1(host, "SELECT prompt_tokens FROM chat_usage")]
    assert len(prompts) == 500 and max(prompts) <= 800
    assert d1(host, "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM chat_messages") == [(1000, 1000, 1, 1000)]
    late = (await client.get(f"/api/chat/conversations/{conversation['id']}?limit=3", headers=auth(host))).json()
    assert [m["seq"] for m in late["messages"]] == [998, 999, 1000] and late["has_more"]


async def test_write_through_replayed_adds_nothing_twice(host, client):
    learner = (await seed_learner(host, TENANT_A, "learner-1"))["id"]
    conversation = await start(client, host)
    for text in ("one?", "two?"):
        await say(client, host, conversation["id"], text)
    before = d1(host, "SELECT id, seq, role, content FROM chat_messages ORDER BY seq")
    usage_before = d1(host, "SELECT id, total_tokens FROM chat_usage ORDER BY id")
    live = next(iter(host.durable_objects["CHAT_CONVERSATIONS"]._live.values()))
    live.state.storage.sql.exec("UPDATE chat_message SET synced = 0")  # as if the acknowledgement was lost
    await live.instance._flush()
    assert d1(host, "SELECT id, seq, role, content FROM chat_messages ORDER BY seq") == before
    assert d1(host, "SELECT id, total_tokens FROM chat_usage ORDER BY id") == usage_before
    assert len(before) == 4 and learner


async def test_a_d1_outage_at_send_refuses_it_and_keeps_nothing(host, client):
    learner = (await seed_learner(host, TENANT_A, "learner-1"))["id"]
    conversation = await start(client, host)
    turn = await _turn(host, learner)
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    result = await stub(host, conversation["id"]).send("learner-1", "hello?", turn)
    host.faults.clear()
    assert result["status"] == "unavailable"
    assert (await stub(host, conversation["id"]).storage_stats())["messages"] == 0
    assert d1(host, "SELECT count(*) FROM chat_messages") == [(0,)]


async def test_a_reply_sealed_during_an_outage_reaches_d1_when_the_alarm_retries(tmp_path):
    host = await make_host(tmp_path / "state", clock=ManualClock())
    learner = (await seed_learner(host, TENANT_A, "learner-1"))["id"]
    async with _client(host) as client:
        conversation = await start(client, host)
    object_ = stub(host, conversation["id"])
    sent = await object_.send("learner-1", "What is a vector?", await _turn(host, learner))
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))  # before the reply is sealed
    reply = await sealed(host, conversation["id"], sent["reply_seq"])
    assert reply["status"] == "complete"
    assert d1(host, "SELECT role FROM chat_messages") == [("user",)]  # the reply is not in D1 yet
    live = next(iter(host.durable_objects["CHAT_CONVERSATIONS"]._live.values()))
    assert await live.state.storage.getAlarm() is not None  # a retry is scheduled
    host.faults.clear()
    await object_.alarm()  # what the platform runs when the alarm is due
    assert d1(host, "SELECT role FROM chat_messages ORDER BY seq") == [("user",), ("assistant",)]
    assert d1(host, "SELECT count(*) FROM chat_usage") == [(1,)]
    await host.aclose()


async def test_unknown_and_foreign_objects_answer_not_found_and_create_nothing(host):
    object_ = stub(host, "no-such-conversation")
    assert await object_.read("learner-1") == {"status": "not_found"}
    assert await object_.stream_from("learner-1", None, 0, 0) == {"status": "not_found"}
    assert await object_.send("learner-1", "hi", {"settings": {}}) == {"status": "not_found"}
    assert await object_.record_grade("learner-1", 1.0, "sent") == {"status": "not_found"}
    assert (await object_.storage_stats())["messages"] == 0
    assert await object_.purge("learner-1") == {"status": "empty"}
