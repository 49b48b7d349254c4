"""The learner-profile aggregate: upsert at launch, read, optimistic update, instructor
views by course, and the data-subject rights (export everything, erase everything)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import privacy
from db.database import Database
from db.scope import TenantScope
from db.tables import LEARNER_COLUMNS_CLEARED_ON_ERASURE, LEARNER_TABLES_CHILD_FIRST, TABLES


def new_id() -> str:
    """A random UUIDv4 string, made at request time (never at import)."""
    b = bytearray(secrets.token_bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _decode(table_name: str, row: dict | None) -> dict | None:
    if row is None:
        return None
    out = dict(row)
    for col in TABLES[table_name].json_columns:
        if isinstance(out.get(col), str):
            out[col] = json.loads(out[col])
    return out


async def get_by_user(db: Database, scope: TenantScope, lti_user_id: str) -> dict | None:
    row = await db.first(scope.select("learner_profiles", {"lti_user_id": lti_user_id}, name="profile.get_by_user"))
    return _decode("learner_profiles", row)


async def get_by_id(db: Database, scope: TenantScope, profile_id: str) -> dict | None:
    row = await db.first(scope.select("learner_profiles", {"id": profile_id}, name="profile.get_by_id"))
    return _decode("learner_profiles", row)


async def ensure(db: Database, scope: TenantScope, lti_user_id: str) -> dict:
    """Get or create the profile of an LTI user. Idempotent under races; the created row
    comes back from the insert itself, so a failure never follows a write it reports."""
    existing = await get_by_user(db, scope, lti_user_id)
    if existing is not None:
        return existing
    from db.database import ConstraintViolation

    try:
        rows = await db.all(scope.insert("learner_profiles", {"id": new_id(), "lti_user_id": lti_user_id},
                                         name="profile.create", returning=True))
        return _decode("learner_profiles", rows[0])
    except ConstraintViolation as exc:
        if exc.kind != "unique":
            raise
    return await get_by_user(db, scope, lti_user_id)


async def open_launch_session(db: Database, scope: TenantScope, lti_user_id: str, context_id: str,
                             course_role: str) -> tuple[dict, str]:
    """What a launch writes, as one atomic D1 batch: the learner's profile if it is new,
    and a learning session in the course. Two first launches of one user at once end
    with one profile: the loser's batch fails on the unique user and is retried with the
    winner's profile. Returns (profile, learning session id)."""
    from db.database import ConstraintViolation

    session_id = new_id()
    for attempt in (1, 2):
        profile = await get_by_user(db, scope, lti_user_id)
        learner_id = profile["id"] if profile is not None else new_id()
        statements = []
        if profile is None:
            statements.append(scope.insert("learner_profiles", {"id": learner_id, "lti_user_id": lti_user_id},
                                           name="profile.create", returning=True))
        statements.append(scope.insert("learning_sessions", {
            "id": session_id, "learner_id": learner_id, "course_context": context_id,
            "session_type": "exploration", "course_role": course_role}, name="sessions.create_at_launch"))
        try:
            results = await db.batch(statements, name="launch.open_session")
        except ConstraintViolation as exc:
            if exc.kind == "unique" and profile is None and attempt == 1:
                continue  # a concurrent first launch created the profile: use it
            raise
        if profile is None:  # the insert answered the row it wrote
            profile = _decode("learner_profiles", results[0]["results"][0])
        return profile, session_id
    raise AssertionError("unreachable")  # pragma: no cover


async def update(db: Database, scope: TenantScope, profile_id: str, expected_version: int, changes: dict) -> dict | None:
    """Applies changes if the stored version is still `expected_version`; returns the new
    row, or None when the version moved on (the caller answers 409)."""
    values = {k: json.dumps(v, separators=(",", ":")) for k, v in changes.items()}
    values["version"] = expected_version + 1
    values["updated_at"] = now_iso()
    rows = await db.all(scope.update("learner_profiles", values, {"id": profile_id, "version": expected_version},
                                     name="profile.update", returning=True))
    return _decode("learner_profiles", rows[0]) if rows else None


LEARNER_ROLES = ("learner",)
ALL_ROLES = ("learner", "instructor", "other")


async def learner_ids_in_course(db: Database, scope: TenantScope, context_id: str,
                                roles: tuple[str, ...] = LEARNER_ROLES) -> list[str]:
    """Profiles that launched in the course with one of `roles` (learners by default:
    an instructor's or a TA's own profile is not a learner of the class)."""
    rows = await db.all(scope.select("learning_sessions", {"course_context": context_id, "course_role__in": list(roles)},
                                     columns=["learner_id"], name="sessions.learners_in_course"))
    return sorted({r["learner_id"] for r in rows})


async def in_course(db: Database, scope: TenantScope, profile_id: str, context_id: str,
                    roles: tuple[str, ...] = LEARNER_ROLES) -> bool:
    row = await db.first(scope.select("learning_sessions", {"learner_id": profile_id, "course_context": context_id,
                                                            "course_role__in": list(roles)},
                                      columns=["id"], limit=1, name="sessions.learner_in_course"))
    return row is not None


async def list_in_course(db: Database, scope: TenantScope, context_id: str,
                         roles: tuple[str, ...] = LEARNER_ROLES) -> list[dict]:
    ids = await learner_ids_in_course(db, scope, context_id, roles)
    out: list[dict] = []
    for i in range(0, len(ids), 90):
        rows = await db.all(scope.select("learner_profiles", {"id__in": ids[i:i + 90]}, order_by="id",
                                         name="profile.list_by_ids"))
        out += [_decode("learner_profiles", r) for r in rows]
    return out


async def course_learners(db: Database, scope: TenantScope, context_id: str,
                          roles: tuple[str, ...] = LEARNER_ROLES) -> tuple[list[dict], int]:
    """(profiles an instructor may see individually, how many chose not to be seen)."""
    rows = await list_in_course(db, scope, context_id, roles)
    visible = [r for r in rows if privacy.visible_to_instructors(r)]
    return visible, len(rows) - len(visible)


async def export_learner(db: Database, scope: TenantScope, profile_id: str) -> dict[str, list[dict]]:
    """Every row the tool holds about one learner, by table."""
    out: dict[str, list[dict]] = {}
    for name in (*reversed(LEARNER_TABLES_CHILD_FIRST), *LEARNER_COLUMNS_CLEARED_ON_ERASURE):
        column = TABLES[name].learner_column
        rows = await db.all(scope.select(name, {column: profile_id}, name=f"dsr.export.{name}"))
        out[name] = [_decode(name, r) for r in rows]
    return out


async def erase_learner(db: Database, scope: TenantScope, profile_id: str) -> dict[str, int]:
    """Deletes the learner's rows in every table in one atomic batch (and clears the
    learner from the rows that outlive them, LEARNER_COLUMNS_CLEARED_ON_ERASURE), and
    records an audit row that names no person (only the counts). Returns rows deleted
    (or cleared) per table."""
    counts = {}
    for name in (*LEARNER_TABLES_CHILD_FIRST, *LEARNER_COLUMNS_CLEARED_ON_ERASURE):
        row = await db.first(scope.count(name, {TABLES[name].learner_column: profile_id}, name=f"dsr.count.{name}"))
        counts[name] = row["n"]
    statements = [scope.update(name, {c: None for c in columns}, {TABLES[name].learner_column: profile_id},
                               name=f"dsr.clear.{name}")
                  for name, columns in LEARNER_COLUMNS_CLEARED_ON_ERASURE.items()]
    statements += [scope.delete(name, {TABLES[name].learner_column: profile_id}, name=f"dsr.erase.{name}")
                   for name in LEARNER_TABLES_CHILD_FIRST]
    statements.append(scope.insert("audit_log", {
        "id": new_id(), "action": "erasure",
        "detail": json.dumps({"rows_deleted": counts, "requested_by": "data_subject"}),
    }, name="audit.insert"))
    await db.batch(statements, name="dsr.erase")
    return counts
