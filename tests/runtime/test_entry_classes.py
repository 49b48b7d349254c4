"""The Durable Objects and the outbound HTTP client as the Worker uses them on the deploy
path: the classes src/entry.py exports, called through env as the SDK hands it over
(RPC conversion both ways), and lti/http.py's retries and failures over entry.py's
transport. Also the OpenAPI document served by the Worker."""

from __future__ import annotations

import asyncio

import pytest

from auth.session import session_from_token
from devhost.runtime import sdk
from lti import http as lti_http
from struggle import service as struggle_service
from tests.struggle.conftest import add_learner


def worker_env(host):
    return sdk()._EnvWrapper(host.runtime.js_env)


async def test_a_chat_conversation_keeps_its_transcript_in_order(host, client):
    """The ChatConversation object through the SDK's env (RPC conversion both ways): the
    learner's message stored and written through, the reply streamed into storage and
    read back sealed, the transcript in order."""
    from tests.api.helpers import seed_learner
    from tests.conftest import TENANT_A, auth

    await seed_learner(host, TENANT_A, "learner-1")
    started = await client.post("/api/chat/conversations", json={"concept": "Derivatives"}, headers=auth(host))
    cid = started.json()["id"]
    env = worker_env(host)
    stub = env.CHAT_CONVERSATIONS.getByName(f"{TENANT_A}:{cid}")
    from chat import limits

    turn = {"page": {"concept": "Derivatives"}, "learner": {"concept": "Derivatives", "prerequisites": []},
            "settings": dict(limits.DEFAULTS), "usage": {"tenant": 0, "course": 0, "learner": 0},
            "d1_binding": "D1_PRIMARY"}
    sent = await stub.send("learner-1", "What is a derivative?", turn)
    assert sent["status"] == "ok" and sent["user"]["seq"] == 1 and sent["reply_seq"] == 2
    reply = await stub.stream_from("learner-1", 2, 0, 5000, True)
    assert reply["done"] and reply["reply"]["status"] == "complete" and reply["reply"]["provider"] == "offline"
    transcript = await stub.read("learner-1")
    assert [(m["seq"], m["role"]) for m in transcript["messages"]] == [(1, "user"), (2, "assistant")]
    assert transcript["messages"][1]["content"] == reply["reply"]["content"]
    assert await stub.read("someone-else") == {"status": "not_found"}


async def test_the_struggle_detector_decides_through_the_sdk(host):
    """The session's StruggleDetector, reached through the SDK's env (D1 and the Durable
    Object namespace as JS objects): answers go in, the decision and its offer come back
    as plain Python, and a second call sees what the first one stored."""
    learner = await add_learner(host)
    env = worker_env(host)
    session = await session_from_token(env, learner.token)
    wrong = {"concept_id": "c1", "credit": 0.0, "response_time_s": 30.0, "misconception": "sign"}
    first = await struggle_service.report_answer(env, session, wrong)
    assert first["assessment"]["state"] != "struggling" and first["intervention"] is None
    second = await struggle_service.report_answer(env, session, wrong)
    assert second["assessment"]["state"] == "struggling"
    assert [r["code"] for r in second["assessment"]["reasons"]][0] == "misconception"
    offer = second["intervention"]
    assert offer["kind"] in ("explanation", "example", "hint") and offer["concept_id"] == "c1"
    assert isinstance(offer["id"], str) and offer["expires_at"] > offer["offered_at"]


async def test_the_openapi_document_names_the_security_of_every_route(client):
    doc = (await client.get("/openapi.json")).json()
    api = [op for path, item in doc["paths"].items() if path.startswith("/api/") for op in item.values()]
    admin = [op for path, item in doc["paths"].items() if path.startswith("/admin/") for op in item.values()]
    assert api and all(op["security"] == [{"session": []}] for op in api)
    assert admin and all(op["security"] == [{"admin": []}] for op in admin)
    assert "ProfilePatch" in doc["components"]["schemas"]
    assert (await client.get("/openapi.json")).json() == doc  # built once, served again


async def test_outbound_http_failures_become_http_errors(host):
    async def never(*args):
        await asyncio.Event().wait()

    async def broken(*args):
        raise ConnectionError("refused")

    saved = lti_http._transport
    try:
        lti_http.install(never)
        with pytest.raises(lti_http.HttpError, match="timed out"):
            await lti_http.request("GET", "https://platform.test/jwks", timeout_s=0.01)
        lti_http.install(broken)
        with pytest.raises(lti_http.HttpError, match="refused"):
            await lti_http.request("GET", "https://platform.test/jwks")
        lti_http.install(None)
        with pytest.raises(lti_http.HttpError, match="no HTTP transport"):
            await lti_http.request("GET", "https://platform.test/jwks")
    finally:
        lti_http.install(saved)


async def test_retries_ride_out_429_and_5xx_and_give_up_with_the_last_answer():
    answers = [lti_http.HttpResponse(429, {"retry-after": "0"}), lti_http.HttpResponse(503),
               lti_http.HttpResponse(200, body=b"{}")]

    async def send():
        return answers.pop(0)

    assert (await lti_http.with_retries(send, attempts=3, base_delay_s=0)).status == 200
    failing = [lti_http.HttpResponse(500), lti_http.HttpResponse(502)]

    async def send_failing():
        return failing.pop(0)

    assert (await lti_http.with_retries(send_failing, attempts=2, base_delay_s=0)).status == 502

    async def unreachable():
        raise lti_http.HttpError("down")

    with pytest.raises(lti_http.HttpError, match="down"):
        await lti_http.with_retries(unreachable, attempts=2, base_delay_s=0)
