"""The deploy path, executed locally: requests reach the app through a Worker entrypoint
and the real SDK's ASGI bridge (workers-runtime-sdk), with the scope Workers builds, the
body read first, lifespan around each request, repeated Set-Cookie, streaming, null-body
statuses and exceptions before or after the response started behaving as on Cloudflare.
A small ASGI app behind a WorkerEntrypoint drives each path; the real app's own run of
the same path is the rest of the suite (every end-to-end test goes through it)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest

from devhost.host import ExecutionContext
from devhost.runtime import LocalRuntime, sdk, serve_http


def worker_for(app, env_values: dict | None = None) -> tuple[LocalRuntime, object]:
    """A runtime whose Default entrypoint serves `app` through the SDK's asgi.fetch, as
    src/entry.py serves the real app; and the ASGI callable the local host serves."""
    workers = sdk()
    import asgi

    class Default(workers.WorkerEntrypoint):
        async def fetch(self, request):
            return await asgi.fetch(app, request, self.env, self.ctx)

    runtime = LocalRuntime(SimpleNamespace(Default=Default), env_values or {}, ExecutionContext())

    async def host(scope, receive, send):
        await serve_http(runtime, scope, receive, send)

    return runtime, host


class Recorder:
    """An ASGI app that records what it sees and answers per path."""

    def __init__(self) -> None:
        self.scopes: list[dict] = []
        self.bodies: list[bytes] = []
        self.lifespan: list[str] = []
        self.log: list[str] = []
        self.first_chunk_seen = asyncio.Event()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.lifespan.append("startup")
                    scope["state"]["opened_by"] = "lifespan"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.lifespan.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        self.log.append("app started")
        self.scopes.append(scope)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        path = scope["path"]
        if path == "/cookies":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"set-cookie", b"a=1; Path=/; HttpOnly"), (b"set-cookie", b"b=2; Path=/"),
                                    (b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"two cookies"})
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"one,", "more_body": True})
            await self.first_chunk_seen.wait()  # the client has the first chunk before the app goes on
            await send({"type": "http.response.body", "body": b"two,", "more_body": True})
            await send({"type": "http.response.body", "body": b"three"})
        elif path in ("/204", "/304"):
            await send({"type": "http.response.start", "status": int(path[1:]), "headers": [(b"etag", b'"v1"')]})
            await send({"type": "http.response.body", "body": b"ignored by a null-body status"})
        elif path == "/raise-before":
            raise RuntimeError("before the response")
        elif path == "/raise-after":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            raise RuntimeError("after the response started")
        else:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"ok"})


async def drive(host, path="/", method="GET", headers=(), chunks=(b"",), client=("203.0.113.9", 50000),
                on_send=None):
    """Calls the host as an ASGI server would; returns (start, body chunks, log)."""
    log: list[str] = []
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    raw, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "https",
             "path": raw, "raw_path": raw.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"tool.example.edu"), *[(k.encode(), v.encode()) for k, v in headers]],
             "client": client, "server": ("10.0.0.1", 443)}
    sent: list[dict] = []

    async def receive():
        if incoming:
            message = incoming.pop(0)
            log.append(f"host read {len(message['body'])} bytes")
            return message
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)
        if on_send is not None:
            on_send(message)

    await host(scope, receive, send)
    start = sent[0]
    return start, [m.get("body", b"") for m in sent[1:]], log


async def test_the_app_sees_the_scope_workers_builds():
    app = Recorder()
    runtime, host = worker_for(app, {"GREETING": "hello"})
    start, body, _ = await drive(host, "/a%20b/c?x=1&y=%C3%A9", headers=[("x-dup", "a"), ("X-Dup", "b")])
    assert start["status"] == 200 and b"".join(body) == b"ok"
    scope = app.scopes[0]
    # Workers builds no client/server entries: the address is in CF-Connecting-IP.
    assert "client" not in scope and "server" not in scope
    headers = dict(scope["headers"])
    assert headers[b"cf-connecting-ip"] == b"203.0.113.9"
    assert headers[b"x-dup"] == b"a, b"  # repeated request headers arrive joined (preserve-commas flag)
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == ("/a b/c", b"/a%20b/c", b"x=1&y=%C3%A9")
    assert scope["scheme"] == "https" and scope["method"] == "GET"
    # env is the SDK's wrapper over the runtime's env object.
    assert type(scope["env"]).__name__ == "_EnvWrapper" and scope["env"].GREETING == "hello"
    assert scope["state"] == {"opened_by": "lifespan"}


async def test_a_client_named_address_is_kept_as_wrangler_dev_keeps_it():
    app = Recorder()
    _, host = worker_for(app)
    await drive(host, headers=[("CF-Connecting-IP", "198.51.100.4")])
    assert dict(app.scopes[0]["headers"])[b"cf-connecting-ip"] == b"198.51.100.4"


async def test_lifespan_runs_around_every_request():
    app = Recorder()
    _, host = worker_for(app)
    await drive(host)
    await drive(host)
    assert app.lifespan == ["startup", "shutdown", "startup", "shutdown"]


async def test_the_whole_body_is_read_before_the_app_starts():
    app = Recorder()
    _, host = worker_for(app)
    start, _, log = await drive(host, "/upload", method="POST", chunks=[b"first,", b"second,", b"third"])
    assert start["status"] == 200
    assert log + app.log == ["host read 6 bytes", "host read 7 bytes", "host read 5 bytes", "app started"]
    assert app.bodies == [b"first,second,third"]


async def test_repeated_set_cookie_headers_reach_the_client_apart():
    app = Recorder()
    _, host = worker_for(app)
    start, body, _ = await drive(host, "/cookies")
    cookies = [v for k, v in start["headers"] if k == b"set-cookie"]
    assert cookies == [b"a=1; Path=/; HttpOnly", b"b=2; Path=/"]
    assert b"".join(body) == b"two cookies"


async def test_a_streamed_response_reaches_the_client_while_the_app_still_runs():
    app = Recorder()
    _, host = worker_for(app)
    chunks_seen: list[bytes] = []

    def on_send(message):
        if message["type"] == "http.response.body" and message.get("body"):
            chunks_seen.append(message["body"])
            app.first_chunk_seen.set()

    start, body, _ = await asyncio.wait_for(drive(host, "/stream", on_send=on_send), 10)
    assert start["status"] == 200
    assert chunks_seen == [b"one,", b"two,", b"three"]  # three writes, three chunks, in order
    assert b"".join(body) == b"one,two,three"


@pytest.mark.parametrize("status", [204, 304])
async def test_a_null_body_status_is_answered_without_a_body(status):
    app = Recorder()
    _, host = worker_for(app)
    start, body, _ = await drive(host, f"/{status}")
    assert start["status"] == status and b"".join(body) == b""
    assert dict(start["headers"])[b"etag"] == b'"v1"'


async def test_an_exception_before_the_response_started_is_a_500_from_the_runtime():
    app = Recorder()
    _, host = worker_for(app)
    start, body, _ = await drive(host, "/raise-before")
    assert start["status"] == 500 and b"".join(body) == b"Worker threw exception"


async def test_an_exception_after_the_response_started_ends_the_body_it_had_begun():
    app = Recorder()
    runtime, host = worker_for(app)
    start, body, _ = await asyncio.wait_for(drive(host, "/raise-after"), 10)
    assert start["status"] == 200 and b"".join(body) == b"partial"
    await runtime.host_ctx.drain()  # the SDK finishes the request in waitUntil


async def test_the_bridge_serves_real_http_too():
    """The same path under uvicorn: a client over loopback gets both cookies."""
    from tests.conftest import LoopbackServer

    app = Recorder()
    _, host = worker_for(app)
    with LoopbackServer(host) as server:
        async with httpx.AsyncClient() as client:
            r = await client.get(server.url + "/cookies")
    assert r.status_code == 200 and r.headers.get_list("set-cookie") == ["a=1; Path=/; HttpOnly", "b=2; Path=/"]
