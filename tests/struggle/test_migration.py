"""Migration 0007 rebuilds struggle_events and intervention_logs with wider CHECKs: every
row, foreign key and index survives, and an event's interventions are not cascaded away."""

import shutil
import sqlite3

import pytest

from devhost import migrations
from tests.conftest import ROOT

MIGRATION = "0007_struggle.sql"


def _schema(conn, table):
    fks = sorted(tuple(r[2:5]) + (r[6],) for r in conn.execute(f"PRAGMA foreign_key_list({table})"))
    indexes = {r[1]: [c[2] for c in conn.execute(f"PRAGMA index_info({r[1]})")]
               for r in conn.execute(f"PRAGMA index_list({table})")}
    columns = [r[1:] for r in conn.execute(f"PRAGMA table_info({table})")]
    return fks, {k: v for k, v in indexes.items() if not k.startswith("sqlite_autoindex")}, columns


def test_0007_keeps_rows_references_and_indexes_and_widens_the_vocabularies(tmp_path):
    before_dir = tmp_path / "before"
    before_dir.mkdir()
    for p in sorted((ROOT / "migrations").glob("*.sql")):
        if p.name < MIGRATION:
            shutil.copy(p, before_dir / p.name)
    db = tmp_path / "d1.sqlite"
    migrations.apply(db, before_dir)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript("""
        INSERT INTO tenants (id, name) VALUES ('t', 'T');
        INSERT INTO learner_profiles (id, tenant_id, lti_user_id) VALUES ('p', 't', 'u');
        INSERT INTO learning_sessions (id, tenant_id, learner_id, course_context) VALUES ('s', 't', 'p', 'c');
        INSERT INTO knowledge_graph (concept_id, tenant_id, concept_name) VALUES ('k', 't', 'K');
        INSERT INTO struggle_events (id, tenant_id, learner_id, session_id, concept_id, event_type, severity, signals,
                                     detected_at) VALUES ('e1', 't', 'p', 's', 'k', 'idle', 0.5, '{"a": 1}', 'x1');
        INSERT INTO struggle_events (id, tenant_id, learner_id, event_type, severity) VALUES ('e2', 't', 'p',
                                     'repeated_error', 0.7);
        INSERT INTO intervention_logs (id, tenant_id, learner_id, session_id, struggle_event_id, intervention_type,
                                       content, outcome, delivered_at, responded_at)
               VALUES ('i1', 't', 'p', 's', 'e1', 'hint', '{"m": "☃"}', 'accepted', 'x2', 'x3');
        INSERT INTO intervention_logs (id, tenant_id, learner_id, intervention_type) VALUES ('i2', 't', 'p',
                                       'review_prompt');
    """)
    conn.commit()
    rows = {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in ("struggle_events", "intervention_logs")}
    schema = {t: _schema(conn, t) for t in rows}
    conn.close()

    shutil.copy(ROOT / "migrations" / MIGRATION, before_dir / MIGRATION)
    assert migrations.apply(db, before_dir) == [MIGRATION]
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = ON")
    for t in rows:
        assert conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() == rows[t]
        assert _schema(conn, t) == schema[t]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%0006%'").fetchall() == []
    # the new values are accepted, the old ones still are, others are not
    conn.execute("INSERT INTO struggle_events (id, tenant_id, learner_id, event_type, severity) "
                 "VALUES ('e3', 't', 'p', 'wheel_spinning', 0.9)")
    conn.execute("INSERT INTO intervention_logs (id, tenant_id, learner_id, struggle_event_id, intervention_type) "
                 "VALUES ('i3', 't', 'p', 'e3', 'instructor_note')")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO struggle_events (id, tenant_id, learner_id, event_type, severity) "
                     "VALUES ('e4', 't', 'p', 'boredom', 0.9)")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("INSERT INTO intervention_logs (id, tenant_id, learner_id, struggle_event_id, intervention_type) "
                     "VALUES ('i4', 't', 'p', 'nope', 'hint')")
    # the cascade still runs from the new parent
    conn.execute("DELETE FROM struggle_events WHERE id = 'e1'")
    assert conn.execute("SELECT id FROM intervention_logs ORDER BY id").fetchall() == [("i2",), ("i3",)]
    conn.close()


def test_every_reason_and_kind_the_detector_writes_is_allowed_by_the_schema(host):
    from struggle.interventions import KINDS
    from struggle.rules import REASONS

    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    sql = {name: text for name, text in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    for reason in REASONS:
        assert f"'{reason}'" in sql["struggle_events"], reason
    for kind in KINDS:
        assert f"'{kind}'" in sql["intervention_logs"], kind
