"""The Guide's thin async service over the bindings: where conversations live (objects
named by tenant and conversation id), the settings and budgets in force (chat_settings
over the deployment's vars; usage summed from the ledger), Guide-conversation
activities (assessment_configs of type 'chat'), the grade passback, the usage view,
and erasure of a learner's conversation objects."""

from __future__ import annotations

import json
from typing import Any

import clock
from chat import limits, policy
from db.database import ConstraintViolation, Database, DataError, DataUnavailable
from db.profiles import new_id, now_iso
from db.scope import TenantScope
from lti import registration, services
from lti.http import HttpError
from lti.launch_flow import course_services_key

CONVERSATIONS = "CHAT_CONVERSATIONS"
MAX_LISTED = 100


# -- objects ------------------------------------------------------------------------------

def conversation_stub(env: Any, tenant_id: str, conversation_id: str):
    return getattr(env, CONVERSATIONS).getByName(f"{tenant_id}:{conversation_id}")


def learner_stub(env: Any, tenant_id: str, learner_id: str):
    """The learner's own object: counts their message rate (durable/chat_limits.py)."""
    return getattr(env, CONVERSATIONS).getByName(f"{tenant_id}:learner:{learner_id}")


# -- settings and budgets -------------------------------------------------------------------

def defaults(env: Any) -> dict:
    return limits.deployment_defaults({var: getattr(env, var, None) for var in limits.ENV_VARS.values()})


def _decode_settings(rows: list[dict]) -> dict[str, dict]:
    out = {}
    for r in rows:
        value = r.get("settings")
        out[r["id"]] = json.loads(value) if isinstance(value, str) else (value or {})
    return out


def _first_total(result: dict) -> int:
    rows = result.get("results") or []
    return int(rows[0]["total_tokens"]) if rows else 0


async def settings_and_usage(env: Any, db: Database, scope: TenantScope, course_context: str,
                             learner_id: str) -> tuple[dict, dict]:
    """(settings in force for this learner in this course, tokens spent today by the
    tenant, the course and the learner): one D1 batch."""
    day = limits.day_of(clock.now(env))
    keys = ["tenant", f"course:{course_context}", f"learner:{learner_id}"]
    results = await db.batch([
        scope.select("chat_settings", {"id__in": keys}, columns=["id", "settings"], name="chat.settings.layers"),
        scope.sums("chat_usage", ["total_tokens"], {"day": day}, name="chat.usage.tenant_day"),
        scope.sums("chat_usage", ["total_tokens"], {"course_context": course_context, "day": day},
                   name="chat.usage.course_day"),
        scope.sums("chat_usage", ["total_tokens"], {"learner_id": learner_id, "day": day},
                   name="chat.usage.learner_day"),
    ], name="chat.budgets")
    layers = _decode_settings(results[0].get("results") or [])
    settings = limits.effective_settings(defaults(env), layers.get(keys[0]), layers.get(keys[1]), layers.get(keys[2]))
    usage = {"tenant": _first_total(results[1]), "course": _first_total(results[2]),
             "learner": _first_total(results[3])}
    return settings, usage


async def tenant_settings(env: Any, db: Database, scope: TenantScope) -> tuple[dict, dict]:
    """(the tenant's stored choices, the settings in force for the tenant as a whole)."""
    row = await db.first(scope.select("chat_settings", {"id": "tenant"}, columns=["settings"],
                                      name="chat.settings.tenant"))
    stored = json.loads(row["settings"]) if row else {}
    return stored, limits.effective_settings(defaults(env), stored, None, None)


async def save_settings(db: Database, scope: TenantScope, key: str, changes: dict, updated_by: str,
                        learner_id: str | None = None) -> dict:
    """Merges `changes` into one settings row (a None value removes a key, so the layer
    below applies again); creates the row when missing. Returns the stored settings."""
    for attempt in (1, 2):
        row = await db.first(scope.select("chat_settings", {"id": key}, columns=["settings"],
                                          name="chat.settings.get"))
        current = json.loads(row["settings"]) if row else {}
        merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
        values = {"settings": json.dumps(merged, separators=(",", ":")), "updated_by": updated_by,
                  "updated_at": now_iso()}
        if row is not None:
            await db.run(scope.update("chat_settings", values, {"id": key}, name="chat.settings.update"))
            return merged
        try:
            await db.run(scope.insert("chat_settings", {"id": key, "learner_id": learner_id, **values},
                                      name="chat.settings.insert"))
            return merged
        except ConstraintViolation as exc:
            if exc.kind != "unique" or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def usage_view(db: Database, scope: TenantScope, days: int, now: float) -> dict:
    """Tokens and cost units per day, per model and per course over the last `days`."""
    since = limits.day_of(now - (days - 1) * 86_400)
    cols = ["prompt_tokens", "completion_tokens", "total_tokens", "cost_units"]
    where = {"day__ge": since}
    results = await db.batch([
        scope.sums("chat_usage", cols, where, group_by=["day"], name="chat.usage.by_day"),
        scope.sums("chat_usage", cols, where, group_by=["provider", "model"], name="chat.usage.by_model"),
        scope.sums("chat_usage", cols, where, group_by=["course_context"], name="chat.usage.by_course"),
        scope.count("chat_usage", where, name="chat.usage.turns"),
    ], name="chat.usage.view")
    rows = [r.get("results") or [] for r in results]
    return {"since": since, "by_day": rows[0], "by_model": rows[1], "by_course": rows[2],
            "turns": int(rows[3][0]["n"]) if rows[3] else 0}


# -- activities ----------------------------------------------------------------------------

def _decode_activity(row: dict | None) -> dict | None:
    if row is None:
        return None
    out = dict(row)
    if isinstance(out.get("ai_config"), str):
        out["ai_config"] = json.loads(out["ai_config"])
    return out


async def load_activity(db: Database, scope: TenantScope, activity_id: str) -> dict | None:
    row = await db.first(scope.select("assessment_configs", {"id": activity_id}, name="chat.activity.get"))
    return _decode_activity(row)


async def course_activity(db: Database, scope: TenantScope, activity_id: str, course_context: str) -> dict | None:
    """The activity if it belongs to the course (anything else answers like a missing one)."""
    activity = await load_activity(db, scope, activity_id)
    if activity is None or policy.activity_course(activity) != course_context:
        return None
    return activity


async def guide_activities(db: Database, scope: TenantScope, course_context: str) -> list[dict]:
    rows = await db.all(scope.select("assessment_configs", {"assessment_type": policy.GUIDE_ACTIVITY_TYPE},
                                     order_by="created_at", limit=500, name="chat.activity.list"))
    return [a for a in map(_decode_activity, rows) if policy.activity_course(a) == course_context]


async def create_guide_activity(db: Database, scope: TenantScope, course_context: str, title: str,
                                concepts: list[str], threshold: float, grading_schema: str, created_by: str,
                                resource_link_id: str | None, target_explanations: int | None) -> dict:
    activity_id = new_id()
    ai_config = {"title": title, "concepts": concepts, "course_context": course_context, "graded": True,
                 "guide_enabled": True, "target_explanations": target_explanations or 3 * len(concepts)}
    await db.run(scope.insert("assessment_configs", {
        "id": activity_id, "resource_link_id": resource_link_id or f"atomic-guide:{activity_id}",
        "assessment_type": policy.GUIDE_ACTIVITY_TYPE, "mastery_threshold": threshold,
        "grading_schema": grading_schema, "ai_config": json.dumps(ai_config), "created_by": created_by,
        "course_context": course_context, "title": title},
        name="chat.activity.create"))
    return await load_activity(db, scope, activity_id)


async def set_guide_enabled(db: Database, scope: TenantScope, activity: dict, enabled: bool) -> dict:
    ai_config = {**(policy.ai_config(activity)), "guide_enabled": bool(enabled)}
    await db.run(scope.update("assessment_configs", {"ai_config": json.dumps(ai_config), "updated_at": now_iso()},
                              {"id": activity["id"]}, name="chat.activity.guide_switch"))
    return {**activity, "ai_config": ai_config}


def activity_view(activity: dict) -> dict:
    """What the conversation object keeps of a Guide-conversation activity."""
    ai = policy.ai_config(activity)
    return {"id": activity["id"], "title": ai.get("title") or activity.get("title") or "Guide conversation",
            "concepts": [c for c in ai.get("concepts") or [] if isinstance(c, str)],
            "threshold": float(activity.get("mastery_threshold") or 80),
            "grading_schema": activity.get("grading_schema") or "mastery",
            "target_explanations": int(ai.get("target_explanations") or 3),
            "resource_link_id": activity.get("resource_link_id")}


# -- grade passback ------------------------------------------------------------------------

async def adopt_course_grants(env: Any, db: Database, scope: TenantScope, activity: dict,
                              course_context: str) -> tuple[dict | None, str | None]:
    """A Guide activity made with the API (never launched through a link of its own)
    takes its course's grade passback grant, as the course's last launch left it, so its
    grades go through activity_progress and GradeSync like every activity's. Returns (the
    activity with its platform columns, None) or (None, why not: no_launch | no_ags)."""
    ctx = await env.LTI_PLATFORMS.get(course_services_key(scope.tenant_id, course_context), type="json")
    if ctx is None:
        return None, "no_launch"
    reg = await registration.find(env, ctx.get("issuer", ""), ctx.get("client_id"))
    ags = ctx.get("ags") or {}
    if reg is None or reg.tenant_id != scope.tenant_id or not ags.get("lineitems") or \
            services.AGS_SCORE not in (ags.get("scope") or []):
        return None, "no_ags"
    values = {"platform_issuer": reg.issuer, "platform_client_id": reg.client_id, "ags_lineitems": ags["lineitems"],
              "ags_scope": json.dumps(sorted(ags.get("scope") or [])), "updated_at": now_iso()}
    await db.run(scope.update("assessment_configs", values, {"id": activity["id"]}, name="chat.activity.grants"))
    return {**activity, **values}, None


# -- erasure -----------------------------------------------------------------------------------

async def conversation_ids(db: Database, scope: TenantScope, learner_id: str) -> list[str]:
    rows = await db.all(scope.select("chat_conversations", {"learner_id": learner_id}, columns=["id"],
                                     name="chat.erase.list"))
    return [r["id"] for r in rows]


async def erase_learner_objects(env: Any, db: Database, scope: TenantScope, learner_id: str) -> int:
    """Empties the Durable Objects of every conversation of the learner and their rate
    object (D1's rows go in the erasure batch that follows). Idempotent; returns how
    many conversation objects held something."""
    purged = 0
    try:
        for conversation_id in await conversation_ids(db, scope, learner_id):
            result = await conversation_stub(env, scope.tenant_id, conversation_id).purge(None)
            purged += result.get("status") == "purged"
        await learner_stub(env, scope.tenant_id, learner_id).purge(None)
    except DataError:
        raise
    except Exception as exc:
        # Refused as a whole (the caller answers 503); a retry purges what is left.
        raise DataUnavailable(f"a Guide conversation object could not be reached: {exc}") from None
    return purged
