"""A local host on a manual clock (time moves only when a test says so, and alarms fire
when it passes them), learners with a learning session, and ways to look at what the
session's StruggleDetector and D1 hold."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass

import httpx
import pytest

from db import profiles
from db.database import Database
from db.system import system_scope
from devhost.clock import ManualClock
from struggle.report import iso
from struggle.service import object_name
from tests.conftest import INSTRUCTOR, LEARNER, TENANT_A, make_host, token


@dataclass
class Learner:
    host: object
    tenant: str
    user: str
    course: str
    profile_id: str
    session_id: str
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def detector(self):
        return self.host.env.STRUGGLE_DETECTOR.getByName(object_name(self.tenant, self.session_id))

    def now_ms(self) -> int:
        return int(self.host.clock.now() * 1000)


async def add_learner(host, user: str = "learner-1", course: str = "course-1", tenant: str = TENANT_A,
                      privacy: dict | None = None) -> Learner:
    db = Database(host.env)
    scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test-seed")
    row = await profiles.ensure(db, scope, user)
    if privacy is not None:
        await db.run(scope.update("learner_profiles", {"privacy_settings": json.dumps(privacy)}, {"id": row["id"]}))
    session_id = profiles.new_id()
    await db.run(scope.insert("learning_sessions", {"id": session_id, "learner_id": row["id"], "course_context": course,
                                                    "session_start": iso(int(host.clock.now() * 1000))}))
    tok = token(host, tenant=tenant, user=user, context=course, roles=(LEARNER,), learning_session_id=session_id)
    return Learner(host, tenant, user, course, row["id"], session_id, tok)


def instructor_headers(host, course: str = "course-1", tenant: str = TENANT_A) -> dict:
    return {"Authorization": f"Bearer {token(host, tenant=tenant, user='teacher', context=course, roles=(INSTRUCTOR,))}"}


@pytest.fixture
async def shost(tmp_path):
    h = await make_host(tmp_path / "state", clock=ManualClock())
    yield h
    await h.aclose()


@pytest.fixture
async def sclient(shost):
    transport = httpx.ASGITransport(app=shost, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def d1_rows(host, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def idle(learner: Learner, ms: int, **kw) -> dict:
    return {"type": "idle", "t": learner.now_ms(), "ms": ms, **kw}


def dwell(learner: Learner, ms: int = 5000, target: str = "section-1") -> dict:
    return {"type": "dwell", "t": learner.now_ms(), "ms": ms, "target": target}


async def settled(stub, until, attempts: int = 400) -> dict:
    """The object's stats once `until(stats)` holds: an alarm runs as a task of the host's
    loop after the clock passed it, so the test yields to it (bounded) and looks again."""
    stats = await stub.stats()
    for _ in range(attempts):
        if until(stats):
            return stats
        await asyncio.sleep(0.005)
        stats = await stub.stats()
    raise AssertionError(f"the detector never settled: {stats}")
