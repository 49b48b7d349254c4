"""Helpers for the practice tests: a course with concepts, an activity bound to a resource
link (as its first launch would bind it), items imported through the API, learners with
a launch session, and answers."""

from __future__ import annotations

import itertools
import sqlite3

from db import profiles
from db.database import Database
from db.system import system_scope
from practice import service as practice
from tests.conftest import INSTRUCTOR, LEARNER, TENANT_A, auth, token

_keys = itertools.count(1)
CONCEPTS = [{"id": "p-counting", "name": "Counting"},
            {"id": "p-addition", "name": "Addition", "prerequisites": ["p-counting"]}]


def scope_of(tenant: str = TENANT_A):
    return system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test")


def teacher(host, context: str = "course-1", tenant: str = TENANT_A) -> dict:
    return auth(host, user="teacher-1", context=context, tenant=tenant, roles=[INSTRUCTOR])


def learner_headers(host, user: str = "learner-1", rl: str = "rl-practice", context: str = "course-1",
                    tenant: str = TENANT_A) -> dict:
    return auth(host, user=user, context=context, tenant=tenant, roles=[LEARNER], resource_link_id=rl)


def learner_token(host, user: str = "learner-1", rl: str = "rl-practice", context: str = "course-1",
                  tenant: str = TENANT_A) -> str:
    return token(host, user=user, context=context, tenant=tenant, roles=[LEARNER], resource_link_id=rl)


async def course(client, host, concepts=CONCEPTS, context: str = "course-1", tenant: str = TENANT_A):
    r = await client.post("/api/knowledge-graph", json={"concepts": concepts},
                          headers=teacher(host, context, tenant))
    assert r.status_code == 201, r.text


async def activity(host, concepts=("p-counting", "p-addition"), type_: str = "fill_blank", rl: str | None = "rl-practice",
                   context: str = "course-1", tenant: str = TENANT_A, **settings) -> dict:
    """An activity of the course, bound to `rl` (None: left pending, as after deep linking)."""
    db = Database(host.env)
    scope = scope_of(tenant)
    row = await practice.create_activity(db, scope, context, "teacher-1", practice.ActivitySettings(
        title=settings.pop("title", "Practice"), type=type_, concepts=tuple(concepts), **settings))
    if rl is not None:
        await db.run(scope.update("assessment_configs", {
            "resource_link_id": rl, "platform_issuer": "https://platform.example", "platform_client_id": "c1",
            "ags_lineitems": "https://platform.example/lineitems",
            "ags_scope": '["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", '
                         '"https://purl.imsglobal.org/spec/lti-ags/scope/score"]'}, {"id": row["id"]}))
        row = await practice.get_activity(db, scope, row["id"])
    return row


def fill_item(concept: str = "p-counting", prompt: str = "Two plus two is ___.", answers=("4", "four"),
              **extra) -> dict:
    return {"format": "fill_blank", "concept": concept, "prompt": prompt, "answers": list(answers), **extra}


def card(concept: str = "p-counting", front: str = "Ten", back: str = "The number after nine", **extra) -> dict:
    return {"format": "flashcard", "concept": concept, "front": front, "back": back, **extra}


async def import_items(client, host, item_list: list[dict], context: str = "course-1", tenant: str = TENANT_A):
    r = await client.post("/api/question-bank/import", json={"items": item_list}, headers=teacher(host, context, tenant))
    assert r.status_code == 201, r.text
    return r.json()


async def launch_learner(host, user: str = "learner-1", context: str = "course-1", tenant: str = TENANT_A) -> dict:
    """The learner's profile and a learning session, as a launch writes them."""
    db = Database(host.env)
    scope = scope_of(tenant)
    profile, _sid = await profiles.open_launch_session(db, scope, user, context, "learner")
    return profile


async def next_item(client, host, activity_id: str, **who):
    return await client.get(f"/api/activities/{activity_id}/next", headers=learner_headers(host, **who))


async def answer(client, host, activity_id: str, item_id: str, key: str | None = None, **body):
    who = {k: body.pop(k) for k in ("user", "rl", "context", "tenant") if k in body}
    headers = {**learner_headers(host, **who), "Idempotency-Key": key or f"key-{next(_keys)}"}
    return await client.post(f"/api/activities/{activity_id}/answers", json={"item_id": item_id, **body},
                             headers=headers)


def rows(host, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def workload(host, client) -> None:
    """Every practice statement at least once (the query-plan test records them)."""
    from lti.launch import LaunchClaims
    from practice import gradebook
    from practice import launch as practice_launch

    await course(client, host)
    a = await activity(host, title="Workload")
    cards = await activity(host, type_="flashcards", rl="rl-cards")
    pending = await activity(host, rl=None)
    await import_items(client, host, [fill_item(ref="w1", hints=["h"]), card(ref="w2"),
                                      fill_item("p-addition", "One and one make ___.", ["2"], approved=False)])
    await import_items(client, host, [fill_item(ref="w1")])  # re-import by ref
    await launch_learner(host)
    item = (await next_item(client, host, a["id"])).json()["item"]
    await client.post(f"/api/activities/{a['id']}/hints", json={"item_id": item["item_id"]},
                      headers=learner_headers(host))
    await answer(client, host, a["id"], item["item_id"], response="4")
    await answer(client, host, a["id"], item["item_id"], key="w-replay", response="4")
    await answer(client, host, a["id"], item["item_id"], key="w-replay", response="4")
    c = (await next_item(client, host, cards["id"], rl="rl-cards")).json()["item"]
    await client.post(f"/api/activities/{cards['id']}/reveal", json={"item_id": c["item_id"]},
                      headers=learner_headers(host, rl="rl-cards"))
    await answer(client, host, cards["id"], c["item_id"], grade="good", rl="rl-cards")
    await client.get(f"/api/activities/{a['id']}/progress", headers=learner_headers(host))
    await client.get("/api/activities", headers=teacher(host))
    await client.get(f"/api/activities/{a['id']}", headers=teacher(host))
    await client.patch(f"/api/activities/{a['id']}", json={"concepts": ["p-counting"]}, headers=teacher(host))
    await client.post(f"/api/activities/{a['id']}/grades/retry", headers=teacher(host))
    listing = (await client.get("/api/question-bank?status=approved", headers=teacher(host))).json()
    await client.get(f"/api/question-bank/items/{listing['items'][0]['id']}", headers=teacher(host))
    await client.patch(f"/api/question-bank/items/{listing['items'][0]['id']}", json={"difficulty": 4},
                       headers=teacher(host))
    text = "Counting — saying numbers in order, one by one. Addition is a way to combine two numbers into one."
    draft = (await client.post(f"/api/activities/{a['id']}/drafts", json={"text": text},
                               headers=teacher(host))).json()
    await client.post(f"/api/activities/{a['id']}/drafts", json={"text": text}, headers=teacher(host))
    await client.get(f"/api/activities/{a['id']}/drafts", headers=teacher(host))
    await client.patch(f"/api/activities/{a['id']}/drafts/{draft['id']}", json={"items": draft["items"]},
                       headers=teacher(host))
    await client.post(f"/api/activities/{a['id']}/drafts/{draft['id']}/approve", json={}, headers=teacher(host))
    await gradebook.sync_activity(host.env, TENANT_A, "D1_PRIMARY", a["id"], 0)
    await gradebook.sweep(host.env)
    await host.alarms_idle()
    db = Database(host.env)
    for rl, custom in (("rl-practice", {}), ("rl-new", {"activity_id": pending["id"]}),
                       ("rl-copy", {"activity_id": a["id"]})):
        claims = LaunchClaims(issuer="https://platform.example", client_id="c1", deployment_id="d", sub="learner-1",
                              message_type="LtiResourceLinkRequest", roles=[LEARNER], context_id="course-1",
                              resource_link_id=rl, target_link_uri="x", nonce="n", custom=custom,
                              ags={"lineitems": "https://platform.example/li", "scope": []})
        await practice_launch.open_activity(db, scope_of(), claims)
    await client.get(f"/app/practice?ltik={learner_token(host)}")
    await client.get(f"/app/activities/{a['id']}?ltik={token(host, user='teacher-1', roles=[INSTRUCTOR])}")
