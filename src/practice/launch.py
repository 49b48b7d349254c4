"""What a launch of a deep-linked activity opens, and binding the activity to its resource
link (the scheme is explained in migrations/0009_practice.sql): the resource link decides
once bound; the `activity_id` custom parameter binds a pending activity on its first
launch, or copies an activity bound elsewhere (course copy) to the new link."""

from __future__ import annotations

import json
from dataclasses import dataclass

from db.database import ConstraintViolation, Database
from db.profiles import new_id, now_iso
from db.scope import TenantScope
from lti.launch import LaunchClaims
from practice.service import PENDING, activity_for_link, get_activity

CUSTOM_PARAM = "activity_id"
_COPIED = ("assessment_type", "mastery_threshold", "grading_schema", "ai_config", "created_by", "title", "concepts",
           "graded", "typo_tolerance", "engagement_target", "status", "closes_at")


@dataclass(frozen=True)
class Destination:
    activity_id: str | None   # None: the activity named by the link is gone
    type: str | None = None

    def path(self, instructor: bool) -> str:
        if self.activity_id is None:
            return "/app"
        if instructor:
            return f"/app/activities/{self.activity_id}"
        if self.type == "chat":
            # The Guide-conversation activity page (the AI Guide's own route).
            return f"/app/guide/{self.activity_id}"
        return "/app/practice"


def _platform_values(claims: LaunchClaims) -> dict:
    ags = claims.ags or {}
    values = {"platform_issuer": claims.issuer, "platform_client_id": claims.client_id,
              "ags_lineitems": ags.get("lineitems"), "ags_scope": json.dumps(sorted(ags.get("scope") or []))}
    if ags.get("lineitem"):  # the platform names the activity's column (Canvas, for assignments)
        values["line_item_url"] = ags["lineitem"]
    return values


async def _refresh(db: Database, scope: TenantScope, row: dict, claims: LaunchClaims) -> None:
    values = _platform_values(claims)
    if any(row.get(k) != v for k, v in values.items()):
        await db.run(scope.update("assessment_configs", {**values, "updated_at": now_iso()}, {"id": row["id"]},
                                  name="activities.platform"))


async def open_activity(db: Database, scope: TenantScope, claims: LaunchClaims) -> Destination | None:
    """The activity this launch opens (binding it first if needed), or None for a launch
    that names no activity (course navigation)."""
    rl = claims.resource_link_id
    bound = await activity_for_link(db, scope, rl)
    if bound is not None:
        await _refresh(db, scope, bound, claims)
        return Destination(bound["id"], bound["assessment_type"])
    wanted = claims.custom.get(CUSTOM_PARAM)
    if not wanted or not rl:
        return None
    row = await get_activity(db, scope, wanted)
    if row is None:
        return Destination(None)
    now = now_iso()
    values = {**_platform_values(claims), "updated_at": now, "bound_at": now}
    if str(row["resource_link_id"]).startswith(PENDING) and row["course_context"] == claims.context_id:
        try:
            await db.run(scope.update("assessment_configs", {"resource_link_id": rl, **values},
                                      {"id": row["id"], "resource_link_id": row["resource_link_id"]},
                                      name="activities.bind"))
        except ConstraintViolation as exc:
            if exc.kind != "unique":
                raise
    else:
        copy = {k: row[k] for k in _COPIED}
        try:
            await db.run(scope.insert("assessment_configs", {
                **copy, "id": new_id(), "resource_link_id": rl, "course_context": claims.context_id,
                "origin_id": row["id"], "created_at": now, **values}, name="activities.copy"))
        except ConstraintViolation as exc:
            if exc.kind != "unique":
                raise
    bound = await activity_for_link(db, scope, rl)  # ours, or the one a concurrent first launch bound
    if bound is None:
        return Destination(None)
    return Destination(bound["id"], bound["assessment_type"])
