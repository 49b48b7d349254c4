"""The local host runs the whole path: cron (/__scheduled) -> one workflow instance per
active tenant -> objects and a manifest in the local R2 under .wrangler/state."""

import sqlite3

from backups import format as fmt
from tests.backups.helpers import instant, seed_every_table
from tests.conftest import TENANT_A, TENANT_B


async def test_scheduled_route_starts_the_nightly_exports_into_r2(host, client):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    host.workflows["EXPORT_WORKFLOW"].sleeper = instant
    r = await client.get("/__scheduled", params={"cron": "0 3 * * *"})
    assert r.status_code == 200 and r.text == "Ran scheduled event"
    await host.workflows_idle()

    assert str(host.r2["EXPORTS"].path).startswith(str(host.state_root))
    conn = sqlite3.connect(host.r2["EXPORTS"].path)
    keys = [k for (k,) in conn.execute("SELECT key FROM objects ORDER BY key")]
    conn.close()
    for tenant in (TENANT_A, TENANT_B):
        manifests = [k for k in keys if k.startswith(fmt.tenant_prefix(tenant)) and k.endswith("/manifest.json")]
        assert len(manifests) == 1
    assert any(k.endswith("/chat_messages/00001.ndjson.gz") for k in keys)


def test_export_instance_ids_are_deterministic_and_valid_workflow_ids():
    import re

    a = fmt.export_instance_id(TENANT_A, "2026-01-05")
    assert a == fmt.export_instance_id(TENANT_A, "2026-01-05") != fmt.export_instance_id(TENANT_A, "2026-01-06")
    odd = fmt.export_instance_id("tenant with spaces and a very long name that goes on and on", "2026-01-05")
    for i in (a, odd):
        assert re.fullmatch(r"[a-zA-Z0-9_][a-zA-Z0-9-_]*", i) and len(i) <= 64
