"""Read-through copies in KV (PROFILE_CACHE) of the reads the launch path needs: the
tenant registration and learner profiles. A D1 hit refreshes the copy (TTL 24 h); when
D1 fails or the breaker is open, the copy is served marked stale. Writes never go to KV
alone: KV only ever mirrors what D1 acknowledged."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import clock
from resilience.errors import DataUnavailable
from resilience.memo import WRITES
from resilience.gateway import gateway_for

CACHE_TTL_S = 24 * 3600


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


async def forget(env: Any, key: str) -> None:
    WRITES.forget(key)
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
