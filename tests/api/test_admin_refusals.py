"""The admin API refuses what it cannot do, with nothing registered: a platform of
another tenant, an unknown database, and a D1 outage."""

from devhost.bindings._common import Fault
from tests.conftest import DEV_VARS

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}
PLATFORM = {"issuer": "https://platform.example", "client_id": "c-1", "deployment_ids": ["d"],
            "auth_login_url": "https://platform.example/login", "auth_token_url": "https://platform.example/token",
            "key_set_url": "https://platform.example/jwks"}


async def test_a_platform_registered_to_another_tenant_is_a_conflict(client):
    assert (await client.post("/admin/platforms", headers=ADMIN,
                              json={"tenant_name": "First U", **PLATFORM})).status_code == 201
    r = await client.post("/admin/platforms", headers=ADMIN, json={
        "tenant_name": "Second U", "tenant_id": "cccccccc-cccc-4ccc-8ccc-cccccccccccc", **PLATFORM})
    assert r.status_code == 409 and r.json()["type"] == "/problems/registration-conflict"


async def test_an_unknown_database_is_refused(client):
    r = await client.post("/admin/platforms", headers=ADMIN,
                          json={"tenant_name": "New U", "d1_binding": "D1_NOPE", **PLATFORM})
    assert r.status_code == 422
    r = await client.post("/admin/registration-links", headers=ADMIN,
                          json={"tenant_name": "New U", "d1_binding": "D1_NOPE"})
    assert r.status_code == 422


async def test_a_d1_outage_registers_nothing_and_issues_no_link(host, client):
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    r = await client.post("/admin/platforms", headers=ADMIN, json={"tenant_name": "Down U", **PLATFORM})
    assert r.status_code == 503 and r.headers["retry-after"] == "30"
    r = await client.post("/admin/registration-links", headers=ADMIN, json={"tenant_name": "Down U"})
    assert r.status_code == 503
