"""A local host on a scratch state root, migrated, with one tenant and seeded learner
profiles, plus a raw sqlite3 connection to a copy of its D1 file (the baseline)."""

from __future__ import annotations

import json
import logging
import random
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bench import ROOT

TENANT_ID = "b0000000-0000-4000-8000-000000000001"
PRIMARY = "D1_PRIMARY"


def dev_vars(root: Path = ROOT) -> dict[str, str] | None:
    """None (the host reads .dev.vars) when the file exists; otherwise fresh throwaway
    secrets for the keys .dev.vars.example names, so a bench never writes to the repo."""
    if (root / ".dev.vars").exists():
        return None
    out = {}
    example = root / ".dev.vars.example"
    if example.exists():
        for line in example.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                key = key.strip()
                out[key] = secrets.token_urlsafe(48) if key.endswith(("_KEY", "_SECRET")) else value.strip()
    return out


def make_host(state_root: Path):
    """LocalHost on `state_root` with migrations applied (as `python -m devhost serve`)."""
    from devhost.host import LocalHost

    host = LocalHost(ROOT, state_root=state_root, dev_vars=dev_vars())
    host.migrate()
    return host


def quiet_data_layer_log() -> None:
    """Slow-query alerts still run (metrics row, json log record) but print nothing."""
    logger = logging.getLogger("atomic_guide.db")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def new_uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"


@dataclass
class Seeded:
    host: object
    db_path: Path
    tenant_id: str
    profiles: list[tuple[str, str]]  # (id, lti_user_id)


async def seeded_host(state_root: Path, rows: int = 1000, seed: int = 1) -> Seeded:
    """Migrated host; the tenant row written through the data layer (Database.run of
    db.system.insert_tenant); `rows` learner profiles bulk-loaded (setup, not timed)."""
    from db.database import Database
    from db.system import insert_tenant

    quiet_data_layer_log()
    host = make_host(state_root)
    await Database(host.env).run(insert_tenant(TENANT_ID, "Bench University", PRIMARY))
    rng = random.Random(seed)
    profiles = [(new_uuid(rng), f"seed-user-{i:05d}") for i in range(rows)]
    db_path = host.d1[PRIMARY].path
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        with conn:
            conn.executemany(
                "INSERT INTO learner_profiles (id, tenant_id, lti_user_id, cognitive_profile) VALUES (?, ?, ?, ?)",
                [(pid, TENANT_ID, uid, json.dumps({"pace": i % 5, "style": "visual"}))
                 for i, (pid, uid) in enumerate(profiles)],
            )
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return Seeded(host, db_path, TENANT_ID, profiles)


def raw_copy(src: Path, dst: Path) -> sqlite3.Connection:
    """A consistent copy of `src` (SQLite backup API) and a connection to it set up as
    the D1 binding sets up its own: autocommit, foreign keys on, default journal/sync."""
    source = sqlite3.connect(src)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    conn = sqlite3.connect(dst, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
    return conn
