"""Nightly export: every active tenant's rows, table by table, as NDJSON in R2
(`exports/<YYYY-MM-DD>/<tenant_id>.ndjson`). Large exports go up as a multipart upload
in equal 5 MiB parts, as R2 requires."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from db.database import Database
from db.system import insert_metric, list_active_tenants, system_scope
from db.tables import TABLES

log = logging.getLogger("atomic_guide.export")

PART_BYTES = 5 * 1024 * 1024
PAGE = 500


async def _rows(db: Database, scope, table):
    last = ""
    while True:
        page = await db.all(scope.select(table.name, {f"{table.key}__gt": last}, order_by=table.key, limit=PAGE,
                                         name=f"export.{table.name}"))
        for row in page:
            yield row
        if len(page) < PAGE:
            return
        last = page[-1][table.key]


class _Upload:
    """Buffers NDJSON and ships it as one put, or as equal-size multipart parts."""

    def __init__(self, bucket, key: str) -> None:
        self.bucket, self.key = bucket, key
        self.buffer = bytearray()
        self.upload = None
        self.parts: list[dict] = []
        self.size = 0

    async def write(self, line: bytes) -> None:
        self.buffer += line
        self.size += len(line)
        while len(self.buffer) >= PART_BYTES:
            if self.upload is None:
                self.upload = await self.bucket.createMultipartUpload(
                    self.key, httpMetadata={"contentType": "application/x-ndjson"})
            chunk = bytes(self.buffer[:PART_BYTES])
            del self.buffer[:PART_BYTES]
            self.parts.append(await self.upload.uploadPart(len(self.parts) + 1, chunk))

    async def close(self) -> None:
        if self.upload is None:
            await self.bucket.put(self.key, bytes(self.buffer), httpMetadata={"contentType": "application/x-ndjson"})
            return
        try:
            if self.buffer:
                self.parts.append(await self.upload.uploadPart(len(self.parts) + 1, bytes(self.buffer)))
            await self.upload.complete(self.parts)
        except Exception:
            await self.upload.abort()
            raise


async def export_tenant(db: Database, bucket, tenant_row: dict, day: str) -> dict:
    scope = system_scope(tenant_row, "nightly-export")
    key = f"exports/{day}/{tenant_row['id']}.ndjson"
    upload = _Upload(bucket, key)
    counts: dict[str, int] = {}
    for table in TABLES.values():
        n = 0
        async for row in _rows(db, scope, table):
            await upload.write(json.dumps({"table": table.name, "row": row}, separators=(",", ":")).encode() + b"\n")
            n += 1
        counts[table.name] = n
    await upload.close()
    return {"key": key, "bytes": upload.size, "rows": sum(counts.values()), "tables": counts}


async def nightly_export(env, scheduled_time_ms: int) -> dict:
    db = Database(env)
    day = datetime.fromtimestamp(scheduled_time_ms / 1000, UTC).strftime("%Y-%m-%d")
    tenants = await db.all(list_active_tenants())
    results = []
    for tenant in tenants:
        result = await export_tenant(db, env.EXPORTS, tenant, day)
        results.append(result)
        await db.run(insert_metric("export", "nightly_export.rows", result["rows"],
                                   json.dumps({"key": result["key"], "bytes": result["bytes"]}), tenant["id"]))
    log.info(json.dumps({"event": "nightly_export", "day": day, "tenants": len(results)}))
    return {"day": day, "exports": results}
