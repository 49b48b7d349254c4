"""Helpers for the learner-model API tests: a clock the test moves, questions inserted
directly (the question-bank API belongs to a later issue), graphs and answers."""

from __future__ import annotations

import itertools
import sqlite3

from db import profiles
from db.database import Database
from db.system import system_scope
from tests.conftest import INSTRUCTOR, auth

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
_keys = itertools.count(1)


class FakeClock:
    """Moves one host's time (clock.now(env) reads env.CLOCK)."""

    def __init__(self, t: float = START) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def advance(self, days: float = 0.0, seconds: float = 0.0) -> None:
        self.t += days * 86400 + seconds


def use_clock(host) -> FakeClock:
    clock = FakeClock()
    host.env.CLOCK = clock
    return clock


async def add_question(host, tenant: str, concept: str, question_id: str | None = None,
                       estimated_time_seconds: int | None = None) -> str:
    qid = question_id or profiles.new_id()
    scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test-seed")
    await Database(host.env).run(scope.insert("questions", {
        "id": qid, "question_text": f"A question on {concept}", "question_type": "clarifying", "subject": "math",
        "topic": "algebra", "concept": concept, "difficulty_level": 5,
        "estimated_time_seconds": estimated_time_seconds}))
    return qid


def teacher(host, **kw) -> dict:
    return auth(host, user="teacher-1", roles=[INSTRUCTOR], **kw)


async def import_graph(client, host, concepts: list[dict], **kw):
    return await client.post("/api/knowledge-graph", json={"concepts": concepts}, headers=teacher(host, **kw))


def chain_graph() -> list[dict]:
    """counting -> addition -> multiplication (each requires the one before)."""
    return [{"id": "counting", "name": "Counting"},
            {"id": "addition", "name": "Addition", "prerequisites": ["counting"]},
            {"id": "multiplication", "name": "Multiplication", "prerequisites": ["addition"]}]


async def answer(client, host, question_id: str, correct=1, key: str | None = None, response_time_ms: int = 20_000,
                 **kw):
    headers = {**auth(host, **{k: v for k, v in kw.items() if k in ("user", "context", "tenant", "roles",
                                                                       "learning_session_id")}),
               "Idempotency-Key": key or f"key-{next(_keys)}"}
    body = {"question_id": question_id, "correct": correct, "response_time_ms": response_time_ms}
    body.update({k: v for k, v in kw.items() if k in ("hints", "response_text")})
    return await client.post("/api/responses", json=body, headers=headers)


def rows(host, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
