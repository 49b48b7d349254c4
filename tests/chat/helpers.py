"""Helpers of the AI Guide tests: learners, conversations, settings through the admin
API, the conversation objects and rows read straight from the D1 file."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from tests.api.helpers import seed_learner
from tests.conftest import TENANT_A, auth

ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"


def d1(host, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def settings(client, host, tenant=TENANT_A, **values) -> dict:
    r = await client.put("/api/institution/chat/settings", json=values,
                         headers=auth(host, tenant=tenant, user="admin-1", roles=[ADMIN]))
    assert r.status_code == 200, r.text
    return r.json()


async def start(client, host, user="learner-1", tenant=TENANT_A, **body) -> dict:
    r = await client.post("/api/chat/conversations", json=body, headers=auth(host, user=user, tenant=tenant))
    assert r.status_code in (200, 201), r.text
    return r.json()


async def say(client, host, conversation_id: str, text: str, user="learner-1", tenant=TENANT_A, **headers):
    return await client.post(f"/api/chat/conversations/{conversation_id}/messages", json={"content": text},
                             headers={**auth(host, user=user, tenant=tenant), **headers})


def stub(host, conversation_id: str, tenant=TENANT_A):
    return host.env.CHAT_CONVERSATIONS.getByName(f"{tenant}:{conversation_id}")


async def sealed(host, conversation_id: str, seq: int, owner="learner-1", tenant=TENANT_A) -> dict:
    """Waits (by awaiting the object, never by sleeping) until reply `seq` is sealed."""
    offset = 0
    for _ in range(10_000):
        r = await stub(host, conversation_id, tenant).stream_from(owner, seq, offset, 1000)
        assert r["status"] == "ok", r
        if r["done"]:
            return r["reply"]
        for chunk in r["chunks"]:
            offset = chunk["start"] + len(chunk["text"])
        await asyncio.sleep(0)
    raise AssertionError("reply never sealed")


async def seed_bank(host, tenant=TENANT_A) -> None:
    """Question-bank items for two concepts (expected concepts, reasoning, misconceptions)."""
    from db.database import Database
    from db.profiles import new_id
    from db.system import system_scope

    scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test-seed")
    db = Database(host.env)
    items = [
        ("Photosynthesis", "How does a plant make its food?", ["chlorophyll", "carbon dioxide", "glucose"],
         ["light energy is absorbed by chlorophyll", "glucose is produced from carbon dioxide and water"],
         ["plants get their food from the soil"]),
        ("Respiration", "What happens to glucose in a cell?", ["mitochondria", "glucose", "energy"],
         ["glucose is broken down in the mitochondria", "energy is released as ATP"],
         ["respiration is the same as breathing"]),
    ]
    for concept, text, expected, reasoning, wrong in items:
        await db.run(scope.insert("questions", {
            "id": new_id(), "question_text": text, "question_type": "probing_reasons", "subject": "biology",
            "topic": "cells", "concept": concept, "difficulty_level": 4, "expected_concepts": json.dumps(expected),
            "expected_reasoning_path": json.dumps(reasoning), "common_misconceptions": json.dumps(wrong)}))


__all__ = ["ADMIN", "d1", "seed_bank", "seed_learner", "settings", "start", "say", "stub", "sealed"]
