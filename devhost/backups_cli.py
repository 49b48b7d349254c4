"""CLI of the backups on the local host (python -m devhost export | restore |
verify-export | list-exports): each runs the very Workflow the platform runs, in
this process, and shows its progress from the steps the engine has completed."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time


def add_commands(sub) -> None:
    tenant_help = "the tenant's id (a UUID)"
    day_help = "the export's day, YYYY-MM-DD (UTC)"
    exp = sub.add_parser("export", help="export one tenant now (the nightly export workflow), with progress")
    exp.add_argument("--tenant", required=True, help=tenant_help)
    exp.add_argument("--day", help="YYYY-MM-DD (default: today, UTC)")
    res = sub.add_parser("restore", help="restore one tenant from an export (verifies every object first)")
    res.add_argument("--tenant", required=True, help=tenant_help)
    res.add_argument("--day", required=True, help=day_help)
    res.add_argument("--into", help="D1 binding to restore into (default: the other database)")
    res.add_argument("--settle", default="1 second", help="wait after the switch before old rows go")
    ver = sub.add_parser("verify-export", help="check every object of an export against its manifest")
    ver.add_argument("--tenant", required=True, help=tenant_help)
    ver.add_argument("--day", required=True, help=day_help)
    lst = sub.add_parser("list-exports", help="a tenant's exports with status and sizes")
    lst.add_argument("--tenant", required=True, help=tenant_help)


COMMANDS = ("export", "restore", "verify-export", "list-exports")


def run(args, host) -> int:
    host.migrate()
    return asyncio.run(_run(args, host))


async def _run(args, host) -> int:
    await host.start()
    try:
        if args.command == "list-exports":
            from backups.catalog import list_exports

            print(json.dumps(await list_exports(host.env, args.tenant), indent=2))
            return 0
        if args.command == "export":
            from backups.format import day_of, export_instance_id

            day = args.day or day_of(int(time.time() * 1000))
            status = await _with_progress(host, "EXPORT_WORKFLOW", export_instance_id(args.tenant, day),
                                          {"tenant_id": args.tenant, "day": day}, _export_total(host, args.tenant),
                                          _export_done, f"export {args.tenant} {day}")
        else:
            import secrets

            verify = args.command == "verify-export"
            params = {"tenant_id": args.tenant, "day": args.day, "verify_only": verify}
            if not verify:
                params.update(into=args.into, settle=args.settle)
            kind = "verify" if verify else "restore"
            status = await _with_progress(host, "RESTORE_WORKFLOW", f"{kind}-{secrets.token_hex(8)}", params, None,
                                          _restore_done(verify), f"{kind} {args.tenant} {args.day}")
        print(json.dumps({k: v for k, v in status.items() if not k.startswith("__")}, indent=2))
        ok = status["status"] == "complete" and (status.get("output") or {}).get("status") != "refused"
        return 0 if ok else 1
    finally:
        await host.aclose()


def _export_total(host, tenant: str) -> int:
    from db.tables import DIRECTORY_TABLES, TABLES

    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    row = conn.execute("SELECT d1_binding FROM tenants WHERE id = ?", (tenant,)).fetchone()
    conn.close()
    total = 0
    for name in TABLES:
        path = host.d1["D1_PRIMARY" if name in DIRECTORY_TABLES or row is None else row[0]].path
        c = sqlite3.connect(path)
        total += c.execute(f"SELECT count(*) FROM {name} WHERE tenant_id = ?", (tenant,)).fetchone()[0]
        c.close()
    return total


def _export_done(outputs: list) -> tuple[int, int | None]:
    return sum(o.get("rows", 0) for o in outputs if isinstance(o, dict) and "cursor" in o), None


def _restore_done(verify: bool):
    def done(outputs: list) -> tuple[int, int | None]:
        plan = next((o for o in outputs if isinstance(o, dict) and "objects" in o and "target" in o), None)
        if plan is None:
            return 0, None
        if verify:
            return sum(o["objects"] for o in outputs if isinstance(o, dict) and "bytes" in o and "target" not in o), \
                len(plan["objects"])
        return sum(o["rows"] for o in outputs if isinstance(o, dict) and set(o) == {"rows", "slow"}), plan["rows"]
    return done


async def _with_progress(host, binding: str, instance_id: str, params: dict, total: int | None, done_of,
                         label: str) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    wf = host.workflows[binding]
    try:
        instance = await wf.create(id=instance_id, params=params)
    except Exception as exc:
        if "already_exists" not in str(exc):
            raise
        print(f"{instance_id} exists already; showing it", file=sys.stderr)
        instance = await wf.get(instance_id)
        wf._schedule(instance_id)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:
        task = bar.add_task(label, total=total)
        while True:
            status = await instance.status()
            done, new_total = done_of(status["__LOCAL_DEV_STEP_OUTPUTS"])
            bar.update(task, completed=done, total=new_total or total)
            if status["status"] not in ("queued", "running", "waiting"):
                return status
            await asyncio.sleep(0.2)  # a terminal UI refresh, nothing waits on it
