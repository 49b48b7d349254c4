"""What exports a tenant has in R2: one entry per day with its status (complete: the
manifest exists; running: its workflow instance is still going; incomplete: leftovers
of a run that ended without a manifest) and sizes."""

from __future__ import annotations

from backups import format as fmt

LIVE = ("queued", "running", "waiting", "paused", "waitingForPause")


async def _days(bucket, tenant_id: str) -> list[str]:
    days, cursor = [], None
    while True:
        opts = {"prefix": fmt.tenant_prefix(tenant_id), "delimiter": "/", "limit": 1000}
        if cursor:
            opts["cursor"] = cursor
        listing = await bucket.list(**opts)
        days += [p[len(opts["prefix"]):-1] for p in listing["delimitedPrefixes"]]
        if not listing["truncated"]:
            return sorted(d for d in days if fmt.is_day(d))
        cursor = listing["cursor"]


async def _sizes(bucket, prefix: str) -> tuple[int, int]:
    objects = size = 0
    cursor = None
    while True:
        opts = {"prefix": prefix, "limit": 1000}
        if cursor:
            opts["cursor"] = cursor
        listing = await bucket.list(**opts)
        objects += len(listing["objects"])
        size += sum(o.size for o in listing["objects"])
        if not listing["truncated"]:
            return objects, size
        cursor = listing["cursor"]


async def _instance_status(env, tenant_id: str, day: str) -> str | None:
    workflow = getattr(env, "EXPORT_WORKFLOW", None)
    if workflow is None:
        return None
    try:
        instance = await workflow.get(fmt.export_instance_id(tenant_id, day))
        return (await instance.status())["status"]
    except Exception:  # unknown id (never created, or its record expired)
        return None


async def list_exports(env, tenant_id: str) -> list[dict]:
    bucket = env.EXPORTS
    out = []
    for day in await _days(bucket, tenant_id):
        head = await bucket.head(fmt.manifest_key(tenant_id, day))
        if head is not None:
            meta = head.customMetadata or {}
            out.append({"day": day, "status": "complete", "manifest": head.key,
                        "rows": int(meta.get("rows", 0)), "bytes": int(meta.get("bytes", 0)),
                        "objects": int(meta.get("objects", 0)), "started_at": meta.get("started_at"),
                        "finished_at": meta.get("finished_at"), "schema_version": meta.get("schema_version")})
            continue
        objects, size = await _sizes(bucket, fmt.export_prefix(tenant_id, day))
        state = await _instance_status(env, tenant_id, day)
        out.append({"day": day, "status": "running" if state in LIVE else "incomplete", "manifest": None,
                    "rows": None, "bytes": size, "objects": objects, "instance_status": state})
    return out


async def latest_complete(env, tenant_id: str) -> dict | None:
    complete = [e for e in await list_exports(env, tenant_id) if e["status"] == "complete"]
    return complete[-1] if complete else None
