"""Every data-layer query is timed by name; one over the threshold raises a slow-query
alert (a structured log line and a metrics row)."""

import json
import logging
import sqlite3

from db.database import Database, QueryTimings
from db import profiles
from db.system import system_scope
from devhost.bindings._common import Fault
from tests.conftest import TENANT_A


async def test_slow_query_is_logged_and_recorded_in_metrics(host, caplog):
    # The threshold is the test's (500 ms) and the injected latency three times it, far
    # from what a healthy local query takes even on a loaded machine.
    timings = QueryTimings()
    db = Database(host.env, timings=timings, slow_query_ms=500)
    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    await profiles.ensure(db, scope, "learner-1")
    assert timings.by_name["profile.get_by_user"]["count"] >= 1
    host.faults.set("D1_PRIMARY", Fault(mode="latency", latency_ms=1500))
    with caplog.at_level(logging.WARNING, logger="atomic_guide.db"):
        await profiles.get_by_user(db, scope, "learner-1")
    host.faults.clear()
    assert timings.by_name["profile.get_by_user"]["slow"] == 1
    alert = json.loads(next(r.message for r in caplog.records if "slow_query" in r.message))
    assert alert["query"] == "profile.get_by_user" and alert["ms"] >= 1500 and alert["threshold_ms"] == 500
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    # (setup's own inserts may be slow too on a loaded machine: only this query's rows count)
    rows = conn.execute("SELECT name, value FROM metrics WHERE kind = 'slow_query' AND name LIKE 'profile.%'").fetchall()
    conn.close()
    assert [r[0] for r in rows] == ["profile.get_by_user"] and rows[0][1] >= 1500
