"""Property: whatever sequence of creates/reads/updates/deletes two tenants run, tenant
B never sees, changes or learns the existence of tenant A's rows (a foreign id answers
exactly like a missing one)."""

import asyncio
import sqlite3
import tempfile
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience.gateway import reset as reset_isolate_state
from tests.api.helpers import seed_learner
from tests.conftest import INSTRUCTOR, TENANT_A, TENANT_B, auth, make_host

TENANTS = [TENANT_A, TENANT_B]
USERS = ["u1", "u2", "u3"]

op = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(TENANTS), st.sampled_from(USERS)),
    st.tuples(st.just("read"), st.sampled_from(TENANTS), st.sampled_from(USERS)),
    st.tuples(st.just("update"), st.sampled_from(TENANTS), st.sampled_from(USERS)),
    st.tuples(st.just("erase"), st.sampled_from(TENANTS), st.sampled_from(USERS)),
    st.tuples(st.just("peek"), st.sampled_from(TENANTS), st.integers(0, 20)),
)


def rows_of(host, tenant: str) -> list:
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    out = []
    for table in ("learner_profiles", "learning_sessions", "audit_log"):
        out += [(table, r) for r in conn.execute(f"SELECT * FROM {table} WHERE tenant_id = ? ORDER BY 1", (tenant,))]
    conn.close()
    return out


async def run(ops, state_dir: Path) -> None:
    reset_isolate_state()  # each example is a fresh isolate, like each test
    host = await make_host(state_dir)
    known_ids: list[tuple[str, str]] = []  # (tenant, profile id) ever created
    model: dict[tuple[str, str], int] = {}  # (tenant, user) -> version
    try:
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for kind, tenant, arg in ops:
                other = TENANT_B if tenant == TENANT_A else TENANT_A
                other_before = rows_of(host, other)
                if kind == "create":
                    row = await seed_learner(host, tenant, arg)
                    known_ids.append((tenant, row["id"]))
                    model.setdefault((tenant, arg), 1)
                elif kind == "read":
                    r = await client.get("/api/profile", headers=auth(host, tenant=tenant, user=arg))
                    assert r.status_code == (200 if (tenant, arg) in model else 404)
                    if r.status_code == 200:
                        assert r.json()["lti_user_id"] == arg and r.json()["version"] == model[(tenant, arg)]
                elif kind == "update":
                    h = auth(host, tenant=tenant, user=arg)
                    g = await client.get("/api/profile", headers=h)
                    etag = g.headers.get("etag", '"x.v1"')
                    r = await client.patch("/api/profile", json={"privacy_settings": {"data_sharing": "none"}},
                                           headers={**h, "If-Match": etag})
                    assert r.status_code == (200 if (tenant, arg) in model else 404)
                    if r.status_code == 200:
                        model[(tenant, arg)] += 1
                elif kind == "erase":
                    r = await client.delete("/api/profile", headers=auth(host, tenant=tenant, user=arg))
                    assert r.status_code == (200 if (tenant, arg) in model else 404)
                    model.pop((tenant, arg), None)
                elif kind == "peek" and known_ids:
                    # An instructor of `tenant` asks for some profile id, possibly the other tenant's.
                    owner, pid = known_ids[arg % len(known_ids)]
                    h = auth(host, tenant=tenant, user="teacher", context="course-1", roles=[INSTRUCTOR])
                    r = await client.get(f"/api/courses/course-1/profiles/{pid}", headers=h)
                    missing = await client.get("/api/courses/course-1/profiles/00000000-0000-4000-8000-0000000000ff",
                                               headers=h)
                    if owner != tenant:
                        assert r.status_code == 404
                        strip = lambda b: {k: v for k, v in b.items() if k not in ("correlation_id", "instance")}
                        assert strip(r.json()) == strip(missing.json())
                assert rows_of(host, other) == other_before, f"{kind} by {tenant} changed the other tenant's rows"
    finally:
        await host.aclose()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=25))
def test_two_tenants_never_see_or_change_each_others_rows(ops):
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(run(ops, Path(d)))
