"""The migration runner for the local host and tests. It keeps wrangler's own
bookkeeping (the `d1_migrations` table, file names as wrangler records them), so
`wrangler d1 migrations apply --local` and this runner see each other's work."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from .bindings._common import split_sql

_NAME = re.compile(r"^\d{4}_[A-Za-z0-9_\-]+\.sql$")


def _table_ddl(table: str) -> str:
    # Same DDL as wrangler's, so either tool may create the table first.
    return (
        f"CREATE TABLE IF NOT EXISTS {table}(\n"
        "\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "\t\tname       TEXT UNIQUE,\n"
        "\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n)"
    )


def migration_files(directory: Path) -> list[Path]:
    files = sorted(p for p in Path(directory).glob("*.sql") if p.is_file())
    bad = [p.name for p in files if not _NAME.match(p.name)]
    if bad:
        raise ValueError(f"migration files must be named NNNN_name.sql: {bad}")
    return files


def applied(db_path: Path, table: str = "d1_migrations") -> list[str]:
    if not Path(db_path).exists():
        return []
    conn = sqlite3.connect(db_path)
    try:
        return [r[0] for r in conn.execute(f"SELECT name FROM {table} ORDER BY id")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def pending(db_path: Path, directory: Path, table: str = "d1_migrations") -> list[str]:
    done = set(applied(db_path, table))
    return [p.name for p in migration_files(directory) if p.name not in done]


def apply(db_path: Path, directory: Path, table: str = "d1_migrations") -> list[str]:
    """Applies pending migrations in order, each in its own transaction with its record;
    a failing migration leaves nothing of itself behind. Returns the names applied."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    done_now: list[str] = []
    try:
        conn.execute(_table_ddl(table))
        done = {r[0] for r in conn.execute(f"SELECT name FROM {table}")}
        for path in migration_files(directory):
            if path.name in done:
                continue
            conn.execute("BEGIN")
            try:
                for statement in split_sql(path.read_text(encoding="utf-8")):
                    if statement.strip() and not _only_comments(statement):
                        conn.execute(statement)
                conn.execute(f"INSERT INTO {table} (name) VALUES (?)", (path.name,))
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise RuntimeError(f"migration {path.name} failed: {exc}") from None
            conn.execute("COMMIT")
            done_now.append(path.name)
    finally:
        conn.close()
    return done_now


def _only_comments(statement: str) -> bool:
    lines = [l.strip() for l in statement.strip().splitlines()]
    return all(not l or l.startswith("--") for l in lines)
