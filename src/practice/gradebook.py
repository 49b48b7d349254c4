"""Activity grades to the platform's gradebook (AGS), driven by one GradeSync Durable
Object per activity (src/durable/grade_sync.py) and its alarm:

- an answer that changes a learner's score marks their activity_progress row `pending`
  (in D1, with the answer) and asks the activity's object to run; the object's alarm sends
  each pending row's latest score once, so a score is sent once per change;
- a failed send stays in D1 as `retrying` with the error and the time of the next try
  (exponential backoff from 30 s, at most 6 h apart); after MAX_ATTEMPTS it is `failed`
  and waits for the instructor's "retry now";
- one gradebook column per activity: the column the launch named, else the course's line
  item found by the activity's resource link and TAG, else one created; one object per
  activity means one creator at a time. The URL is kept on the activity;
- a score goes only to its activity's column, with the AGS endpoint and the registration
  its launches came with, and only for rows of the activity's own course."""

from __future__ import annotations

import json
import logging

from db.database import Database
from db.profiles import now_iso
from db.system import list_active_tenants, system_scope
from learner import memory as mem
from lti import registration, services
from lti.http import HttpError
from practice import grading

log = logging.getLogger("atomic_guide.practice")

TAG = "atomic-guide-activity"
MAX_SENDS_PER_RUN = 50
BACKOFF_BASE_S = 30
BACKOFF_CAP_S = 6 * 3600
MAX_ATTEMPTS = 12
D1_RETRY_MS = 60_000
HTTP_RETRY_BASE_S = 0.2  # retries inside one send (429/5xx); the alarm is the retry loop beyond


def backoff_s(attempts: int) -> float:
    """Seconds before try number `attempts + 1`, after `attempts` failures (>= 1)."""
    return float(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


def object_name(tenant_id: str, activity_id: str) -> str:
    return f"{tenant_id}:{activity_id}"


async def request_sync(env, tenant_id: str, d1_binding: str, activity_id: str) -> bool:
    """Asks the activity's GradeSync object to send what is pending. Best effort: a row
    left pending is picked up by the next answer, the instructor's page or the nightly cron."""
    ns = getattr(env, "GRADE_SYNC", None)
    if ns is None:
        return False
    try:
        await ns.getByName(object_name(tenant_id, activity_id)).schedule(tenant_id, d1_binding, activity_id)
        return True
    except Exception as exc:
        log.warning(json.dumps({"event": "grade_sync_not_scheduled", "activity_id": activity_id,
                                "error": type(exc).__name__}))
        return False


def _scope(tenant_id: str, d1_binding: str):
    return system_scope({"id": tenant_id, "d1_binding": d1_binding}, "grade-sync")


async def _fail_all(db, scope, rows: list[dict], status: str, error: str, now_ms: int) -> None:
    for r in rows:
        attempts = int(r["sync_attempts"]) + 1
        final = status == "failed" or attempts >= MAX_ATTEMPTS
        next_at = None if final else mem.to_iso(mem.from_epoch_ms(now_ms + int(backoff_s(attempts) * 1000)))
        values = {"sync_status": "failed" if final else "retrying", "sync_attempts": attempts,
                  "sync_error": error[:500], "next_sync_at": next_at}
        await db.run(scope.update("activity_progress", values, {"id": r["id"], "sync_status__in": ["pending",
                                                                                                   "retrying"]},
                                  name="activity_progress.sync_failed"))


async def _column(env, db, scope, activity: dict, reg, ags_scope: list[str]) -> str:
    """The activity's gradebook column: kept URL, else found by resource link and tag, else created."""
    if activity["line_item_url"]:
        return activity["line_item_url"]
    rl = activity["resource_link_id"]
    url = await services.find_line_item(env, reg, activity["ags_lineitems"], rl, TAG, HTTP_RETRY_BASE_S)
    if url is None:
        if services.AGS_LINEITEM not in ags_scope:
            raise services.ServiceError("the platform named no column for this activity and did not grant "
                                        "creating one (AGS lineitem scope)")
        url = await services.create_line_item(env, reg, activity["ags_lineitems"], rl, TAG, activity["title"][:255],
                                              100.0, HTTP_RETRY_BASE_S)
    await db.run(scope.update("assessment_configs", {"line_item_url": url, "updated_at": now_iso()},
                              {"id": activity["id"]}, name="activities.line_item"))
    return url


async def sync_activity(env, tenant_id: str, d1_binding: str, activity_id: str, now_ms: int) -> int | None:
    """Sends the activity's pending scores; returns when to run again (epoch ms) or None."""
    db = Database(env)
    scope = _scope(tenant_id, d1_binding)
    activity = await db.first(scope.select("assessment_configs", {"id": activity_id}, name="activities.get"))
    if activity is None:
        return None
    rows = await db.all(scope.select("activity_progress", {"activity_id": activity_id,
                                                           "sync_status__in": ["pending", "retrying"]},
                                     name="activity_progress.to_sync"))
    if not rows:
        return None
    now_text = mem.to_iso(mem.from_epoch_ms(now_ms))
    if not activity["graded"]:
        for r in rows:
            await db.run(scope.update("activity_progress", {"sync_status": "not_graded"}, {"id": r["id"]},
                                      name="activity_progress.not_graded"))
        return None
    foreign = [r for r in rows if r["course_context"] != activity["course_context"]]
    if foreign:  # never sent to another course's gradebook
        await _fail_all(db, scope, foreign, "failed", "this progress belongs to another course", now_ms)
    rows = [r for r in rows if r["course_context"] == activity["course_context"]]
    due = [r for r in rows if not r["next_sync_at"] or r["next_sync_at"] <= now_text]
    later = [r["next_sync_at"] for r in rows if r["next_sync_at"] and r["next_sync_at"] > now_text]
    ags_scope = json.loads(activity["ags_scope"] or "[]")
    if due and (not activity["platform_issuer"] or not activity["ags_lineitems"]
                or services.AGS_SCORE not in ags_scope):
        await _fail_all(db, scope, due, "failed", "the platform did not grant grade passback for this activity "
                                                  "(no AGS score scope in its launches)", now_ms)
        due = []
    reg = None
    if due:
        reg = await registration.find(env, activity["platform_issuer"], activity["platform_client_id"])
        if reg is None or reg.tenant_id != tenant_id:
            await _fail_all(db, scope, due, "failed", "the platform's registration is gone", now_ms)
            due = []
    column = None
    if due:
        try:
            column = await _column(env, db, scope, activity, reg, ags_scope)
        except (services.ServiceError, HttpError, KeyError, ValueError) as exc:
            await _fail_all(db, scope, due, "retrying", f"finding the gradebook column: {exc}", now_ms)
            due = []
    more = len(due) > MAX_SENDS_PER_RUN
    changed_meanwhile = False
    for r in due[:MAX_SENDS_PER_RUN]:
        g = grading.ActivityGrade(float(r["score"]), int(r["concepts_mastered"]),
                                  len(json.loads(activity["concepts"] or "[]")), bool(r["mastered"]),
                                  int(r["attempts"]), int(r["correct"]))
        body = services.score_body(r["lti_user_id"], g.score, 100.0, "Completed" if g.mastered else "InProgress",
                                   "FullyGraded", grading.comment(g, activity["grading_schema"],
                                                                  float(activity["mastery_threshold"])),
                                   when=mem.from_epoch_ms(now_ms))
        try:
            await services.post_score(env, reg, column, body, HTTP_RETRY_BASE_S)
        except (services.ServiceError, HttpError) as exc:
            if "HTTP 404" in str(exc):  # the column was deleted in the gradebook: find or create it again
                await db.run(scope.update("assessment_configs", {"line_item_url": None}, {"id": activity_id},
                                          name="activities.line_item_gone"))
            await _fail_all(db, scope, [r], "retrying", f"sending the score: {exc}", now_ms)
            continue
        sent = {"sent_score": g.score, "sent_version": int(r["score_version"]), "sent_at": now_text,
                "sync_attempts": 0, "sync_error": None, "next_sync_at": None}
        meta = await db.run(scope.update("activity_progress", {**sent, "sync_status": "sent"},
                                         {"id": r["id"], "score_version": r["score_version"]},
                                         name="activity_progress.sent"))
        if meta["changes"] == 0:  # the score changed while it was being sent: the new one goes next
            changed_meanwhile = True
            await db.run(scope.update("activity_progress", sent, {"id": r["id"]}, name="activity_progress.sent_old"))
    rest = await db.all(scope.select("activity_progress", {"activity_id": activity_id,
                                                           "sync_status__in": ["pending", "retrying"]},
                                     columns=["next_sync_at"], name="activity_progress.sync_next"))
    times = [mem.from_iso(r["next_sync_at"]) for r in rest if r["next_sync_at"]]
    if more or changed_meanwhile or any(not r["next_sync_at"] for r in rest):
        return now_ms
    if times:
        return int(min(times).timestamp() * 1000)
    return int(min(mem.from_iso(t) for t in later).timestamp() * 1000) if later else None


async def sweep(env) -> int:
    """The nightly safety net: asks every activity with a pending or retrying grade to run
    (a request that could not reach its object is not lost). Returns the activities asked."""
    asked = 0
    for tenant in await Database(env).all(list_active_tenants()):
        scope = _scope(tenant["id"], tenant.get("d1_binding") or "D1_PRIMARY")
        rows = await Database(env).all(scope.select("activity_progress", {"sync_status__in": ["pending", "retrying"]},
                                                    columns=["activity_id"], limit=5000,
                                                    name="activity_progress.sweep"))
        for activity_id in sorted({r["activity_id"] for r in rows}):
            asked += await request_sync(env, tenant["id"], scope.d1_binding, activity_id)
    return asked
