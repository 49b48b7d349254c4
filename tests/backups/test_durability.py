"""The nightly export is durable: a crash mid-export resumes from the last completed step
after a host restart and ends with the same objects; failing steps retry with backoff;
the same night triggered twice makes one export; slow pages make one summary row, not
one metrics row each; old exports and leftovers go by retention."""

import json
import sqlite3

from backups import format as fmt
from devhost.bindings._common import Fault, FaultPlan
from tests.backups.helpers import export, instant, seed_every_table
from tests.conftest import TENANT_A, TENANT_B, make_host

DAY_MS = 86_400_000
NIGHT = 1_767_582_000_000  # 2026-01-05T03:00:00Z


def _manifest(host, tenant, day):
    conn = sqlite3.connect(host.r2["EXPORTS"].path)
    try:
        row = conn.execute("SELECT data FROM objects WHERE key = ?", (fmt.manifest_key(tenant, day),)).fetchone()
        return json.loads(row[0]) if row else None
    finally:
        conn.close()


def _objects(manifest):
    return [(t["name"], [(o["rows"], o["bytes"], o["sha256"]) for o in t["objects"]]) for t in manifest["tables"]]


def _keys(host, prefix=""):
    conn = sqlite3.connect(host.r2["EXPORTS"].path)
    try:
        return [k for (k,) in conn.execute("SELECT key FROM objects WHERE key LIKE ? ORDER BY key", (prefix + "%",))]
    finally:
        conn.close()


async def test_a_crash_mid_export_resumes_after_restart_with_the_same_result(tmp_path):
    state = tmp_path / "state"
    faults = FaultPlan()
    host = await make_host(state, faults=faults)
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    # given the process dies at the 4th object written to R2 (between completed steps)
    faults.set("EXPORTS", Fault(mode="crash", ops=("put",), after=3))
    await export(host, TENANT_A, "2026-01-05")
    wf = host.workflows["EXPORT_WORKFLOW"]
    instance_id = fmt.export_instance_id(TENANT_A, "2026-01-05")
    assert (await (await wf.get(instance_id)).status())["status"] == "running"
    done_before = [s["name"] for s in wf.step_stats(instance_id)]
    assert "begin" in done_before and "manifest" not in done_before
    assert _manifest(host, TENANT_A, "2026-01-05") is None
    await host.aclose()

    # when a new host starts on the same state
    host = await make_host(state)
    host.workflows["EXPORT_WORKFLOW"].sleeper = instant
    await host.workflows_idle()

    # then the instance finished, without redoing the completed steps
    wf = host.workflows["EXPORT_WORKFLOW"]
    status = await (await wf.get(instance_id)).status()
    assert status["status"] == "complete", status
    attempts = {s["name"]: s["attempts"] for s in wf.step_stats(instance_id)}
    assert all(attempts[name] == 1 for name in done_before)
    resumed = _manifest(host, TENANT_A, "2026-01-05")
    # and its objects are exactly those of an uninterrupted export of the same rows
    await export(host, TENANT_A, "2026-01-06")
    assert _objects(resumed) == _objects(_manifest(host, TENANT_A, "2026-01-06"))
    await host.aclose()


async def test_a_failing_step_is_retried_with_exponential_backoff(host):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    delays = []

    async def sleeper(seconds):
        delays.append(seconds)
        if len(delays) == 3:
            host.faults.clear()  # D1 answers again on the 4th attempt

    host.faults.set("D1_PRIMARY", Fault(mode="unavailable", ops=("raw",), after=2))
    wf = host.workflows["EXPORT_WORKFLOW"]
    wf.sleeper = sleeper
    instance = await wf.create(id="export-retry", params={"tenant_id": TENANT_A, "day": "2026-01-05"})
    await host.workflows_idle()
    assert (await instance.status())["status"] == "complete"
    assert delays == [2.0, 4.0, 8.0]
    assert [r["attempt"] for r in wf.retries] == [1, 2, 3] and len({r["step"] for r in wf.retries}) == 1


async def test_the_same_night_triggered_twice_makes_one_export(host):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    host.workflows["EXPORT_WORKFLOW"].sleeper = instant
    await host.scheduled("0 3 * * *", NIGHT)
    await host.workflows_idle()
    first = _keys(host)
    await host.scheduled("0 3 * * *", NIGHT + 3_600_000)  # a second trigger, same UTC day
    await host.workflows_idle()

    conn = sqlite3.connect(host.workflows["EXPORT_WORKFLOW"].path)
    ids = [r[0] for r in conn.execute("SELECT id FROM instances ORDER BY id")]
    conn.close()
    assert ids == sorted(fmt.export_instance_id(t, "2026-01-05") for t in (TENANT_A, TENANT_B))
    assert _keys(host) == first
    assert [k for k in first if k.endswith("manifest.json")] == [fmt.manifest_key(t, "2026-01-05") for t in (TENANT_A, TENANT_B)]


async def test_an_export_writes_one_summary_row_instead_of_a_slow_query_row_per_page(tmp_path):
    host = await make_host(tmp_path / "state", extra_vars={"SLOW_QUERY_MS": "-1"})  # every query counts as slow
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    slow_before = conn.execute("SELECT count(*) FROM metrics WHERE kind = 'slow_query'").fetchone()[0]
    status = await export(host, TENANT_A)
    assert status["status"] == "complete"
    rows = conn.execute("SELECT kind, name, detail FROM metrics WHERE name LIKE 'backup.%' OR kind = 'slow_query'").fetchall()
    conn.close()
    assert [(k, n) for k, n, _ in rows if n.startswith("backup.")] == [("export", "backup.export")]
    assert len([n for k, n, _ in rows if k == "slow_query"]) == slow_before  # none from the export
    detail = json.loads(rows[-1][2])
    assert detail["slow_pages"] == detail["pages"] > 20
    await host.aclose()


async def test_retention_keeps_the_newest_complete_exports_and_drops_leftovers(tmp_path):
    host = await make_host(tmp_path / "state", extra_vars={"EXPORT_RETENTION_DAYS": "2"})
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    # a leftover of a run that ended without its manifest
    await host.r2["EXPORTS"].put(f"exports/{TENANT_A}/2026-01-01/learner_profiles/00001.ndjson.gz", b"x")
    for day in ("2026-01-02", "2026-01-03", "2026-01-04"):
        await export(host, TENANT_A, day)
    days = sorted({k.split("/")[2] for k in _keys(host, f"exports/{TENANT_A}/")})
    assert days == ["2026-01-03", "2026-01-04"]
    await host.aclose()


async def test_an_export_of_a_tenant_that_is_gone_is_skipped(host):
    status = await export(host, "dddddddd-dddd-4ddd-8ddd-dddddddddddd")
    assert status["status"] == "complete" and status["output"]["status"] == "skipped"
    assert _keys(host) == []


async def test_a_kill_mid_multipart_upload_leaves_no_dangling_upload(tmp_path):
    import os

    state = tmp_path / "state"
    faults = FaultPlan()
    host = await make_host(state, faults=faults)
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    # an incompressible row: its page (a row over the page's byte budget is a page of its
    # own) is a gzip object over R2's 5 MiB part size
    conn.execute("INSERT INTO questions (id, tenant_id, question_text, question_type, subject, topic, concept,"
                 " difficulty_level, created_by) VALUES (?, ?, 'q', 'clarifying', 's', 't', 'c', 1, ?)",
                 ("big-0", TENANT_A, os.urandom(6_000_000)))
    conn.commit()
    conn.close()
    faults.set("EXPORTS", Fault(mode="crash", ops=("uploadPart",), after=1))  # dies on the 2nd part
    await export(host, TENANT_A, "2026-01-05")
    r2 = sqlite3.connect(host.r2["EXPORTS"].path)
    assert r2.execute("SELECT count(*) FROM uploads").fetchone()[0] == 1  # the killed upload
    r2.close()
    await host.aclose()

    host = await make_host(state)
    host.workflows["EXPORT_WORKFLOW"].sleeper = instant
    await host.workflows_idle()
    manifest = _manifest(host, TENANT_A, "2026-01-05")
    big = [o for t in manifest["tables"] if t["name"] == "questions" for o in t["objects"] if o["bytes"] > fmt.PART_BYTES]
    assert len(big) == 1
    r2 = sqlite3.connect(host.r2["EXPORTS"].path)
    assert r2.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0
    assert r2.execute("SELECT count(*) FROM objects WHERE key LIKE '%/.upload-%'").fetchone()[0] == 0
    data = r2.execute("SELECT data FROM objects WHERE key = ?", (big[0]["key"],)).fetchone()[0]
    r2.close()
    assert fmt.sha256(data) == big[0]["sha256"] and len(fmt.read_chunk(data)) == 1
    await host.aclose()
