"""Test helpers: seed learners the way the launch will, and fingerprint the database."""

import hashlib
import sqlite3

from db import profiles
from db.database import Database
from db.system import system_scope


async def seed_learner(host, tenant: str, user: str, course: str = "course-1", extra_rows: bool = False) -> dict:
    db = Database(host.env)
    scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test-seed")
    row = await profiles.ensure(db, scope, user)
    session_id = profiles.new_id()
    await db.run(scope.insert("learning_sessions", {"id": session_id, "learner_id": row["id"], "course_context": course}))
    if extra_rows:
        conv = profiles.new_id()
        await db.run(scope.insert("chat_conversations", {"id": conv, "learner_id": row["id"], "course_context": course}))
        await db.run(scope.insert("chat_messages", {"id": profiles.new_id(), "conversation_id": conv,
                                                    "learner_id": row["id"], "role": "user", "content": "help"}))
        await db.run(scope.insert("struggle_events", {"id": profiles.new_id(), "learner_id": row["id"],
                                                      "session_id": session_id, "event_type": "repeated_error",
                                                      "severity": 0.7}))
        await db.run(scope.insert("knowledge_state", {"id": profiles.new_id(), "learner_id": row["id"],
                                                      "subject": "math", "topic": "algebra", "concept": "quadratics"}))
    return row


def fingerprint(host) -> str:
    """sha256 over every row of every table of the primary database."""
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    h = hashlib.sha256()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    for t in tables:
        if t in ("metrics", "_cf_METADATA", "sqlite_sequence"):
            continue  # metrics may gain timing rows; that is not a change of user data
        for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1"):
            h.update(repr((t, row)).encode())
    conn.close()
    return h.hexdigest()
