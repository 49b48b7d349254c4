"""The learner-profile aggregate: upsert at launch, read, optimistic update, instructor
views by course, and the data-subject rights (export everything, erase everything)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from db.database import Database
from db.scope import TenantScope
from db.tables import LEARNER_TABLES_CHILD_FIRST, TABLES


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
    """Get or create the profile of an LTI user (launch path). Idempotent under races."""
    existing = await get_by_user(db, scope, lti_user_id)
    if existing is not None:
        return existing
    from db.database import ConstraintViolation

    try:
        await db.run(scope.insert("learner_profiles", {"id": new_id(), "lti_user_id": lti_user_id},
                                  name="profile.create"))
    except ConstraintViolation as exc:
        if exc.kind != "unique":
            raise
    return await get_by_user(db, scope, lti_user_id)


async def update(db: Database, scope: TenantScope, profile_id: str, expected_version: int, changes: dict) -> dict | None:
    """Applies changes if the stored version is still `expected_version`; returns the new
    row, or None when the version moved on (the caller answers 409)."""
    values = {k: json.dumps(v, separators=(",", ":")) for k, v in changes.items()}
    values["version"] = expected_version + 1
    values["updated_at"] = now_iso()
    rows = await db.all(scope.update("learner_profiles", values, {"id": profile_id, "version": expected_version},
                                     name="profile.update", returning=True))
    return _decode("learner_profiles", rows[0]) if rows else None


async def learner_ids_in_course(db: Database, scope: TenantScope, context_id: str) -> list[str]:
    rows = await db.all(scope.select("learning_sessions", {"course_context": context_id}, columns=["learner_id"],
                                     name="sessions.learners_in_course"))
    return sorted({r["learner_id"] for r in rows})


async def in_course(db: Database, scope: TenantScope, profile_id: str, context_id: str) -> bool:
    row = await db.first(scope.select("learning_sessions", {"learner_id": profile_id, "course_context": context_id},
                                      columns=["id"], limit=1, name="sessions.learner_in_course"))
    return row is not None


async def list_in_course(db: Database, scope: TenantScope, context_id: str) -> list[dict]:
    ids = await learner_ids_in_course(db, scope, context_id)
    out: list[dict] = []
    for i in range(0, len(ids), 90):
        rows = await db.all(scope.select("learner_profiles", {"id__in": ids[i:i + 90]}, order_by="id",
                                         name="profile.list_by_ids"))
        out += [_decode("learner_profiles", r) for r in rows]
    return out


async def export_learner(db: Database, scope: TenantScope, profile_id: str) -> dict[str, list[dict]]:
    """Every row the tool holds about one learner, by table."""
    out: dict[str, list[dict]] = {}
    for name in reversed(LEARNER_TABLES_CHILD_FIRST):
        column = TABLES[name].learner_column
        rows = await db.all(scope.select(name, {column: profile_id}, name=f"dsr.export.{name}"))
        out[name] = [_decode(name, r) for r in rows]
    return out


async def erase_learner(db: Database, scope: TenantScope, profile_id: str) -> dict[str, int]:
    """Deletes the learner's rows in every table in one atomic batch and records an audit
    row that names no person (only the counts). Returns rows deleted per table."""
    counts = {}
    for name in LEARNER_TABLES_CHILD_FIRST:
        row = await db.first(scope.count(name, {TABLES[name].learner_column: profile_id}, name=f"dsr.count.{name}"))
        counts[name] = row["n"]
    statements = [scope.delete(name, {TABLES[name].learner_column: profile_id}, name=f"dsr.erase.{name}")
                  for name in LEARNER_TABLES_CHILD_FIRST]
    statements.append(scope.insert("audit_log", {
        "id": new_id(), "action": "erasure",
        "detail": json.dumps({"rows_deleted": counts, "requested_by": "data_subject"}),
    }, name="audit.insert"))
    await db.batch(statements, name="dsr.erase")
    return counts
