"""Restore (or only verify) one tenant from an export, as a Workflow
(`TenantRestoreWorkflow` in entry.py). Every object's size and sha256 are checked before
anything is written: a missing or tampered object ends the run naming it. The rows go
into another D1 database than the one the tenant lives in, are counted, and only then
does the tenant directory switch `d1_binding` (one statement), so the tenant never has
half its data; the KV copies of the tenant row are dropped, and after a settling sleep
the tenant's rows in the old database are deleted. Other tenants' rows are never
touched: every statement is built by the tenant's scope. The registration tables
(lti_platforms, lti_deployments) live in D1_PRIMARY whatever the binding: missing rows
are added there, nothing is deleted."""

from __future__ import annotations

import json
import logging
import zlib

import bindings
from backups import format as fmt
from backups.export import STEP_CONFIG, Fatal, _bind, _SlowPages
from db.database import ConstraintViolation, Database
from db.system import get_tenant, insert_metric, restore_tenant, set_tenant_binding, system_scope
from db.tables import DIRECTORY_TABLES, TABLES, UnscopedQueryError

log = logging.getLogger("atomic_guide.backups")

PRIMARY = bindings.D1_PRIMARY
VERIFY_BYTES = 16 * 1024 * 1024  # object bytes hashed per verify step
DELETE_ROWS = 5000  # rows deleted per clearing step
DEFAULT_SETTLE = "30 seconds"
_DATA_TABLES = [t for t in TABLES if t not in DIRECTORY_TABLES]


def choose_target(current: str | None, into: str | None, configured: list[str]) -> str:
    """Where the restored rows go. Never the database the tenant is served from (that
    would expose a half-restored tenant), unless the tenant is not in the directory at
    all (disaster recovery into an empty database)."""
    if into is not None and into not in configured:
        raise ValueError(f"D1 binding {into} is not configured")
    if current is None:
        return into or PRIMARY
    if into == current:
        raise ValueError(f"the tenant is served from {into}; restore into another database and switch")
    if into is not None:
        return into
    others = [b for b in configured if b != current]
    if not others:
        raise ValueError("no other D1 database is configured to restore into")
    return others[0]


def verify_groups(objects: list[dict]) -> list[list[dict]]:
    groups, current, size = [], [], 0
    for o in objects:
        if current and size + o["bytes"] > VERIFY_BYTES:
            groups.append(current)
            current, size = [], 0
        current.append(o)
        size += o["bytes"]
    if current:
        groups.append(current)
    return groups


async def _fetch_checked(env, obj: dict, fatal) -> bytes:
    body = await env.EXPORTS.get(obj["key"])
    if body is None:
        raise fatal(f"object {obj['key']} is missing")
    data = await body.arrayBuffer()
    if len(data) != obj["bytes"] or fmt.sha256(data) != obj["sha256"]:
        raise fatal(f"object {obj['key']} does not match its sha256 in the manifest")
    return data


# -- the steps --------------------------------------------------------------------------

async def plan(env, tenant_id: str, day: str, into: str | None, fatal) -> dict:
    body = await env.EXPORTS.get(fmt.manifest_key(tenant_id, day))
    if body is None:
        raise fatal(f"no complete export of {tenant_id} on {day} (manifest.json is missing)")
    try:
        manifest = fmt.check_manifest(json.loads(await body.text()), tenant_id, day)
    except (ValueError, UnicodeDecodeError) as exc:
        raise fatal(f"manifest.json of {day}: {exc}") from None
    objects, tables = [], {}
    for t in manifest["tables"]:
        known = TABLES.get(t["name"])
        unknown = set(t["columns"]) - (known.columns if known else set())
        if known is None or unknown or "tenant_id" in t["columns"]:
            raise fatal(f"table {t['name']} of the export does not fit the current schema ({sorted(unknown)})")
        tables[t["name"]] = {"rows": t["rows"], "columns": t["columns"]}
        objects += [{**o, "table": t["name"]} for o in t["objects"]]
    current = await Database(env).first(get_tenant(tenant_id))
    configured = [b for b in bindings.D1_DATABASES if getattr(env, b, None) is not None]
    try:
        target = choose_target(current["d1_binding"] if current else None, into, configured)
    except ValueError as exc:
        raise fatal(str(exc)) from None
    return {"tenant": manifest["tenant"], "source": current["d1_binding"] if current else None, "target": target,
            "tables": tables, "objects": objects, "rows": manifest["rows"], "bytes": manifest["bytes"]}


async def verify(env, group: list[dict], fatal) -> dict:
    for obj in group:
        await _fetch_checked(env, obj, fatal)
    return {"objects": len(group), "bytes": sum(o["bytes"] for o in group)}


async def clear(env, tenant_id: str, binding: str) -> dict:
    """Deletes up to DELETE_ROWS of the tenant's data rows in one database, children
    first (so no cascade does unbounded work). done=True when none are left."""
    db = Database(env, on_slow=_SlowPages())
    scope = system_scope({"id": tenant_id, "d1_binding": binding}, "backup-restore")
    budget = DELETE_ROWS
    for table in reversed(_DATA_TABLES):
        while budget > 0:
            changes = (await db.run(scope.delete_some(table, budget, name="backup.clear")))["changes"]
            budget -= changes
            if changes == 0:
                break
        if budget <= 0:
            return {"deleted": DELETE_ROWS, "done": False}
    return {"deleted": DELETE_ROWS - budget, "done": True}


async def tenant_copy(env, p: dict) -> None:
    """The tenant's row in the target database (its tables' foreign keys point at it)."""
    if p["target"] != PRIMARY:
        await Database(env).run(restore_tenant(p["tenant"], p["target"], binding=p["target"]))
    elif p["source"] is None:
        await Database(env).run(restore_tenant(p["tenant"], PRIMARY))


async def load(env, p: dict, obj: dict, fatal) -> dict:
    data = await _fetch_checked(env, obj, fatal)
    table = obj["table"]
    dest = PRIMARY if table in DIRECTORY_TABLES else p["target"]
    scope = system_scope({"id": p["tenant"]["id"], "d1_binding": dest}, "backup-restore")
    columns = p["tables"][table]["columns"]
    try:
        # The rows go to D1 as JSON text, a few statements per object, without Python
        # touching each value: the CPU of a step is the object's decompression and
        # checksum, whatever its rows hold (bench/backups.py measures it).
        arrays, exact_lines, rows = fmt.restore_parts(fmt.chunk_text(data))
        stmts = [scope.insert_exported_json(table, columns, a, name="backup.restore_rows") for a in arrays]
        if exact_lines:
            stmts += scope.insert_exported(table, columns, [json.loads(line) for line in exact_lines],
                                           name="backup.restore_rows")
    except (ValueError, TypeError, zlib.error, UnscopedQueryError) as exc:  # checksum fine, content not
        raise fatal(f"object {obj['key']} cannot be read: {exc}") from None
    slow = _SlowPages()  # summarised in the run's one metrics row, not a row per batch
    if stmts:
        try:
            await Database(env, on_slow=slow).batch(stmts, name="backup.restore_batch")
        except ConstraintViolation as exc:  # a row that is not a row of this table: retrying cannot help
            raise fatal(f"object {obj['key']} cannot be read: a row does not fit table {table} ({exc.kind})") from None
    return {"rows": rows, "slow": slow.count}


async def check_counts(env, p: dict, fatal) -> dict:
    db = Database(env, on_slow=_SlowPages())
    scope = system_scope({"id": p["tenant"]["id"], "d1_binding": p["target"]}, "backup-restore")
    counts = {}
    for table in _DATA_TABLES:
        expected = p["tables"].get(table, {}).get("rows", 0)
        got = (await db.first(scope.count(table, name="backup.count")))["n"]
        if got != expected:
            raise fatal(f"table {table}: {got} rows restored, the export has {expected}; nothing was switched")
        counts[table] = got
    return counts


async def switch(env, p: dict) -> dict:
    db = Database(env)
    tenant_id = p["tenant"]["id"]
    if p["source"] is not None and p["source"] != p["target"]:
        await db.run(set_tenant_binding(tenant_id, p["target"]))
    await forget_cached(env, tenant_id)
    return {"d1_binding": p["target"]}


async def forget_cached(env, tenant_id: str) -> int:
    """Drops the KV copies of the tenant row and of its learners' profiles: they were
    taken from the database the tenant no longer lives in."""
    from resilience.cache import forget, tenant_key

    await forget(env, tenant_key(tenant_id))
    kv = getattr(env, "PROFILE_CACHE", None)
    if kv is None:
        return 0
    dropped, cursor = 0, None
    while True:
        opts = {"prefix": f"profile:{tenant_id}:"}
        if cursor:
            opts["cursor"] = cursor
        listing = await kv.list(opts)
        for key in listing["keys"]:
            await forget(env, key["name"])
            dropped += 1
        if listing.get("list_complete", True):
            return dropped
        cursor = listing.get("cursor")


async def summary(env, p: dict, day: str, slow: int) -> None:
    detail = {"day": day, "from": p["source"], "into": p["target"], "objects": len(p["objects"]), "slow_batches": slow}
    await Database(env).run(insert_metric("export", "backup.restore", p["rows"], json.dumps(detail),
                                          p["tenant"]["id"]))
    log.info(json.dumps({"event": "backup_restore", "tenant": p["tenant"]["id"], **detail}))


# -- the run ----------------------------------------------------------------------------

def _s(step, name: str, fn):
    return step.do(name, config=STEP_CONFIG)(fn)


async def run_restore(env, event: dict, step, fatal: type[Exception] = Fatal) -> dict:
    """A refusal (bad manifest, missing or tampered object, counts that do not match)
    ends the run with output {"status": "refused", "reason": ...}: caught here, because
    an uncaught NonRetryableError leaves only a generic instance error on the platform
    (measured against miniflare in tests/parity/test_workflows_contract.py)."""
    params = event["payload"]
    tenant_id, day = params["tenant_id"], params["day"]
    try:
        return await _restore(env, step, params, tenant_id, day, fatal)
    except fatal as exc:
        log.warning(json.dumps({"event": "backup_restore_refused", "tenant": tenant_id, "day": day,
                                "reason": str(exc)}))
        return {"status": "refused", "tenant_id": tenant_id, "day": day, "reason": str(exc)}


async def _restore(env, step, params: dict, tenant_id: str, day: str, fatal) -> dict:
    if not fmt.is_day(day):
        raise fatal(f"bad export day {day!r}")
    p = await _s(step, "plan", _bind(plan, env, tenant_id, day, params.get("into"), fatal))()
    for i, group in enumerate(verify_groups(p["objects"]), 1):
        await _s(step, f"verify {i}", _bind(verify, env, group, fatal))()
    if params.get("verify_only"):
        return {"status": "verified", "tenant_id": tenant_id, "day": day, "objects": len(p["objects"]),
                "bytes": p["bytes"]}

    n = 0
    while not (await _s(step, f"clear target {(n := n + 1)}", _bind(clear, env, tenant_id, p["target"]))())["done"]:
        pass
    await _s(step, "tenant row", _bind(tenant_copy, env, p))()
    slow = 0
    for i, obj in enumerate(p["objects"], 1):
        slow += (await _s(step, f"load {i} {obj['table']}", _bind(load, env, p, obj, fatal))())["slow"]
    await _s(step, "check counts", _bind(check_counts, env, p, fatal))()
    await _s(step, "switch", _bind(switch, env, p))()
    if p["source"] is not None and p["source"] != p["target"]:
        # Requests that read the directory before the switch may still be running
        # against the old database: let them finish before its rows go.
        await step.sleep("settle", params.get("settle") or DEFAULT_SETTLE)
        await _s(step, "forget cached again", _bind(forget_cached, env, tenant_id))()
        n = 0
        while not (await _s(step, f"clear source {(n := n + 1)}", _bind(clear, env, tenant_id, p["source"]))())["done"]:
            pass
    await _s(step, "summary", _bind(summary, env, p, day, slow))()
    return {"status": "restored", "tenant_id": tenant_id, "day": day, "from": p["source"], "into": p["target"],
            "rows": p["rows"], "objects": len(p["objects"])}
