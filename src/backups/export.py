"""The nightly export of one tenant as a Workflow (`TenantExportWorkflow` in entry.py):
each step does a bounded amount of work (one keyset page of one table -> one gzip NDJSON
object in R2) and returns only small values (key, rows, bytes, sha256, the keyset
cursor), so the platform persists them and a crashed run resumes from the last
completed step. The manifest is written last; retention runs only after it exists.

`run_export` is plain async Python over `env` and the SDK's `step`; it must decide
nothing outside steps except from step results (the run is replayed after a restart)."""

from __future__ import annotations

import json
import logging

import bindings
import clock
from backups import format as fmt
from db.database import Database
from db.system import get_tenant, insert_metric, last_migration, list_active_tenants, system_scope
from db.tables import DIRECTORY_TABLES, TABLES, keyset

log = logging.getLogger("atomic_guide.backups")

# Steps retry on failure with backoff: 2 s, 4 s, 8 s, ... (asserted from the Workflows
# documentation, "Sleeping and retrying"; the local engine implements the same rule).
STEP_CONFIG = {"retries": {"limit": 6, "delay": "2 seconds", "backoff": "exponential"}, "timeout": "5 minutes"}
PRIMARY = bindings.D1_PRIMARY


class Fatal(Exception):
    """Stands in for workers.workflows.NonRetryableError outside the runtime."""


def _step(step, name: str, fn):
    """`@step.do(name, config=...)` on a zero-argument coroutine function (valid for both
    the legacy and the implicit-dependency signatures of the Python SDK)."""
    return step.do(name, config=STEP_CONFIG)(fn)


class _SlowPages:
    """Collects slow queries of one step, reported in the run's single summary row."""

    def __init__(self) -> None:
        self.count, self.max_ms = 0, 0.0

    def __call__(self, name: str, ms: float) -> None:
        self.count += 1
        self.max_ms = max(self.max_ms, ms)


def source_binding(table: str, tenant_binding: str) -> str:
    return PRIMARY if table in DIRECTORY_TABLES else tenant_binding


# -- the steps --------------------------------------------------------------------------

async def begin(env, tenant_id: str, day: str) -> dict:
    db = Database(env, on_slow=_SlowPages())  # counted in no alert row: a directory read
    tenant = await db.first(get_tenant(tenant_id))
    if tenant is None or tenant["status"] != "active":
        return {"skip": "tenant is not active"}
    if await env.EXPORTS.head(fmt.manifest_key(tenant_id, day)) is not None:
        return {"skip": "already complete"}
    version = await db.first(last_migration(tenant["d1_binding"]))
    return {"skip": None, "tenant": dict(tenant), "day": day, "schema_version": version["name"] if version else None,
            "started_at": fmt.iso(clock.now(env))}


async def export_page(env, info: dict, table: str, seq: int, after: list | None,
                      limit: int = fmt.PAGE_ROWS, max_bytes: int = fmt.PAGE_BYTES) -> dict:
    """One keyset page of one table -> one object. SQLite builds the NDJSON lines; Python
    only fills in the REALs SQLite cannot print exactly, compresses and checksums. At
    most `limit` rows and `max_bytes` of NDJSON. Returns only small values."""
    tenant = info["tenant"]
    slow = _SlowPages()
    db = Database(env, on_slow=slow)
    scope = system_scope({"id": tenant["id"], "d1_binding": source_binding(table, tenant["d1_binding"])},
                         "backup-export")
    answer = await db.raw(scope.export_page(table, after, limit, max_bytes, name="backup.export_page"))
    data, rows, more = fmt.page_ndjson(answer, limit, max_bytes)
    out = {"rows": rows, "more": more, "key": None, "bytes": 0, "sha256": None, "cursor": None, "ndjson_bytes": 0,
           "slow": slow.count, "slow_max_ms": round(slow.max_ms, 3)}
    if not rows:
        return out
    body = fmt.gzip_bytes(data)
    key = fmt.chunk_key(tenant["id"], info["day"], table, seq)
    await _upload(env.EXPORTS, key, body)
    out.update(key=key, bytes=len(body), sha256=fmt.sha256(body), ndjson_bytes=len(data),
               cursor=fmt.page_cursor(data, scope.export_columns(table), list(keyset(table))),
               slow=slow.count, slow_max_ms=round(slow.max_ms, 3))
    return out


async def _upload(bucket, key: str, body: bytes) -> None:
    """One put, or a multipart upload for a large object. The upload id is noted in a
    marker object first, so an attempt killed mid-upload leaves nothing dangling: the
    retried step (same key) aborts the old upload before starting its own."""
    meta = {"httpMetadata": {"contentType": "application/gzip"}}
    marker = fmt.upload_marker_key(key)
    left = await bucket.get(marker)
    if left is not None:
        try:
            await bucket.resumeMultipartUpload(key, await left.text()).abort()
        except Exception:
            pass  # already completed or aborted
        await bucket.delete(marker)
    if len(body) <= fmt.PART_BYTES:
        await bucket.put(key, body, **meta)
        return
    upload = await bucket.createMultipartUpload(key, **meta)
    await bucket.put(marker, upload.uploadId)
    try:
        uploaded = []
        for n, part in enumerate(fmt.parts(body), 1):
            uploaded.append(await upload.uploadPart(n, part))
        await upload.complete(uploaded)
    except Exception:
        await upload.abort()
        raise
    await bucket.delete(marker)


async def write_manifest(env, info: dict, tables: list[dict]) -> dict:
    manifest = fmt.build_manifest(info, tables, fmt.iso(clock.now(env)))
    key = fmt.manifest_key(info["tenant"]["id"], info["day"])
    await env.EXPORTS.put(key, json.dumps(manifest, separators=(",", ":")).encode(),
                          httpMetadata={"contentType": "application/json"},
                          customMetadata=fmt.manifest_metadata(manifest))
    return {"key": key, "rows": manifest["rows"], "bytes": manifest["bytes"], "objects": manifest["objects"],
            "finished_at": manifest["finished_at"]}


async def retention(env, tenant_id: str, day: str) -> list[str]:
    """Days whose objects go: older complete exports past the kept N and incomplete
    leftovers of runs that are over."""
    from backups.catalog import list_exports

    keep = int(bindings.var(env, "EXPORT_RETENTION_DAYS", str(fmt.DEFAULT_RETENTION)))
    exports = await list_exports(env, tenant_id)
    complete = [e["day"] for e in exports if e["status"] == "complete"]
    incomplete = [e["day"] for e in exports if e["status"] == "incomplete"]
    running = {e["day"] for e in exports if e["status"] == "running"}
    return fmt.retention_plan(complete, incomplete, running, keep, day)


async def delete_some(env, prefix: str) -> int:
    """Deletes up to 1,000 objects under a prefix (R2's delete takes 1,000 keys)."""
    listing = await env.EXPORTS.list(prefix=prefix, limit=1000)
    keys = [o.key for o in listing["objects"]]
    if keys:
        await env.EXPORTS.delete(keys)
    return len(keys)


async def summary(env, info: dict, done: dict, pages: list[dict]) -> dict:
    """One metrics row per run (not one per slow page)."""
    slow = sum(p["slow"] for p in pages)
    detail = {"day": info["day"], "objects": done["objects"], "bytes": done["bytes"], "pages": len(pages),
              "slow_pages": slow, "slow_max_ms": max([p["slow_max_ms"] for p in pages] or [0])}
    await Database(env).run(insert_metric("export", "backup.export", done["rows"], json.dumps(detail),
                                          info["tenant"]["id"]))
    log.info(json.dumps({"event": "backup_export", "tenant": info["tenant"]["id"], **detail, "rows": done["rows"]}))
    return detail


# -- the run ----------------------------------------------------------------------------

async def run_export(env, event: dict, step, fatal: type[Exception] = Fatal) -> dict:
    params = event["payload"]
    tenant_id, day = params["tenant_id"], params["day"]
    if not fmt.is_day(day):
        raise fatal(f"bad export day {day!r}")

    info = await _step(step, "begin", lambda: begin(env, tenant_id, day))()
    if info["skip"]:
        return {"status": "skipped", "reason": info["skip"], "tenant_id": tenant_id, "day": day}

    tables, pages = [], []
    for name in TABLES:
        columns = sorted(TABLES[name].columns - {"tenant_id"})
        objects, after, seq = [], None, 0
        while True:
            seq += 1
            page = await _step(step, f"export {name} {seq}", _bind(export_page, env, info, name, seq, after))()
            pages.append(page)
            if page["rows"]:
                objects.append(page)
            # A step result cached before pages said "more" goes on while it had rows.
            if not page.get("more", page["rows"] > 0):
                break
            after = page["cursor"]
        tables.append({"name": name, "columns": columns, "objects": objects})

    done = await _step(step, "manifest", _bind(write_manifest, env, info, tables))()
    doomed = await _step(step, "retention plan", _bind(retention, env, tenant_id, day))()
    for old_day in doomed:
        n = 0
        while True:
            n += 1
            deleted = await _step(step, f"retention delete {old_day} {n}",
                                  _bind(delete_some, env, fmt.export_prefix(tenant_id, old_day)))()
            if deleted < 1000:
                break
    await _step(step, "summary", _bind(summary, env, info, done, pages))()
    return {"status": "complete", "tenant_id": tenant_id, "day": day, "manifest": done["key"], "rows": done["rows"],
            "objects": done["objects"], "bytes": done["bytes"], "deleted_days": doomed}


def _bind(fn, *args):
    async def call():
        return await fn(*args)
    return call


# -- the cron ---------------------------------------------------------------------------

async def schedule_nightly(env, scheduled_time_ms: int) -> dict:
    """One export instance per active tenant, id from tenant and night: a second trigger
    the same night finds the ids taken and creates nothing."""
    day = fmt.day_of(scheduled_time_ms)
    tenants = await Database(env).all(list_active_tenants())
    created, existing = [], []
    for tenant in tenants:
        instance_id = fmt.export_instance_id(tenant["id"], day)
        try:
            await env.EXPORT_WORKFLOW.create(id=instance_id, params={"tenant_id": tenant["id"], "day": day})
            created.append(instance_id)
        except Exception as exc:
            if "already_exists" not in str(exc) and "already exists" not in str(exc):
                raise
            existing.append(instance_id)
    log.info(json.dumps({"event": "nightly_export_scheduled", "day": day, "created": len(created),
                         "already": len(existing)}))
    return {"day": day, "created": created, "already": existing}
