"""People's names for the insight pages, from the course roster (LTI Names and Role
Provisioning), cached per course in D1 (`course_roster`).

The copy is refreshed on every instructor launch (in the background, after the answer)
and by a page that finds no copy or one older than ROSTER_TTL_HOURS (default 24). If the
platform cannot be reached the pages keep the copy they have, or show LTI user ids and
say why. The roster is the platform's: a refresh replaces the course's copy whole."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import bindings
import clock
from db.database import DataError, Database
from db.scope import MAX_IN_LIST, TenantScope
from lti import registration, services
from lti.http import HttpError

log = logging.getLogger("atomic_guide.insights")

DEFAULT_TTL_HOURS = 24
NAME_MAX = 300


class RosterUnavailable(Exception):
    """The roster could not be read; the message says why (shown on the page)."""


def ttl_hours(env) -> float:
    try:
        return max(0.0, float(bindings.var(env, "ROSTER_TTL_HOURS", str(DEFAULT_TTL_HOURS))))
    except ValueError:
        return float(DEFAULT_TTL_HOURS)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def member_name(member: dict) -> str | None:
    """The name NRPS gives a member (name, else given + family name), trimmed."""
    name = member.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [member.get(k) for k in ("given_name", "family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    name = " ".join(str(name or "").split())
    return name[:NAME_MAX] or None


def is_stale(fetched_at: str | None, now_s: float, ttl_h: float) -> bool:
    return fetched_at is None or fetched_at < _iso(now_s - ttl_h * 3600)


async def fetched_at(db: Database, scope: TenantScope, context_id: str) -> str | None:
    row = await db.first(scope.select("course_roster", {"course_context": context_id}, columns=["fetched_at"],
                                      order_by="fetched_at DESC", limit=1, name="insights.roster_fetched_at"))
    return row["fetched_at"] if row else None


async def names(db: Database, scope: TenantScope, context_id: str, lti_user_ids: list[str]) -> dict[str, str]:
    """The cached names of these users (those the roster has)."""
    out: dict[str, str] = {}
    ids = sorted(set(lti_user_ids))
    for i in range(0, len(ids), MAX_IN_LIST):
        rows = await db.all(scope.select("course_roster", {"course_context": context_id,
                                                           "lti_user_id__in": ids[i:i + MAX_IN_LIST]},
                                         columns=["lti_user_id", "name"], name="insights.roster_names"))
        out.update({r["lti_user_id"]: r["name"] for r in rows})
    return out


async def all_names(db: Database, scope: TenantScope, context_id: str) -> dict[str, str]:
    rows = await db.all(scope.select("course_roster", {"course_context": context_id},
                                     columns=["lti_user_id", "name"], name="insights.roster_all"))
    return {r["lti_user_id"]: r["name"] for r in rows}


async def refresh(env, scope: TenantScope, context_id: str, retry_base_s: float = 0.5) -> int:
    """Reads the roster through NRPS and replaces the course's copy (one D1 batch).
    Returns the number of names kept; raises RosterUnavailable."""
    from lti.launch_flow import course_services_key

    try:
        ctx = await env.LTI_PLATFORMS.get(course_services_key(scope.tenant_id, context_id), type="json")
    except Exception:
        raise RosterUnavailable("the course's platform settings cannot be read right now") from None
    if ctx is None:
        raise RosterUnavailable("no launch from this course is known yet")
    nrps = (ctx.get("nrps") or {}).get("context_memberships_url")
    if not nrps:
        raise RosterUnavailable("the platform did not grant roster access (Names and Role Provisioning) here")
    try:
        reg = await registration.find(env, ctx["issuer"], ctx["client_id"])
    except DataError:
        raise RosterUnavailable("the platform registration cannot be read right now") from None
    if reg is None or reg.tenant_id != scope.tenant_id:
        raise RosterUnavailable("the course's platform registration is gone")
    try:
        members = await services.roster(env, reg, nrps, retry_base_s=retry_base_s)
    except (services.ServiceError, HttpError) as exc:
        raise RosterUnavailable(f"the platform's roster service failed ({exc})") from None
    now = _iso(clock.now(env))
    rows, seen = [], set()
    for m in members:
        uid, name = m.get("user_id"), member_name(m)
        if isinstance(uid, str) and 1 <= len(uid) <= 255 and name and uid not in seen:
            seen.add(uid)
            rows.append([context_id, uid, name, now])
    statements = [scope.delete("course_roster", {"course_context": context_id}, name="insights.roster_clear")]
    if rows:
        statements += scope.insert_exported("course_roster", ["course_context", "lti_user_id", "name", "fetched_at"],
                                            rows, name="insights.roster_store")
    try:
        await Database(env).batch(statements, name="insights.roster_refresh")
    except DataError:
        raise RosterUnavailable("the roster could not be saved (database unavailable)") from None
    return len(rows)


async def refresh_quietly(env, scope: TenantScope, context_id: str) -> dict:
    """`refresh` for background use: never raises, logs what happened."""
    try:
        n = await refresh(env, scope, context_id)
    except RosterUnavailable as exc:
        log.warning(json.dumps({"event": "roster_refresh_failed", "reason": str(exc)[:200]}))
        return {"status": "failed", "reason": str(exc)}
    except Exception as exc:  # a background task must not die noisily; the page retries
        log.error(json.dumps({"event": "roster_refresh_error", "error": type(exc).__name__}))
        return {"status": "failed", "reason": type(exc).__name__}
    return {"status": "ok", "names": n}


def refresh_after_launch(request, scope: TenantScope, context_id: str) -> bool:
    """On an instructor's launch: refresh the roster after the answer is sent (the
    runtime's waitUntil), so the launch never waits for the platform. Returns whether a
    refresh was scheduled (no execution context: the overview refreshes when it opens)."""
    ctx = request.scope.get("ctx")
    wait_until = getattr(ctx, "waitUntil", None)
    if wait_until is None:
        return False
    wait_until(refresh_quietly(request.scope["env"], scope, context_id))
    return True

