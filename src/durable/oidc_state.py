"""OIDC login state: one object per `state` value, holding the nonce and the login's
parameters; single use, expires after ten minutes.

The alarm at expiry replaces the record with an `expired` marker (so a late launch is
told it took too long, not that the state is unknown), and a day later a second alarm
deletes everything, so the object does not keep storage forever. A consumed state keeps
a `used` marker for that day too: a replayed launch is named as such."""

from __future__ import annotations

import json

import clock
from durable.base import DurableBase

STATE_TTL_S = 600
MARKER_TTL_S = 24 * 3600


class OIDCState(DurableBase):
    def _table(self) -> None:
        self.ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS login (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " record TEXT NOT NULL, expires_at_ms INTEGER NOT NULL)"
        )

    def _record(self) -> tuple[dict, int] | None:
        rows = self.ctx.storage.sql.exec("SELECT record, expires_at_ms FROM login").toArray()
        return (json.loads(rows[0]["record"]), rows[0]["expires_at_ms"]) if rows else None

    async def _end(self, marker: str) -> None:
        """Drops the record, keeps `marker` for a day, then everything goes."""
        self.ctx.storage.sql.exec("DELETE FROM login")
        await self.ctx.storage.put("ended", marker)
        await self.ctx.storage.setAlarm(clock.now_ms(self.env) + MARKER_TTL_S * 1000)

    async def create(self, record: dict, ttl_s: int = STATE_TTL_S) -> bool:
        """Stores the login record; False if this state was ever created before."""
        self._table()
        if self._record() is not None or await self.ctx.storage.get("ended"):
            return False
        expires = clock.now_ms(self.env) + int(ttl_s) * 1000
        self.ctx.storage.sql.exec(
            "INSERT INTO login (id, record, expires_at_ms) VALUES (1, ?, ?)", json.dumps(record), expires
        )
        await self.ctx.storage.setAlarm(expires)
        return True

    async def peek(self) -> dict:
        """The record without consuming it (to decide how to check the browser binding)."""
        self._table()
        found = self._record()
        if found is None or found[1] <= clock.now_ms(self.env):
            return {"status": "unknown" if found is None else "expired"}
        return {"status": "ok", "record": found[0]}

    async def consume(self) -> dict:
        """Returns the record once: {"status": "ok", "record": ...} the first time within
        the lifetime; "expired", "used" or "unknown" otherwise."""
        self._table()
        found = self._record()
        if found is None:
            return {"status": await self.ctx.storage.get("ended") or "unknown"}
        record, expires_at_ms = found
        expired = expires_at_ms <= clock.now_ms(self.env)
        await self._end("expired" if expired else "used")
        return {"status": "expired"} if expired else {"status": "ok", "record": record}

    async def alarm(self, alarm_info=None) -> None:
        self._table()
        found = self._record()
        if found is not None:
            if found[1] <= clock.now_ms(self.env):
                await self._end("expired")
            else:
                await self.ctx.storage.setAlarm(found[1])
            return
        if await self.ctx.storage.get("ended"):
            await self.ctx.storage.deleteAll()
            self.ctx.storage.sql.exec("DROP TABLE IF EXISTS login")
