"""The local host's side of the binding contracts (tests/parity/): the local bindings,
and the probe Durable Object and Workflow that mirror the JS probe worker's. Kept outside
tests/parity/, which shares no code with devhost/: the contract suite only receives these
through its fixtures."""

from __future__ import annotations

from pathlib import Path

from devhost.bindings.d1 import LocalD1Database
from devhost.bindings.durable_objects import DurableObjectNamespace
from devhost.bindings.kv import LocalKVNamespace
from devhost.bindings.r2 import LocalR2Bucket
from devhost.bindings.workflows import LocalWorkflow
from devhost.runtime import LocalRuntime
from devhost.runtime_shim import NonRetryableError, WorkflowEntrypoint


def local_bindings(directory: Path) -> tuple:
    """Fresh local D1, KV and R2 in `directory` (closed by the caller)."""
    return (LocalD1Database("DB", directory / "d1.sqlite"), LocalKVNamespace("KV", directory / "kv.sqlite"),
            LocalR2Bucket("R2", directory / "r2.sqlite"))


def probe_objects(directory: Path) -> DurableObjectNamespace:
    return DurableObjectNamespace("OBJ", ProbeObject, directory, lambda: None, alarm_retry_base_s=0.05)


def probe_workflow(path: Path) -> LocalWorkflow:
    return LocalWorkflow("WF", "parity-workflow", "ProbeWorkflow", path, lambda: ProbeWorkflow, lambda: object(),
                         runtime=LocalRuntime())


class ProbeObject:
    """The probe Durable Object: the RPC methods of ProbeObject in tests/parity/worker/index.js."""

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


class ProbeWorkflow(WorkflowEntrypoint):
    """The Python twin of tests/parity/worker/index.js ProbeWorkflow."""

    async def run(self, event, step):
        out = []
        for s in event["payload"].get("steps", []):
            def make(s=s):
                async def body(ctx):
                    if ctx["attempt"] <= s.get("fail", 0):
                        if s.get("fatal"):
                            raise NonRetryableError(f"{s['name']} refused")
                        raise RuntimeError(f"{s['name']} failed")
                    return {"name": s["name"], "attempt": ctx["attempt"], "data": s.get("data")}
                return body

            try:
                out.append(await step.do(s["name"], config=s.get("config"))(make())())
            except Exception as e:
                if not event["payload"].get("catch"):
                    raise
                return {"caught": {"name": type(e).__name__, "message": str(e)}}
            if "sleep" in event["payload"] and len(out) == 1:
                await step.sleep("nap", event["payload"]["sleep"])
        return out
