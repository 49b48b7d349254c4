"""Local D1: SQLite in the very file `wrangler d1 ... --local` uses.

Surface and shapes follow the Python Workers SDK: `prepare(sql).bind(*v)` then
`await .all()/.run()/.first(col)/.raw(columnNames=...)`, `await batch([...])`,
`await exec(sql)`. Values come back as they do after crossing from JS to Python:
BLOB as a list of ints, integers past 2**53 rounded through a double, integral REALs
as int (Pyodide turns a JS number that is a safe integer into int).
"""

from __future__ import annotations

import re
import functools
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
    if isinstance(value, (dict, list)):
        # What the runtime says once the value has become a JS object or array.
        shown = "[object Object]" if isinstance(value, dict) else ",".join(_js_string(v) for v in value)
        raise D1Error(f"D1_TYPE_ERROR: Type 'object' not supported for value '{shown}'")
    raise D1Error(f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported for value '{value}'")


def _js_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join(_js_string(v) for v in value)
    return str(value)


def _from_sql_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, int) and abs(value) > _SAFE_INT:
        return int(float(value))
    if isinstance(value, float) and value.is_integer() and abs(value) <= _SAFE_INT:
        return int(value)
    return value


def _error_text(exc: sqlite3.Error) -> str:
    """The runtime's wording of a SQLite failure (without the D1_ERROR prefix)."""
    if isinstance(exc, sqlite3.ProgrammingError) and str(exc).startswith("Incorrect number of bindings"):
        return "Wrong number of parameter bindings for SQL query."
    return f"{exc}: {_error_code(exc)}"


# SQLite's primary result codes, by number (an extended code's low byte is its primary).
_PRIMARY_CODES = dict(
    enumerate(
        "OK ERROR INTERNAL PERM ABORT BUSY LOCKED NOMEM READONLY INTERRUPT IOERR CORRUPT NOTFOUND FULL"
        " CANTOPEN PROTOCOL EMPTY SCHEMA TOOBIG CONSTRAINT MISMATCH MISUSE NOLFS AUTH FORMAT RANGE NOTADB".split()
    )
)


def _error_code(exc: sqlite3.Error) -> str:
    """workerd names the primary result code and, when SQLite gave a more specific one,
    adds it: `SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_NOTNULL)`."""
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", None)
    if code is None or name is None:
        return "SQLITE_ERROR"
    primary = f"SQLITE_{_PRIMARY_CODES.get(code & 0xFF, 'ERROR')}"
    return primary if primary == name else f"{primary} (extended: {name})"


def _d1_error(exc: sqlite3.Error) -> D1Error:
    return D1Error(f"D1_ERROR: {_error_text(exc)}")


_LINE_COMMENT = re.compile(r"^\s*--.*", re.MULTILINE)
_ANY_COMMENT = re.compile(r"--[^\n]*|/\*.*?(\*/|$)", re.DOTALL)


def _is_blank_query(sql: str) -> bool:
    """What the D1 service drops before running anything: nothing but whitespace and
    whole-line `--` comments."""
    return not _LINE_COMMENT.sub("", sql).strip()


def _statements(sql: str) -> list[str]:
    """Splits one prepared query into the statements SQLite would prepare one after the
    other (semicolons inside strings, comments and trigger bodies stay put). Trailing
    whitespace is not a statement; trailing anything else is kept so it can be refused."""
    out, start = [], 0
    i = sql.find(";")
    while i != -1:
        if sqlite3.complete_statement(sql[start : i + 1]):
            out.append(sql[start : i + 1])
            start = i + 1
        i = sql.find(";", i + 1)
    if sql[start:].strip():
        out.append(sql[start:])
    return out


def _has_statement(chunk: str) -> bool:
    return bool(_ANY_COMMENT.sub("", chunk).replace(";", "").strip())


_READ_ONLY = ("SELECT", "VALUES", "EXPLAIN")


@functools.lru_cache(maxsize=2048)
def _parse(sql: str) -> tuple[bool, tuple[str, ...], tuple[bool, ...], bool]:
    """(blank, statements, each has a statement, read-only), cached per SQL text as the
    runtime caches prepared statements: parsing must not cost on every call."""
    chunks = tuple(_statements(sql))
    read_only = len(chunks) == 1 and chunks[0].lstrip().upper().startswith(_READ_ONLY)
    return _is_blank_query(sql), chunks, tuple(_has_statement(c) for c in chunks), read_only


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
        self.round_trips = 0  # calls that reached the database (tests and the bench count them)

    @classmethod
    def from_config(cls, cfg, state_root: Path, faults: FaultPlan) -> LocalD1Database:
        return cls(cfg.binding, miniflare_d1_path(state_root, cfg.database_id), faults)

    def close(self) -> None:
        self._conn.close()

    async def _gate(self, op: str) -> None:
        # Every call that reaches the database is one round trip on D1 (a batch is one).
        self.round_trips += 1
        await self._faults.gate(self.binding, op, "D1_ERROR")

    def prepare(self, sql: str) -> D1PreparedStatement:
        if not isinstance(sql, str):
            raise TypeError("D1 prepare() takes the SQL as a string")
        # Like the runtime, an empty query is only refused when it runs.
        return D1PreparedStatement(self, sql)

    # -- execution -----------------------------------------------------------------

    def _execute(self, stmt: D1PreparedStatement) -> tuple[list[str], list[tuple], int, bool, float, int, int]:
        """Runs one prepared query. Several statements in it run in order, atomically;
        only the last may take parameters and only its rows are returned (as workerd's
        SQL API does)."""
        blank, chunks, has_statement, read_only = _parse(stmt.sql)
        if blank:
            raise D1Error("D1_ERROR: No SQL statements detected.")
        started = time.perf_counter()
        before = self._conn.total_changes
        if not read_only:
            before_row_id, before_size = self._last_row_id(), self._size()
        # One statement is atomic by itself; several run inside a savepoint.
        atomic = len(chunks) > 1
        if atomic:
            self._conn.execute("SAVEPOINT d1_query")
        try:
            for i, chunk in enumerate(chunks):
                if not has_statement[i]:
                    raise D1Error("D1_ERROR: SQL code did not contain a statement.")
                last = i == len(chunks) - 1
                try:
                    cur = self._conn.execute(chunk, stmt.params if last else ())
                    rows = cur.fetchall()
                except sqlite3.ProgrammingError as exc:
                    if not last and str(exc).startswith("Incorrect number of bindings"):
                        raise D1Error(
                            "D1_ERROR: When executing multiple SQL statements in a single call,"
                            " only the last statement can have parameters."
                        ) from None
                    raise
        except sqlite3.Error as exc:
            if atomic:
                self._rollback_savepoint()
            raise _d1_error(exc) from None
        except BaseException:
            if atomic:
                self._rollback_savepoint()
            raise
        if atomic:
            self._conn.execute("RELEASE d1_query")
        names = [d[0] for d in cur.description] if cur.description else []
        duration_ms = (time.perf_counter() - started) * 1000
        changes = self._conn.total_changes - before
        last_row_id, size = self._last_row_id(), self._size()
        # As the runtime decides it: rows changed, a new rowid, or the file grew/shrank.
        changed_db = changes != 0 or (not read_only and (last_row_id != before_row_id or size != before_size))
        return names, rows, changes, changed_db, duration_ms, last_row_id, size

    def _result(self, names, rows, changes, changed_db, duration_ms, last_row_id, size) -> dict:
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
                "last_row_id": last_row_id,
                "changed_db": changed_db,
                "size_after": size,
                # SQLite does not expose per-statement row counters to Python; these are
                # the rows returned and the rows changed, which is what D1 bills for
                # simple statements.
                "rows_read": len(rows),
                "rows_written": changes,
            },
            "results": results,
        }

    def _rollback_savepoint(self) -> None:
        # Some failures (e.g. ON CONFLICT ROLLBACK) already ended the transaction.
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK TO d1_query")
                self._conn.execute("RELEASE d1_query")
            except sqlite3.OperationalError:
                pass

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
        # The service drops blank statements (they get no result entry).
        statements = [s for s in statements if not _is_blank_query(s.sql)]
        if not statements:
            raise D1Error("D1_ERROR: No SQL statements detected.")
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
        """D1's exec(): each line of the script is one query (several `;`-separated
        statements on a line are fine), all in one transaction. Like the runtime, a
        failure is reported against line 1, whichever line failed."""
        await self._gate("exec")
        lines = sql.strip().split("\n")
        queries = [line for line in lines if not _is_blank_query(line)]
        if not queries:
            raise D1Error(f"D1_EXEC_ERROR: Error in line 1: {lines[0]}: No SQL statements detected.")
        started = time.perf_counter()
        self._conn.execute("BEGIN")
        try:
            for line in queries:
                self._execute(D1PreparedStatement(self, line))
        except D1Error as exc:
            self._conn.execute("ROLLBACK")
            reason = str(exc).removeprefix("D1_ERROR: ")
            raise D1Error(f"D1_EXEC_ERROR: Error in line 1: {lines[0]}: {reason}") from None
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return {"count": len(queries), "duration": (time.perf_counter() - started) * 1000}
