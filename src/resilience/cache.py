"""Read-through copies in KV (PROFILE_CACHE) of the reads the launch path needs: the
tenant registration and learner profiles. A D1 hit refreshes the copy (TTL 24 h); when
D1 fails or the breaker is open, the copy is served marked stale. Writes never go to KV
alone: KV only ever mirrors what D1 acknowledged."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import clock
from resilience.errors import DataUnavailable
from resilience.memo import TENANTS, WRITES
from resilience.gateway import gateway_for

CACHE_TTL_S = 24 * 3600

# The tenant directory row (status, d1_binding) is read by every API request. Within an
# isolate it is kept this long (var TENANT_CACHE_TTL_S), so the common request makes one
# D1 round trip (its own query) instead of two. That is the bound on staleness: a tenant
# suspended, deleted or moved to another database by someone else is seen by every
# isolate within it; the isolate that makes the change (registration, restore) forgets
# its copy at once. Restores wait longer than this before clearing the old database.
TENANT_TTL_S = 10.0


def tenant_ttl_s(env: Any) -> float:
    raw = getattr(env, "TENANT_CACHE_TTL_S", None)
    try:
        return max(0.0, float(raw)) if raw not in (None, "") else TENANT_TTL_S
    except (TypeError, ValueError):
        return TENANT_TTL_S


def profile_key(tenant_id: str, lti_user_id: str) -> str:
    return f"profile:{tenant_id}:{lti_user_id}"


def tenant_key(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


async def remember(env: Any, key: str, row: dict, fingerprint: str) -> None:
    """Refreshes the KV copy after D1 acknowledged `row` (best-effort: KV failing must
    not fail a request that D1 served)."""
    kv = getattr(env, "PROFILE_CACHE", None)
    if kv is None or not WRITES.changed(key, fingerprint, clock.monotonic(env)):
        return
    try:
        await kv.put(key, json.dumps(row, separators=(",", ":")), expirationTtl=CACHE_TTL_S)
    except Exception:
        WRITES.forget(key)


async def put_if_changed(env: Any, kv: Any, key: str, value: str, ttl_s: int) -> bool:
    """Writes a KV value only when this isolate has not written the same one within
    REFRESH_AFTER_S (a launch repeats what the last launch of the course wrote; KV takes
    about one write per second per key). True if it wrote."""
    if not WRITES.changed(f"put:{key}", value, clock.monotonic(env)):
        return False
    try:
        await kv.put(key, value, expirationTtl=ttl_s)
    except Exception:
        WRITES.forget(f"put:{key}")
        raise
    return True


async def forget(env: Any, key: str) -> None:
    WRITES.forget(key)
    if key.startswith("tenant:"):
        TENANTS.forget(key.split(":", 1)[1])
    kv = getattr(env, "PROFILE_CACHE", None)
    if kv is not None:
        await kv.delete(key)


async def read_through(env: Any, key: str, load: Callable[[], Awaitable[dict | None]],
                       fingerprint: Callable[[dict], str], tenant_id: str | None) -> tuple[dict | None, bool]:
    """(row, stale). D1 first; on an outage the KV copy, stale=True; no copy re-raises."""
    try:
        row = await load()
    except DataUnavailable as outage:
        kv = getattr(env, "PROFILE_CACHE", None)
        cached = None
        if kv is not None:
            try:
                cached = await kv.get(key, type="json")
            except Exception:
                cached = None
        events = gateway_for(env).events
        if cached is None:
            events.record("fallback", "fallback_miss", tenant_id, key_kind=key.split(":", 1)[0])
            raise outage
        events.record("fallback", "served_from_kv", tenant_id, key_kind=key.split(":", 1)[0])
        return cached, True
    if row is not None:
        await remember(env, key, row, fingerprint(row))
    return row, False


async def read_tenant(env: Any, tenant_id: str, load: Callable[[], Awaitable[dict | None]],
                      fingerprint: Callable[[dict], str]) -> tuple[dict | None, bool]:
    """The tenant's directory row: from this isolate's copy while it is younger than
    the TTL (no D1 round trip), else read_through (D1, KV on an outage). A stale (KV)
    row is never kept: the next request asks D1 again."""
    key = (getattr(env, "CLOCK", None), tenant_id)
    now = clock.monotonic(env)
    row = TENANTS.get(key, now)
    if row is not None:
        return row, False
    row, stale = await read_through(env, tenant_key(tenant_id), load, fingerprint, tenant_id)
    ttl = tenant_ttl_s(env)
    if row is not None and not stale and ttl > 0:
        TENANTS.put(key, row, now + ttl)
    return row, stale
