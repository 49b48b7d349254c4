"""Shared fixtures: a local host on a fresh state directory (migrations applied, two
tenants registered), an in-process client, a real HTTP server on loopback, tokens."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from devhost.__main__ import register_tenant
from devhost.host import LocalHost

ROOT = Path(__file__).resolve().parent.parent
TENANT_A = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
TENANT_B = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
from devhost.__main__ import new_tool_key_set

DEV_VARS = {"SESSION_SIGNING_KEY": "k" * 48, "ADMIN_API_SECRET": "s" * 48,
            "TOOL_PRIVATE_KEYS": new_tool_key_set(),
            # Slow-query alerts only where a test sets the threshold itself: a loaded
            # machine must not turn setup queries into alerts other tests count.
            "SLOW_QUERY_MS": "60000",
            # The test platforms serve plain http on loopback, as the local host's demo LMS does.
            "ALLOW_HTTP_LOOPBACK": "true",
            # Practice drafts come from the deterministic offline drafter (the AI binding is a stand-in).
            "DRAFTING_PROVIDER": "offline"}
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


async def make_host(state_root: Path, extra_vars: dict | None = None, **kwargs) -> LocalHost:
    host = LocalHost(ROOT, state_root=state_root, dev_vars={**DEV_VARS, **(extra_vars or {})}, **kwargs)
    host.migrate()
    await register_tenant(host, TENANT_A, "University A")
    await register_tenant(host, TENANT_B, "University B")
    await host.start()
    return host


@pytest.fixture
async def host(tmp_path):
    h = await make_host(tmp_path / "state")
    yield h
    await h.aclose()


@pytest.fixture
async def client(host):
    transport = httpx.ASGITransport(app=host, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def token(host, tenant=TENANT_A, user="learner-1", context="course-1", roles=(LEARNER,), **kw) -> str:
    from auth.session import mint_session_token

    return mint_session_token(host.env, tenant_id=tenant, lti_user_id=user, context_id=context,
                              roles=list(roles), **kw)


def auth(host, **kw) -> dict:
    return {"Authorization": f"Bearer {token(host, **kw)}"}


def bound_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port. The socket itself is handed to
    the server, so no other process can take the port between choosing and serving."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    return s


class LoopbackServer:
    """Serves an ASGI app with uvicorn on 127.0.0.1 in a thread with its own loop."""

    def __init__(self, app) -> None:
        self.socket = bound_socket()
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@contextlib.contextmanager
def loopback_host(state_root: Path, **host_kwargs):
    """A local host served over real HTTP on loopback (its own thread and event loop)."""
    loop = asyncio.new_event_loop()
    host = loop.run_until_complete(make_host(state_root, **host_kwargs))
    try:
        with LoopbackServer(host) as server:
            server.host = host
            yield server
    finally:
        loop.run_until_complete(host.aclose())
        loop.close()


@pytest.fixture
def http_host(tmp_path):
    with loopback_host(tmp_path / "state") as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_isolate_state():
    """Each test starts like a fresh isolate: no breaker state carried over."""
    from resilience.gateway import reset

    reset()
    yield
    reset()
