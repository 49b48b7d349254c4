"""D1 outages on the real code paths (faults injected into the local D1 binding):
stale reads from KV, 503 for what is not cached, the breaker opening and recovering,
refused writes, and fallback events reaching the metrics table once D1 is back."""

import sqlite3

import httpx
import pytest

from devhost.bindings._common import Fault
from devhost.clock import ManualClock
from tests.api.helpers import seed_learner
from tests.conftest import DEV_VARS, TENANT_A, auth, make_host

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}

# Thresholds set by the tests, far from what a healthy call takes even on a loaded
# machine: a call is a timeout only past 1 s, and the injected stall is 30 s.
FAST = {"D1_BREAKER_FAILURES": "3", "D1_BREAKER_SUCCESSES": "2", "D1_CALL_TIMEOUT_MS": "1000",
        "D1_BREAKER_COOLDOWN_S": "15"}


@pytest.fixture
async def fhost(tmp_path):
    # The breaker's cool-down runs on this host's clock, which only the test moves.
    h = await make_host(tmp_path / "state", extra_vars=FAST, clock=ManualClock())
    yield h
    await h.aclose()


@pytest.fixture
async def fclient(fhost):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fhost, raise_app_exceptions=False),
                                 base_url="http://t") as c:
        yield c


def d1_down(host, mode="unavailable", **kw):
    host.faults.set("D1_PRIMARY", Fault(mode=mode, **kw))


def metrics(host, kind=None):
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    # Slow-query alerts depend on the machine's load (setup inserts can pass 10 ms on a
    # busy runner); they are not what these tests are about.
    q = "SELECT kind, name FROM metrics WHERE kind != 'slow_query'" + (" AND kind = ?" if kind else "")
    rows = conn.execute(q, (kind,) if kind else ()).fetchall()
    conn.close()
    return rows


async def test_cached_profile_is_served_stale_while_d1_is_down(fhost, fclient):
    await seed_learner(fhost, TENANT_A, "learner-1")
    fresh = await fclient.get("/api/profile", headers=auth(fhost))  # D1 hit fills the KV copy
    assert fresh.status_code == 200 and fresh.json()["stale"] is False
    d1_down(fhost)
    r = await fclient.get("/api/profile", headers=auth(fhost))
    assert r.status_code == 200
    assert r.json()["stale"] is True and r.headers["x-data-stale"] == "true"
    assert r.json()["id"] == fresh.json()["id"] and r.json()["version"] == fresh.json()["version"]


async def test_uncached_profile_during_an_outage_is_a_503_naming_the_outage(fhost, fclient):
    await seed_learner(fhost, TENANT_A, "learner-1")
    await fclient.get("/api/profile", headers=auth(fhost))  # caches the tenant, and learner-1
    d1_down(fhost)
    r = await fclient.get("/api/profile", headers=auth(fhost, user="learner-2"))
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "D1 outage" in r.json()["detail"] and "retry-after" in r.headers


async def test_breaker_opens_after_n_failures_then_d1_is_not_called(fhost, fclient):
    await seed_learner(fhost, TENANT_A, "learner-1")
    await fclient.get("/api/profile", headers=auth(fhost))
    d1_down(fhost)
    for _ in range(3):
        await fclient.get("/api/profile", headers=auth(fhost))
    health = (await fclient.get("/health", headers=ADMIN)).json()["d1_circuit"]["breakers"]["D1_PRIMARY"]
    assert health["state"] == "open"
    calls_before = fhost.faults.calls.get("D1_PRIMARY", 0)
    for _ in range(5):
        r = await fclient.get("/api/profile", headers=auth(fhost))
        assert r.status_code == 200 and r.json()["stale"] is True
    assert fhost.faults.calls.get("D1_PRIMARY", 0) == calls_before  # not one call reached D1


async def test_slow_d1_past_the_timeout_counts_as_failure_and_opens(fhost, fclient):
    await seed_learner(fhost, TENANT_A, "learner-1")
    await fclient.get("/api/profile", headers=auth(fhost))
    d1_down(fhost, mode="latency", latency_ms=30_000)
    for _ in range(3):
        r = await fclient.get("/api/profile", headers=auth(fhost))
        assert r.status_code == 200 and r.json()["stale"] is True
    assert (await fclient.get("/health", headers=ADMIN)).json()["d1_circuit"]["breakers"]["D1_PRIMARY"]["state"] == "open"


async def test_recovers_through_half_open_and_flushes_buffered_events(fhost, fclient):
    await seed_learner(fhost, TENANT_A, "learner-1")
    await fclient.get("/api/profile", headers=auth(fhost))
    d1_down(fhost)
    for _ in range(4):
        await fclient.get("/api/profile", headers=auth(fhost))
    etag = '"x.v1"'
    refused = await fclient.patch("/api/profile", json={"privacy_settings": {}},
                                  headers={**auth(fhost), "If-Match": etag})
    assert refused.status_code == 503 and "nothing was changed" in refused.json()["detail"]
    assert metrics(fhost) == []  # D1 is down: events are buffered, not lost
    fhost.faults.clear()
    fhost.clock.advance(15)  # the cool-down passes
    for _ in range(3):
        r = await fclient.get("/api/profile", headers=auth(fhost))
        assert r.status_code == 200
    assert r.json()["stale"] is False
    snap = (await fclient.get("/health", headers=ADMIN)).json()["d1_circuit"]
    assert snap["breakers"]["D1_PRIMARY"]["state"] == "closed"
    names = [n for _, n in metrics(fhost)]
    for expected in ("breaker_opened", "served_from_kv", "write_refused", "breaker_half_open", "breaker_closed"):
        assert expected in names, (expected, names)


async def test_erasure_also_removes_the_kv_copy(fhost, fclient):
    await seed_learner(fhost, TENANT_A, "learner-1")
    await fclient.get("/api/profile", headers=auth(fhost))
    assert (await fclient.delete("/api/profile", headers=auth(fhost))).status_code == 200
    d1_down(fhost)
    r = await fclient.get("/api/profile", headers=auth(fhost))
    assert r.status_code == 503  # no stale copy of erased data survives
