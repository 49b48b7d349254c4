"""Over real HTTP (uvicorn on loopback, as a browser sees it): the reply arrives as a
stream of events while it is written; a client that disconnects mid-reply and comes back
with Last-Event-ID gets the rest, and the model was asked once."""

import json

import httpx

from devhost.bindings._common import Fault
from tests.chat.helpers import ADMIN, seed_learner
from tests.conftest import TENANT_A, auth


def _frames(lines):
    event = {}
    for line in lines:
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            event[key] = json.loads(value) if key == "data" else value


def test_a_reply_streams_and_a_reconnect_gets_the_rest_without_a_second_model_call(http_host):
    import asyncio

    host = http_host.host
    asyncio.run(seed_learner(host, TENANT_A, "learner-1"))  # the server is idle meanwhile
    url = http_host.url
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.put("/api/institution/chat/settings", json={"provider": "workers-ai"},
                          headers=auth(host, user="admin-1", roles=[ADMIN])).status_code == 200
        conversation = client.post("/api/chat/conversations", json={}, headers=auth(host)).json()
        # Each read of the model's stream takes a while: the reply is still being written
        # when the client goes away.
        host.faults.set("AI", Fault(mode="latency", latency_ms=30, ops=("stream",)))
        received, last_id = "", None
        with client.stream("POST", f"/api/chat/conversations/{conversation['id']}/messages",
                           json={"content": "Explain momentum to me"},
                           headers={**auth(host), "Accept": "text/event-stream"}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            kinds = []
            for event in _frames(r.iter_lines()):
                kinds.append(event["event"])
                if event["event"] == "delta":
                    received += event["data"]["text"]
                    last_id = event["id"]
                    if len(received) > 15:
                        break  # the tab is closed mid-reply
            assert kinds[0] == "stored" and "done" not in kinds
        with client.stream("GET", f"/api/chat/conversations/{conversation['id']}/stream",
                           headers={**auth(host), "Last-Event-ID": last_id}) as r:
            events = list(_frames(r.iter_lines()))
        host.faults.clear()
    done = events[-1]
    assert done["event"] == "done" and done["data"]["reply"]["status"] == "complete"
    rest = "".join(e["data"]["text"] for e in events if e["event"] == "delta")
    assert received + rest == done["data"]["reply"]["content"]
    assert len(host.env.AI.calls) == 1


def test_a_client_gone_before_the_first_token_gets_the_whole_reply_on_its_return(http_host):
    import asyncio

    host = http_host.host
    asyncio.run(seed_learner(host, TENANT_A, "learner-1"))  # the server is idle meanwhile
    with httpx.Client(base_url=http_host.url, timeout=30) as client:
        assert client.put("/api/institution/chat/settings", json={"provider": "workers-ai"},
                          headers=auth(host, user="admin-1", roles=[ADMIN])).status_code == 200
        conversation = client.post("/api/chat/conversations", json={}, headers=auth(host)).json()
        # the model is slow to start: the client leaves as soon as its message is stored
        host.faults.set("AI", Fault(mode="latency", latency_ms=200, ops=("stream",)))
        with client.stream("POST", f"/api/chat/conversations/{conversation['id']}/messages",
                           json={"content": "What is inertia?"},
                           headers={**auth(host), "Accept": "text/event-stream"}) as r:
            first = next(_frames(r.iter_lines()))
            assert first["event"] == "stored"
            reply_seq = first["data"]["reply_seq"]
        # it comes back without a Last-Event-ID (nothing of the reply was seen): the latest
        # reply from its start, streamed as it is written, once
        with client.stream("GET", f"/api/chat/conversations/{conversation['id']}/stream",
                           headers=auth(host)) as r:
            assert r.status_code == 200
            events = list(_frames(r.iter_lines()))
        host.faults.clear()
    done = events[-1]
    assert done["event"] == "done" and done["data"]["reply"]["status"] == "complete"
    assert done["data"]["reply"]["seq"] == reply_seq
    text = "".join(e["data"]["text"] for e in events if e["event"] == "delta")
    assert text == done["data"]["reply"]["content"] and text
    assert len(host.env.AI.calls) == 1
