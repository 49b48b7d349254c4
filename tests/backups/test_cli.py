"""python -m devhost export / verify-export / restore / list-exports run the workflows
on the local host and report the outcome."""

import argparse
import json

from devhost import backups_cli
from devhost.host import LocalHost
from tests.backups.helpers import seed_every_table, tenant_rows, wipe
from tests.conftest import DEV_VARS, ROOT, TENANT_A, make_host


def _cli(state, *argv):
    parser = argparse.ArgumentParser()
    backups_cli.add_commands(parser.add_subparsers(dest="command"))
    return backups_cli.run(parser.parse_args(list(argv)), LocalHost(ROOT, state_root=state, dev_vars=dict(DEV_VARS)))


def test_export_verify_restore_and_list_from_the_command_line(tmp_path, capsys):
    import asyncio

    state = tmp_path / "state"

    async def seed():
        host = await make_host(state)
        seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
        rows = tenant_rows(host, TENANT_A)
        await host.aclose()
        return rows

    before = asyncio.run(seed())
    assert _cli(state, "export", "--tenant", TENANT_A, "--day", "2026-03-01") == 0
    assert _cli(state, "verify-export", "--tenant", TENANT_A, "--day", "2026-03-01") == 0
    capsys.readouterr()
    assert _cli(state, "list-exports", "--tenant", TENANT_A) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["day"], e["status"]) for e in listed] == [("2026-03-01", "complete")] and listed[0]["rows"] > 30

    async def wipe_and_check(check):
        host = LocalHost(ROOT, state_root=state, dev_vars=dict(DEV_VARS))
        if check:
            rows = tenant_rows(host, TENANT_A)
        else:
            wipe(host, TENANT_A)
        await host.aclose()
        return rows if check else None

    asyncio.run(wipe_and_check(False))
    assert _cli(state, "restore", "--tenant", TENANT_A, "--day", "2026-03-01", "--settle", "0 seconds") == 0
    assert asyncio.run(wipe_and_check(True)) == before
    assert _cli(state, "restore", "--tenant", TENANT_A, "--day", "2026-02-01") == 1  # no such export
