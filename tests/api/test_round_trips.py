"""The cost of an API request in D1 round trips: the tenant's directory row is kept per
isolate for TENANT_CACHE_TTL_S, so a request after the first makes one round trip (its
own query). The bound on staleness that buys: a tenant suspended elsewhere stops working
within the TTL; a change made by this isolate is seen at once."""

from __future__ import annotations

import sqlite3

from devhost.clock import ManualClock
from resilience.cache import TENANT_TTL_S
from tests.api.helpers import seed_learner
from tests.conftest import TENANT_A, auth, make_host


def round_trips(host) -> int:
    return sum(d1.round_trips for d1 in host.d1.values())


async def test_a_warm_api_request_makes_one_d1_round_trip(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    headers = auth(host)
    assert (await client.get("/api/profile", headers=headers)).status_code == 200  # fills the isolate's copy
    before = round_trips(host)
    r = await client.get("/api/profile", headers=headers)
    assert r.status_code == 200 and r.json()["lti_user_id"] == "learner-1"
    assert round_trips(host) - before == 1


async def test_the_first_api_request_of_an_isolate_reads_the_tenant_too(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    before = round_trips(host)
    assert (await client.get("/api/profile", headers=auth(host))).status_code == 200
    assert round_trips(host) - before == 2


async def test_a_suspended_tenant_stops_working_within_the_ttl(tmp_path):
    import httpx

    host = await make_host(tmp_path / "state", clock=ManualClock())
    try:
        await seed_learner(host, TENANT_A, "learner-1")
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            headers = auth(host)
            assert (await client.get("/api/profile", headers=headers)).status_code == 200
            # An operator suspends the tenant straight in D1 (not through this isolate).
            conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
            with conn:
                conn.execute("UPDATE tenants SET status = 'suspended' WHERE id = ?", (TENANT_A,))
            conn.close()
            host.clock.advance(TENANT_TTL_S - 1)
            assert (await client.get("/api/profile", headers=headers)).status_code == 200  # the copy, within the TTL
            host.clock.advance(1)
            r = await client.get("/api/profile", headers=headers)
            assert r.status_code == 401 and "not registered" in r.json()["detail"]
    finally:
        await host.aclose()


async def test_a_change_made_by_this_isolate_is_seen_by_the_next_request(host, client):
    from resilience.cache import forget, tenant_key

    await seed_learner(host, TENANT_A, "learner-1")
    headers = auth(host)
    assert (await client.get("/api/profile", headers=headers)).status_code == 200
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    with conn:
        conn.execute("UPDATE tenants SET status = 'suspended' WHERE id = ?", (TENANT_A,))
    conn.close()
    await forget(host.env, tenant_key(TENANT_A))  # what registration and restore do after a change
    assert (await client.get("/api/profile", headers=headers)).status_code == 401


async def test_restores_wait_longer_than_the_tenant_ttl_before_clearing_the_old_database():
    from backups.restore import DEFAULT_SETTLE
    from devhost.bindings.workflows import duration_s

    assert duration_s(DEFAULT_SETTLE) > 2 * TENANT_TTL_S


def test_the_tenant_ttl_comes_from_the_var_and_falls_back_on_nonsense():
    from resilience.cache import tenant_ttl_s

    class Env:
        pass

    env = Env()
    assert tenant_ttl_s(env) == TENANT_TTL_S
    for raw, expected in (("30", 30.0), ("0", 0.0), ("-5", 0.0), ("soon", TENANT_TTL_S), ("", TENANT_TTL_S)):
        env.TENANT_CACHE_TTL_S = raw
        assert tenant_ttl_s(env) == expected


async def test_with_a_zero_ttl_every_request_reads_the_tenant(tmp_path):
    import httpx

    host = await make_host(tmp_path / "state", extra_vars={"TENANT_CACHE_TTL_S": "0"})
    try:
        await seed_learner(host, TENANT_A, "learner-1")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://t") as client:
            headers = auth(host)
            await client.get("/api/profile", headers=headers)
            before = round_trips(host)
            assert (await client.get("/api/profile", headers=headers)).status_code == 200
            assert round_trips(host) - before == 2
    finally:
        await host.aclose()


async def test_an_unchanged_kv_value_is_written_once_and_a_failed_write_is_retried(host):
    from resilience.cache import put_if_changed

    kv = host.env.LTI_PLATFORMS
    assert await put_if_changed(host.env, kv, "course:x", '{"a": 1}', 3600) is True
    assert await put_if_changed(host.env, kv, "course:x", '{"a": 1}', 3600) is False
    assert await put_if_changed(host.env, kv, "course:x", '{"a": 2}', 3600) is True
    assert await kv.get("course:x") == '{"a": 2}'

    class Failing:
        async def put(self, *a, **kw):
            raise RuntimeError("KV down")

    import pytest

    with pytest.raises(RuntimeError):
        await put_if_changed(host.env, Failing(), "course:y", "v", 3600)
    assert await put_if_changed(host.env, kv, "course:y", "v", 3600) is True  # not remembered as written
