"""The nightly snapshots as a Workflow per tenant (`TenantInsightsWorkflow` in entry.py),
started by the same cron as the backups. Bounded work: one step lists the tenant's
courses with a learning session in the last ACTIVE_DAYS (at most MAX_COURSES, within a
Workflow's 1,024 steps), then one step per course computes and stores its snapshot and
returns a few numbers. A crashed run resumes at the next course; a rerun the same day
replaces that day's rows (instance ids are per tenant and night, so the cron firing twice
starts nothing twice)."""

from __future__ import annotations

import json
import logging

import clock
from db.database import Database
from db.system import get_tenant, list_active_tenants, system_scope
from insights import service

log = logging.getLogger("atomic_guide.insights")

STEP_CONFIG = {"retries": {"limit": 4, "delay": "5 seconds", "backoff": "exponential"}, "timeout": "5 minutes"}
MAX_COURSES = 1000
ACTIVE_DAYS = 90
DAY_MS = 86_400_000


class Fatal(Exception):
    """Stands in for workers.workflows.NonRetryableError outside the runtime."""


def instance_id(tenant_id: str, day: str) -> str:
    """Per tenant and night; an id Workflows would refuse is replaced by its hash (as the
    export's)."""
    from backups.format import export_instance_id

    return "insights-" + export_instance_id(tenant_id, day).removeprefix("export-")


def _step(step, name: str, fn):
    return step.do(name, config=STEP_CONFIG)(fn)


async def list_courses(env, tenant_id: str) -> dict:
    """The tenant's courses with a learner session in the last ACTIVE_DAYS, walking the
    (tenant, course) index one course at a time (no scan of the sessions)."""
    db = Database(env)
    tenant = await db.first(get_tenant(tenant_id))
    if tenant is None or tenant["status"] != "active":
        return {"skip": "tenant is not active", "courses": []}
    scope = system_scope(tenant, "insights")
    now_ms = clock.now_ms(env)
    since = service.iso_ms(now_ms - ACTIVE_DAYS * DAY_MS)
    courses, last, truncated = [], "", False
    while True:
        row = await db.first(scope.select("learning_sessions", {"course_context__gt": last}, columns=["course_context"],
                                          order_by="course_context", limit=1, name="insights.next_course"))
        if row is None:
            break
        last = row["course_context"]
        recent = await db.first(scope.select("learning_sessions", {"course_context": last, "session_start__ge": since},
                                             columns=["id"], limit=1, name="insights.course_active"))
        if recent is not None:
            if len(courses) == MAX_COURSES:
                truncated = True
                break
            courses.append(last)
    return {"skip": None, "tenant": {"id": tenant["id"], "d1_binding": tenant["d1_binding"]}, "courses": courses,
            "now_ms": now_ms, "truncated": truncated}


async def snapshot_course(env, tenant: dict, context_id: str, now_ms: int) -> dict:
    return await service.compute_and_store(env, system_scope(tenant, "insights"), context_id, now_ms)


async def run_snapshots(env, event: dict, step, fatal: type[Exception] = Fatal) -> dict:
    params = event["payload"]
    tenant_id = params.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise fatal("an insights run needs a tenant_id")
    info = await _step(step, "courses", lambda: list_courses(env, tenant_id))()
    if info["skip"]:
        return {"status": "skipped", "reason": info["skip"], "tenant_id": tenant_id}
    reports = []
    for n, context_id in enumerate(info["courses"], 1):
        reports.append(await _step(step, f"course {n}", _bind(snapshot_course, env, info["tenant"], context_id,
                                                               info["now_ms"]))())
    out = {"status": "complete", "tenant_id": tenant_id, "courses": len(reports),
           "learners": sum(r["learners"] for r in reports), "truncated": info["truncated"]}
    log.info(json.dumps({"event": "insights_snapshots", **out}))
    return out


def _bind(fn, *args):
    async def call():
        return await fn(*args)
    return call


async def schedule_nightly(env, scheduled_time_ms: int) -> dict:
    """One snapshot instance per active tenant and night (a second trigger creates none)."""
    day = service.utc_day(scheduled_time_ms)
    tenants = await Database(env).all(list_active_tenants())
    created, existing = [], []
    for tenant in tenants:
        iid = instance_id(tenant["id"], day)
        try:
            await env.INSIGHTS_WORKFLOW.create(id=iid, params={"tenant_id": tenant["id"], "day": day})
            created.append(iid)
        except Exception as exc:
            if "already_exists" not in str(exc) and "already exists" not in str(exc):
                raise
            existing.append(iid)
    log.info(json.dumps({"event": "insights_scheduled", "day": day, "created": len(created),
                         "already": len(existing)}))
    return {"day": day, "created": created, "already": existing}
