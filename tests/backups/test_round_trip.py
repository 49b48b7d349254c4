"""Export -> wipe -> restore gives back every row exactly; a tampered or missing object
refuses the restore before anything is written; other tenants are never touched."""

from pathlib import Path
import sqlite3

from backups import format as fmt
from devhost.__main__ import register_tenant
from tests.backups.helpers import (BIG, LARGE_TEXT, export, restore, rows_in, seed_every_table, tenant_rows,
                                   wipe)
from tests.conftest import TENANT_A, TENANT_B

TENANT_C = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"


def _binding(host, tenant):
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    try:
        return conn.execute("SELECT d1_binding FROM tenants WHERE id = ?", (tenant,)).fetchone()[0]
    finally:
        conn.close()


def _object(host, key):
    conn = sqlite3.connect(host.r2["EXPORTS"].path)
    try:
        return conn.execute("SELECT data FROM objects WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()


async def test_every_row_of_every_table_survives_export_wipe_restore(host):
    # given a tenant with rows in every table, including the values JSON and D1 bend
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    before = tenant_rows(host, TENANT_A)
    assert all(before[t] for t in before), [t for t in before if not before[t]]
    flat = repr(before)
    assert str(BIG) in flat and "inf" in flat and "b'\\x00\\x01" in flat and LARGE_TEXT[:50] in flat

    # when it is exported, wiped and restored
    status = await export(host, TENANT_A)
    assert status["status"] == "complete", status
    wipe(host, TENANT_A)
    assert not any(tenant_rows(host, TENANT_A).values())
    done = await restore(host, TENANT_A)

    # then every row is back, identical in value and type, in the other database
    assert done["status"] == "complete" and done["output"]["status"] == "restored", done
    assert done["output"]["into"] == "D1_DEDICATED_A" and _binding(host, TENANT_A) == "D1_DEDICATED_A"
    assert tenant_rows(host, TENANT_A) == before


async def test_the_manifest_lists_every_object_with_its_checksum_and_counts(host):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A, learners=3)
    await export(host, TENANT_A)
    import json

    manifest = json.loads(_object(host, fmt.manifest_key(TENANT_A, "2026-01-05"))[0])
    last = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "migrations").glob("*.sql"))[-1]
    assert manifest["schema_version"] == last
    assert manifest["started_at"] <= manifest["finished_at"]
    counts = {t["name"]: t["rows"] for t in manifest["tables"]}
    assert counts["learner_profiles"] == 3 and counts["lti_deployments"] == 2 and counts["questions"] == 1
    for table in manifest["tables"]:
        for obj in table["objects"]:
            data = _object(host, obj["key"])[0]
            assert (len(data), fmt.sha256(data)) == (obj["bytes"], obj["sha256"])
            assert len(fmt.read_chunk(data)) == obj["rows"]
            assert obj["key"].startswith(f"exports/{TENANT_A}/2026-01-05/{table['name']}/")


async def test_a_tampered_object_refuses_the_restore_naming_it_and_writes_nothing(host):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A)
    key = f"exports/{TENANT_A}/2026-01-05/chat_messages/00001.ndjson.gz"
    data = bytearray(_object(host, key)[0])
    data[-5] ^= 0xFF
    conn = sqlite3.connect(host.r2["EXPORTS"].path)
    conn.execute("UPDATE objects SET data = ? WHERE key = ?", (bytes(data), key))
    conn.commit()
    conn.close()
    files = {b: open(host.d1[b].path, "rb").read() for b in ("D1_PRIMARY", "D1_DEDICATED_A")}

    done = await restore(host, TENANT_A)

    assert done["status"] == "complete" and done["output"]["status"] == "refused"
    assert key in done["output"]["reason"] and "sha256" in done["output"]["reason"]
    assert {b: open(host.d1[b].path, "rb").read() for b in files} == files  # not one byte written
    assert _binding(host, TENANT_A) == "D1_PRIMARY"


async def test_a_missing_object_refuses_the_restore_naming_it(host):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A)
    key = f"exports/{TENANT_A}/2026-01-05/learner_profiles/00001.ndjson.gz"
    await host.r2["EXPORTS"].delete(key)
    before = rows_in(host.d1["D1_DEDICATED_A"].path, TENANT_A)

    done = await restore(host, TENANT_A)

    assert done["output"]["status"] == "refused" and f"object {key} is missing" in done["output"]["reason"]
    assert rows_in(host.d1["D1_DEDICATED_A"].path, TENANT_A) == before == []


async def test_an_incomplete_export_cannot_be_restored(host):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A)
    await host.r2["EXPORTS"].delete(fmt.manifest_key(TENANT_A, "2026-01-05"))
    done = await restore(host, TENANT_A)
    assert done["output"]["status"] == "refused" and "manifest.json is missing" in done["output"]["reason"]


async def test_restoring_one_tenant_leaves_every_other_tenant_byte_identical(host):
    # given three tenants: A and B in the shared database, C pinned to the dedicated one
    await register_tenant(host, TENANT_C, "University C", d1_binding="D1_DEDICATED_A")
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_B)
    seed_every_table(host.d1["D1_DEDICATED_A"].path, TENANT_C)
    others = {(t, b): rows_in(host.d1[b].path, t) for t in (TENANT_B, TENANT_C) for b in ("D1_PRIMARY", "D1_DEDICATED_A")}
    a_before = tenant_rows(host, TENANT_A)
    await export(host, TENANT_A)

    # when A is restored (into the dedicated database, which C also lives in)
    done = await restore(host, TENANT_A)

    # then B and C are byte-identical, A is whole in its new home and gone from the old one
    assert done["status"] == "complete", done
    assert {(t, b): rows_in(host.d1[b].path, t) for (t, b) in others} == others
    assert tenant_rows(host, TENANT_A) == a_before
    leftover = [r for r in rows_in(host.d1["D1_PRIMARY"].path, TENANT_A) if r[0] not in ("lti_platforms", "lti_deployments", "tenants")]
    assert leftover == []


async def test_restore_never_targets_the_database_the_tenant_is_served_from(host):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A)
    done = await restore(host, TENANT_A, into="D1_PRIMARY")
    assert done["output"]["status"] == "refused" and "served from D1_PRIMARY" in done["output"]["reason"]


async def test_a_restored_tenant_is_served_from_its_new_database(host, client):
    from tests.conftest import auth

    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A)
    await restore(host, TENANT_A)
    r = await client.get("/api/profile", headers=auth(host, tenant=TENANT_A, user="user-0-Zoë 学习 🚀 ‏مرحبا"))
    assert r.status_code == 200 and r.json()["version"] == 3


async def test_an_object_that_checks_out_but_cannot_be_read_is_refused(host):
    import gzip
    import json as _json

    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A)
    # a consistent manifest over a malformed object (its sha256 matches: written by a broken exporter)
    key = f"exports/{TENANT_A}/2026-01-05/chat_messages/00001.ndjson.gz"
    bad = gzip.compress(b'[["too", "short"]]\n')
    mkey = fmt.manifest_key(TENANT_A, "2026-01-05")
    manifest = _json.loads(_object(host, mkey)[0])
    for t in manifest["tables"]:
        for o in t["objects"]:
            if o["key"] == key:
                o.update(bytes=len(bad), sha256=fmt.sha256(bad))
    await host.r2["EXPORTS"].put(key, bad)
    await host.r2["EXPORTS"].put(mkey, _json.dumps(manifest).encode())

    done = await restore(host, TENANT_A)

    assert done["output"]["status"] == "refused" and f"object {key} cannot be read" in done["output"]["reason"]
    assert _binding(host, TENANT_A) == "D1_PRIMARY"
