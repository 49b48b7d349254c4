"""Chaos: 1,000 mixed operations with a random 30% D1 failure rate and random latency
(some calls stalling past the timeout). Zero 500s; every acknowledged write is in D1 at
the end; nothing is written twice; every refused write was reported as refused."""

import random
import sqlite3

import httpx

from db import profiles
from db.database import Database, DataError
from db.system import system_scope
from devhost.bindings._common import Fault
from tests.api.helpers import seed_learner
from tests.conftest import TENANT_A, TENANT_B, auth, make_host

CHAOS_VARS = {"D1_BREAKER_FAILURES": "5", "D1_BREAKER_SUCCESSES": "2", "D1_CALL_TIMEOUT_MS": "60",
              "D1_BREAKER_COOLDOWN_S": "0.01", "SLOW_QUERY_MS": "1000"}
OPS = 1000
USERS = [f"u{i}" for i in range(12)]


async def test_chaos_loses_nothing_acknowledged_and_never_500s(tmp_path):
    host = await make_host(tmp_path / "state", extra_vars=CHAOS_VARS)
    rng = random.Random(20261121)
    statuses: dict[int, int] = {}
    acked_versions: dict[tuple[str, str], int] = {}
    acked_logs: set[str] = set()
    refused_logs: set[str] = set()
    refused_creates: set[tuple[str, str]] = set()
    learner_ids: dict[tuple[str, str], str] = {}
    try:
        for tenant in (TENANT_A, TENANT_B):
            for user in USERS[:4]:
                learner_ids[(tenant, user)] = (await seed_learner(host, tenant, user))["id"]
                acked_versions[(tenant, user)] = 1
        host.faults.set("D1_PRIMARY", Fault(mode="chaos", rate=0.3, latency_ms=8, stall_rate=0.05,
                                            stall_ms=120, seed=7))
        transport = httpx.ASGITransport(app=host, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for _ in range(OPS):
                tenant = rng.choice((TENANT_A, TENANT_B))
                user = rng.choice(USERS)
                kind = rng.choices(["read", "update", "log", "create"], weights=[4, 3, 2, 1])[0]
                scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "chaos")
                if kind == "read":
                    r = await client.get("/api/profile", headers=auth(host, tenant=tenant, user=user))
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                elif kind == "update":
                    h = auth(host, tenant=tenant, user=user)
                    g = await client.get("/api/profile", headers=h)
                    statuses[g.status_code] = statuses.get(g.status_code, 0) + 1
                    if g.status_code != 200 or g.json()["stale"]:
                        continue
                    r = await client.patch("/api/profile", headers={**h, "If-Match": g.headers["etag"]},
                                           json={"cognitive_profile": {"optimal_difficulty": rng.randint(1, 10)}})
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        acked_versions[(tenant, user)] = r.json()["version"]
                    else:
                        assert r.status_code in (412, 503), r.text
                elif kind == "log" and (tenant, user) in learner_ids:
                    log_id = profiles.new_id()
                    try:
                        await Database(host.env).run(scope.insert("engagement_logs", {
                            "id": log_id, "learner_id": learner_ids[(tenant, user)], "event_type": "question_view"}))
                        acked_logs.add(log_id)
                    except DataError:
                        refused_logs.add(log_id)
                elif kind == "create":
                    try:
                        row = await profiles.ensure(Database(host.env), scope, user)
                        learner_ids[(tenant, user)] = row["id"]
                        acked_versions.setdefault((tenant, user), row["version"])
                    except DataError:
                        refused_creates.add((tenant, user))
        host.faults.clear()
    finally:
        await host.aclose()

    assert statuses.get(500, 0) == 0, statuses
    assert statuses.get(503, 0) > 0 and statuses.get(200, 0) > 0  # the chaos really bit, and service went on
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    # Acknowledged profile writes are all there; refused ones never landed.
    for (tenant, user), version in acked_versions.items():
        rows = conn.execute("SELECT version FROM learner_profiles WHERE tenant_id = ? AND lti_user_id = ?",
                            (tenant, user)).fetchall()
        assert rows == [(version,)], (tenant, user, rows, version)
    # A create that was refused, and never acknowledged later, left no profile behind.
    for tenant, user in refused_creates - set(acked_versions):
        assert conn.execute("SELECT count(*) FROM learner_profiles WHERE tenant_id = ? AND lti_user_id = ?",
                            (tenant, user)).fetchone() == (0,), (tenant, user)
    # Every acknowledged log row exists exactly once; no refused one exists.
    ids = [r[0] for r in conn.execute("SELECT id FROM engagement_logs")]
    assert len(ids) == len(set(ids))
    assert acked_logs <= set(ids)
    assert not (refused_logs & set(ids))
    print(f"chaos: statuses={statuses} logs acked={len(acked_logs)} refused={len(refused_logs)}")
    assert len(acked_logs) > 10 and len(refused_logs) > 10
    conn.close()
