"""The probe Durable Object of the storage contract for the local host: the same RPC
methods as ProbeObject in worker/index.js, over the Python surface of the storage."""

from __future__ import annotations


class ProbeObject:
    def __init__(self, ctx, env) -> None:
        self.ctx = ctx
        self.env = env

    def sql(self, query: str, bindings: list | None = None) -> dict:
        cur = self.ctx.storage.sql.exec(query, *(bindings or []))
        rows = cur.toArray()
        return {"columnNames": cur.columnNames, "rows": rows, "rowsWritten": cur.rowsWritten,
                "rowsRead": cur.rowsRead}

    def sqlOne(self, query: str, bindings: list | None = None) -> dict:
        return self.ctx.storage.sql.exec(query, *(bindings or [])).one()

    def sqlRaw(self, query: str, bindings: list | None = None) -> list:
        return self.ctx.storage.sql.exec(query, *(bindings or [])).raw()

    async def get(self, keys):
        return await self.ctx.storage.get(keys)

    async def put(self, entries: dict) -> None:
        await self.ctx.storage.put(entries)

    async def delete(self, keys):
        return await self.ctx.storage.delete(keys)

    async def list(self, options: dict | None = None) -> dict:
        return await self.ctx.storage.list(options or {})

    async def deleteAll(self) -> None:
        await self.ctx.storage.deleteAll()

    async def setAlarm(self, at: int) -> None:
        await self.ctx.storage.setAlarm(at)

    async def getAlarm(self):
        return await self.ctx.storage.getAlarm()

    async def deleteAlarm(self) -> None:
        await self.ctx.storage.deleteAlarm()

    async def alarm(self, info=None) -> None:
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS alarm_log (n INTEGER PRIMARY KEY, retry INTEGER)")
        self.ctx.storage.sql.exec("INSERT INTO alarm_log (retry) VALUES (?)", (info or {}).get("retryCount", 0))
