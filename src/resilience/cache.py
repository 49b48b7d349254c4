"""Read-through copies in KV (PROFILE_CACHE) of the reads the launch path needs: the
tenant registration and learner profiles. A D1 hit refreshes the copy (TTL 24 h); when
D1 fails or the breaker is open, the copy is served marked stale. Writes never go to KV
alone: KV only ever mirrors what D1 acknowledged."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import clock
from db.database import DataUnavailable
from resilience.gateway import gateway_for

CACHE_TTL_S = 24 * 3600
# An unchanged row is rewritten at most this often, well inside CACHE_TTL_S so the copy
# never expires while the row is being read.
REFRESH_AFTER_S = 3600
_MEMO_MAX = 10_000


class _WriteMemo:
    """What this isolate last wrote per key and when, so an unchanged row is not
    rewritten on every read (KV allows about one write per second per key)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, float]] = {}

    def changed(self, key: str, fingerprint: str, now: float) -> bool:
        last = self.seen.get(key)
        if last is not None and last[0] == fingerprint and now - last[1] < REFRESH_AFTER_S:
            return False
        if len(self.seen) >= _MEMO_MAX:
            self.seen.clear()
        self.seen[key] = (fingerprint, now)
        return True

    def clear(self) -> None:
        self.seen.clear()

    def forget(self, key: str) -> None:
        self.seen.pop(key, None)


_MEMO = _WriteMemo()

# The tenant directory row (status, d1_binding) is read by every API request. Within an
# isolate it is kept this long (var TENANT_CACHE_TTL_S), so the common request makes one
# D1 round trip (its own query) instead of two. That is the bound on staleness: a tenant
# suspended, deleted or moved to another database by someone else is seen by every
# isolate within it; the isolate that makes the change (registration, restore) forgets
# its copy at once. Restores wait longer than this before clearing the old database.
TENANT_TTL_S = 10.0


class _IsolateTenants:
    """Per isolate (module memory): (host clock, tenant id) -> (expires, row). The host
    clock is part of the key because the local host runs several hosts in one process;
    on Cloudflare it is absent and the key is the tenant alone."""

    def __init__(self) -> None:
        self.rows: dict[tuple, tuple[float, dict]] = {}

    def get(self, key: tuple, now: float) -> dict | None:
        entry = self.rows.get(key)
        return entry[1] if entry is not None and entry[0] > now else None

    def put(self, key: tuple, row: dict, expires: float) -> None:
        if len(self.rows) >= _MEMO_MAX:
            self.rows.clear()
        self.rows[key] = (expires, row)

    def forget(self, tenant_id: str) -> None:
        for key in [k for k in self.rows if k[1] == tenant_id]:
            del self.rows[key]

    def clear(self) -> None:
        self.rows.clear()


_TENANTS = _IsolateTenants()


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
    if kv is None or not _MEMO.changed(key, fingerprint, clock.monotonic(env)):
        return
    try:
        await kv.put(key, json.dumps(row, separators=(",", ":")), expirationTtl=CACHE_TTL_S)
    except Exception:
        _MEMO.forget(key)


async def put_if_changed(env: Any, kv: Any, key: str, value: str, ttl_s: int) -> bool:
    """Writes a KV value only when this isolate has not written the same one within
    REFRESH_AFTER_S (a launch repeats what the last launch of the course wrote; KV takes
    about one write per second per key). True if it wrote."""
    if not _MEMO.changed(f"put:{key}", value, clock.monotonic(env)):
        return False
    try:
        await kv.put(key, value, expirationTtl=ttl_s)
    except Exception:
        _MEMO.forget(f"put:{key}")
        raise
    return True


async def forget(env: Any, key: str) -> None:
    _MEMO.forget(key)
    if key.startswith("tenant:"):
        _TENANTS.forget(key.split(":", 1)[1])
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
    row = _TENANTS.get(key, now)
    if row is not None:
        return row, False
    row, stale = await read_through(env, tenant_key(tenant_id), load, fingerprint, tenant_id)
    ttl = tenant_ttl_s(env)
    if row is not None and not stale and ttl > 0:
        _TENANTS.put(key, row, now + ttl)
    return row, stale
