"""A tenant pinned to a dedicated D1 database has its learner rows there, not in the
shared one; the API serves it the same way."""

import sqlite3

from db import profiles
from db.database import Database
from db.system import system_scope
from devhost.__main__ import register_tenant
from tests.conftest import auth

TENANT_C = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"


async def test_pinned_tenant_rows_live_in_its_dedicated_database(host, client):
    await register_tenant(host, TENANT_C, "Big University", d1_binding="D1_DEDICATED_A")
    scope = system_scope({"id": TENANT_C, "d1_binding": "D1_DEDICATED_A"}, "test")
    row = await profiles.ensure(Database(host.env), scope, "learner-9")
    r = await client.get("/api/profile", headers=auth(host, tenant=TENANT_C, user="learner-9"))
    assert r.status_code == 200 and r.json()["id"] == row["id"]

    def count(binding):
        conn = sqlite3.connect(host.d1[binding].path)
        try:
            return conn.execute("SELECT count(*) FROM learner_profiles WHERE tenant_id = ?", (TENANT_C,)).fetchone()[0]
        finally:
            conn.close()

    assert count("D1_DEDICATED_A") == 1 and count("D1_PRIMARY") == 0
