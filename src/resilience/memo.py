"""What this isolate last wrote to the KV read-through copies, per key: the state shared
by the cache (which consults it) and the isolate reset (which clears it)."""

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
