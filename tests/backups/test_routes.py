"""Backup routes: the platform admin lists, verifies and restores; an institution's
admin gets signed, short-lived links to its own latest complete export."""

import gzip
import hashlib
import sqlite3

from db.tables import TABLES
from tests.backups.helpers import export, instant, seed_every_table, tenant_rows, wipe
from tests.conftest import DEV_VARS, INSTRUCTOR, LEARNER, TENANT_A, TENANT_B, auth

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}
ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"


async def test_admin_lists_exports_with_status_and_sizes(host, client):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A, "2026-01-05")
    await host.r2["EXPORTS"].put(f"exports/{TENANT_A}/2026-01-06/learner_profiles/00001.ndjson.gz", b"partial")

    r = await client.get(f"/admin/tenants/{TENANT_A}/exports", headers=ADMIN)

    assert r.status_code == 200
    by_day = {e["day"]: e for e in r.json()["exports"]}
    assert by_day["2026-01-05"]["status"] == "complete" and by_day["2026-01-05"]["rows"] > 30
    assert by_day["2026-01-05"]["bytes"] > 0 and by_day["2026-01-05"]["objects"] == len(TABLES)  # one object per table
    assert (by_day["2026-01-06"]["status"], by_day["2026-01-06"]["bytes"], by_day["2026-01-06"]["objects"]) == ("incomplete", 7, 1)


async def test_admin_routes_need_the_admin_secret(host, client):
    for method, path in [("get", f"/admin/tenants/{TENANT_A}/exports"),
                         ("post", f"/admin/tenants/{TENANT_A}/exports/2026-01-05/restore"),
                         ("post", f"/admin/tenants/{TENANT_A}/exports/2026-01-05/verify"),
                         ("get", "/admin/backup-runs/restore-x")]:
        r = await getattr(client, method)(path, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, path
        assert r.headers["content-type"] == "application/problem+json"


async def test_admin_restores_a_tenant_and_follows_the_run(host, client):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    before = tenant_rows(host, TENANT_A)
    await export(host, TENANT_A, "2026-01-05")
    wipe(host, TENANT_A)
    host.workflows["RESTORE_WORKFLOW"].sleeper = instant

    r = await client.post(f"/admin/tenants/{TENANT_A}/exports/2026-01-05/restore", headers=ADMIN, json={})
    assert r.status_code == 202
    run = r.json()
    await host.workflows_idle()
    status = await client.get(f"/admin/backup-runs/{run['instance_id']}", headers=ADMIN)

    assert status.status_code == 200 and status.json()["status"] == "complete"
    assert status.json()["output"]["into"] == "D1_DEDICATED_A"
    assert tenant_rows(host, TENANT_A) == before


async def test_admin_verify_reports_a_tampered_object_by_name(host, client):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A, "2026-01-05")
    key = f"exports/{TENANT_A}/2026-01-05/questions/00001.ndjson.gz"
    await host.r2["EXPORTS"].put(key, gzip.compress(b"[]\n"))

    r = await client.post(f"/admin/tenants/{TENANT_A}/exports/2026-01-05/verify", headers=ADMIN)
    await host.workflows_idle()
    status = (await client.get(f"/admin/backup-runs/{r.json()['instance_id']}", headers=ADMIN)).json()

    assert status["output"]["status"] == "refused" and key in status["output"]["reason"]


async def test_restore_and_verify_of_a_missing_export_are_404_and_bad_input_is_4xx(host, client):
    r = await client.post(f"/admin/tenants/{TENANT_A}/exports/2026-01-05/restore", headers=ADMIN)
    assert r.status_code == 404
    r = await client.post(f"/admin/tenants/{TENANT_A}/exports/not-a-day/verify", headers=ADMIN)
    assert r.status_code == 422
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A, "2026-01-05")
    r = await client.post(f"/admin/tenants/{TENANT_A}/exports/2026-01-05/restore", headers=ADMIN,
                          json={"into": "D1_NOWHERE"})
    assert r.status_code == 422
    r = await client.post(f"/admin/tenants/{TENANT_A}/exports/2026-01-05/restore", headers=ADMIN,
                          json={"into": "x", "extra": 1})
    assert r.status_code == 422
    assert (await client.get("/admin/backup-runs/restore-nope", headers=ADMIN)).status_code == 404


async def test_institution_admin_downloads_its_latest_export_through_signed_links(host, client):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    await export(host, TENANT_A, "2026-01-04")
    await export(host, TENANT_A, "2026-01-05")
    r = await client.get("/api/institution/exports/latest", headers=auth(host, roles=(ADMINISTRATOR,)))
    assert r.status_code == 200
    body = r.json()
    assert body["day"] == "2026-01-05" and body["rows"] > 30
    chunks = [f for f in body["files"] if f["sha256"]]
    assert len(chunks) == len(TABLES)
    got = await client.get(chunks[0]["url"])
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == chunks[0]["sha256"]
    manifest = await client.get(body["files"][0]["url"])
    assert manifest.status_code == 200 and manifest.json()["tenant"]["id"] == TENANT_A


async def test_download_links_cannot_be_altered_or_used_after_they_expire(host, client):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_B)
    await export(host, TENANT_A)
    await export(host, TENANT_B)
    files = (await client.get("/api/institution/exports/latest", headers=auth(host, roles=(ADMINISTRATOR,)))).json()["files"]
    url = files[1]["url"]
    assert (await client.get(url.replace(TENANT_A, TENANT_B))).status_code == 403  # another tenant's object
    assert (await client.get(url[:-3] + "abc")).status_code == 403
    import re

    expires = int(re.search(r"expires=(\d+)", url).group(1))

    class Later:
        def now(self):
            return expires + 1

        def monotonic(self):
            return 0.0

    previous = getattr(host.env, "CLOCK", None)
    host.env.CLOCK = Later()
    try:
        assert (await client.get(url)).status_code == 403
    finally:
        host.env.CLOCK = previous


async def test_only_an_administrator_of_the_institution_gets_its_export(host, client):
    for roles in ((LEARNER,), (INSTRUCTOR,)):
        r = await client.get("/api/institution/exports/latest", headers=auth(host, roles=roles))
        assert r.status_code == 403
    r = await client.get("/api/institution/exports/latest", headers=auth(host, roles=(ADMINISTRATOR,)))
    assert r.status_code == 404  # no export yet
    assert (await client.get("/api/institution/exports/latest")).status_code == 401


async def test_an_incomplete_export_of_many_objects_is_sized_across_listing_pages(host, client):
    for n in range(1001):
        await host.r2["EXPORTS"].put(f"exports/{TENANT_A}/2026-01-07/chat_messages/{n:05d}.ndjson.gz", b"ab")
    r = await client.get(f"/admin/tenants/{TENANT_A}/exports", headers=ADMIN)
    (entry,) = r.json()["exports"]
    assert (entry["status"], entry["objects"], entry["bytes"]) == ("incomplete", 1001, 2002)
