"""Per-isolate memory of the read-through cache: what this isolate last wrote to the KV
copies, per key, and its short-lived copies of tenant directory rows. Shared by the
cache (which consults them) and the isolate reset (which clears them)."""

from __future__ import annotations

# An unchanged row is rewritten at most this often, well inside the copies' 24 h TTL, so
# a copy never expires while its row is being read.
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


WRITES = _WriteMemo()


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


TENANTS = _IsolateTenants()
