"""Local D1: SQLite in the very file `wrangler d1 ... --local` uses.

Surface and shapes follow the Python Workers SDK: `prepare(sql).bind(*v)` then
`await .all()/.run()/.first(col)/.raw(columnNames=...)`, `await batch([...])`,
`await exec(sql)`. Values come back as they do after crossing from JS to Python:
BLOB as a list of ints, integers past 2**53 rounded through a double, integral REALs
as int (Pyodide turns a JS number that is a safe integer into int).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from ._common import FaultPlan, miniflare_d1_path

MAX_BOUND_PARAMETERS = 100
_SAFE_INT = 2**53 - 1


class D1Error(Exception):
    """What a failing D1 call raises; the message carries D1's prefix (D1_ERROR, ...)."""


def _to_sql_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise D1Error(f"D1_TYPE_ERROR: Type 'bigint' not supported for value '{value}'")
        return value
    if isinstance(value, (bytes, memoryview)):
        return bytes(value)
    if isinstance(value, (tuple, bytearray)):
        # The Python SDK refuses these before they reach JS.
        raise TypeError(f"{type(value).__name__} cannot be passed to a binding; use list or bytes")
    raise D1Error(f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported for value '{value}'")


def _from_sql_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, int) and abs(value) > _SAFE_INT:
        return int(float(value))
    if isinstance(value, float) and value.is_integer() and abs(value) <= _SAFE_INT:
        return int(value)
    return value


def _d1_error(exc: sqlite3.Error) -> D1Error:
    code = getattr(exc, "sqlite_errorname", None) or "SQLITE_ERROR"
    return D1Error(f"D1_ERROR: {exc}: {code}")


class D1PreparedStatement:
    def __init__(self, db: LocalD1Database, sql: str, params: tuple = ()) -> None:
        self._db = db
        self.sql = sql
        self.params = params

    def bind(self, *values: Any) -> D1PreparedStatement:
        return D1PreparedStatement(self._db, self.sql, tuple(_to_sql_value(v) for v in values))

    async def all(self) -> dict:
        await self._db._gate("all")
        return self._db._run_one(self)

    async def run(self) -> dict:
        await self._db._gate("run")
        return self._db._run_one(self)

    async def first(self, column: str | None = None) -> Any:
        await self._db._gate("first")
        rows = self._db._run_one(self)["results"]
        if not rows:
            return None
        if column is None:
            return rows[0]
        if column not in rows[0]:
            raise D1Error(f"D1_COLUMN_NOTFOUND: Column not found ({column})")
        return rows[0][column]

    async def raw(self, columnNames: bool = False, options: dict | None = None) -> list[list]:
        if options and options.get("columnNames"):
            columnNames = True
        await self._db._gate("raw")
        names, rows = self._db._execute(self)[:2]
        out = [[_from_sql_value(v) for v in row] for row in rows]
        return [names, *out] if columnNames else out


class LocalD1Database:
    """One D1 database binding over its miniflare SQLite file."""

    kind = "d1"

    def __init__(self, binding: str, path: Path, faults: FaultPlan | None = None) -> None:
        self.binding = binding
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._faults = faults or FaultPlan()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # D1 enforces foreign keys and caps bound parameters at 100.
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, MAX_BOUND_PARAMETERS)

    @classmethod
    def from_config(cls, cfg, state_root: Path, faults: FaultPlan) -> LocalD1Database:
        return cls(cfg.binding, miniflare_d1_path(state_root, cfg.database_id), faults)

    def close(self) -> None:
        self._conn.close()

    async def _gate(self, op: str) -> None:
        await self._faults.gate(self.binding, op, "D1_ERROR")

    def prepare(self, sql: str) -> D1PreparedStatement:
        if not isinstance(sql, str) or not sql.strip():
            raise D1Error("D1_ERROR: Cannot prepare an empty statement")
        return D1PreparedStatement(self, sql)

    # -- execution -----------------------------------------------------------------

    def _execute(self, stmt: D1PreparedStatement) -> tuple[list[str], list[tuple], int, int, float]:
        started = time.perf_counter()
        before = self._conn.total_changes
        try:
            cur = self._conn.execute(stmt.sql, stmt.params)
            rows = cur.fetchall()
        except sqlite3.Error as exc:
            raise _d1_error(exc) from None
        names = [d[0] for d in cur.description] if cur.description else []
        changes = self._conn.total_changes - before
        return names, rows, changes, cur.lastrowid or 0, (time.perf_counter() - started) * 1000

    def _result(self, names, rows, changes, last_row_id, duration_ms) -> dict:
        results = [{n: _from_sql_value(v) for n, v in zip(names, row)} for row in rows]
        return {
            "success": True,
            "meta": {
                "served_by": "devhost.d1",
                "served_by_primary": True,
                "total_attempts": 1,
                "timings": {"sql_duration_ms": duration_ms},
                "duration": duration_ms,
                "changes": changes,
                "last_row_id": last_row_id if changes else self._last_row_id(),
                "changed_db": changes > 0,
                "size_after": self._size(),
                # SQLite does not expose per-statement row counters to Python; these are
                # the rows returned and the rows changed, which is what D1 bills for
                # simple statements.
                "rows_read": len(rows),
                "rows_written": changes,
            },
            "results": results,
        }

    def _last_row_id(self) -> int:
        return self._conn.execute("SELECT last_insert_rowid()").fetchone()[0]

    def _size(self) -> int:
        page_count = self._conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return page_count * page_size

    def _run_one(self, stmt: D1PreparedStatement) -> dict:
        return self._result(*self._execute(stmt))

    async def batch(self, statements: list[D1PreparedStatement]) -> list[dict]:
        """All statements in one transaction: one failure rolls every one back."""
        if isinstance(statements, tuple):
            raise TypeError("tuple cannot be passed to a binding; use list")
        await self._gate("batch")
        out = []
        self._conn.execute("BEGIN")
        try:
            for stmt in statements:
                out.append(self._run_one(stmt))
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return out

    async def exec(self, sql: str) -> dict:
        """Runs newline-separated statements without bindings, like D1's exec()."""
        await self._gate("exec")
        started = time.perf_counter()
        count = 0
        for statement in (s.strip() for s in sql.split("\n")):
            if not statement:
                continue
            try:
                self._conn.execute(statement)
            except sqlite3.Error as exc:
                raise _d1_error(exc) from None
            count += 1
        return {"count": count, "duration": (time.perf_counter() - started) * 1000}
