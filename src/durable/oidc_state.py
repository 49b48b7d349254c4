"""OIDC login state: one object per `state` value, holding the nonce and the login's
parameters; single use, expires after ten minutes (an alarm removes leftovers)."""

from __future__ import annotations

import json
import time

from durable.base import DurableBase

STATE_TTL_S = 600


class OIDCState(DurableBase):
    def _table(self) -> None:
        self.ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS login (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " record TEXT NOT NULL, expires_at_ms INTEGER NOT NULL)"
        )

    async def create(self, record: dict, ttl_s: int = STATE_TTL_S) -> bool:
        """Stores the login record; False if this state was ever created before."""
        self._table()
        if self.ctx.storage.sql.exec("SELECT count(*) AS n FROM login").one()["n"]:
            return False
        if await self.ctx.storage.get("used"):
            return False
        expires = int(time.time() * 1000) + int(ttl_s) * 1000
        self.ctx.storage.sql.exec(
            "INSERT INTO login (id, record, expires_at_ms) VALUES (1, ?, ?)", json.dumps(record), expires
        )
        await self.ctx.storage.setAlarm(expires)
        return True

    async def peek(self) -> dict:
        """The record without consuming it (to decide how to check the browser binding)."""
        self._table()
        rows = self.ctx.storage.sql.exec("SELECT record, expires_at_ms FROM login").toArray()
        if not rows or rows[0]["expires_at_ms"] <= int(time.time() * 1000):
            return {"status": "unknown"}
        return {"status": "ok", "record": json.loads(rows[0]["record"])}

    async def consume(self) -> dict:
        """Returns the record once: {"status": "ok", "record": ...} the first time within
        the lifetime; "expired", "used" or "unknown" otherwise."""
        self._table()
        rows = self.ctx.storage.sql.exec("SELECT record, expires_at_ms FROM login").toArray()
        if not rows:
            return {"status": "used" if await self.ctx.storage.get("used") else "unknown"}
        self.ctx.storage.sql.exec("DELETE FROM login")
        await self.ctx.storage.put("used", True)
        if rows[0]["expires_at_ms"] <= int(time.time() * 1000):
            return {"status": "expired"}
        return {"status": "ok", "record": json.loads(rows[0]["record"])}

    async def alarm(self, alarm_info=None) -> None:
        self._table()
        self.ctx.storage.sql.exec("DELETE FROM login WHERE expires_at_ms <= ?", int(time.time() * 1000))
