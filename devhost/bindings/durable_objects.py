"""Local Durable Objects: one instance per id, calls to one object serialized (input
gate), SQLite-backed storage (`ctx.storage.sql.exec`, get/put/delete/list) in a file per
object, alarms persisted in that file and re-armed when the host restarts, and values
copied across the stub the way RPC copies them (no shared objects, no tuples)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable

from ..clock import SystemClock
from ._common import FaultPlan, split_sql

log = logging.getLogger("devhost.do")

ALARM_MAX_RETRIES = 6
MAX_BOUND_PARAMETERS = 100


# -- RPC value copying --------------------------------------------------------------

def rpc_copy(value: Any, _depth: int = 0) -> Any:
    """Deep-copies a value as structured clone would, refusing what cannot cross."""
    if _depth > 64:
        raise TypeError("value is too deeply nested to be sent over RPC")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, list):
        return [rpc_copy(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"dict keys sent over RPC must be str, got {type(k).__name__}")
            out[k] = rpc_copy(v, _depth + 1)
        return out
    raise TypeError(
        f"{type(value).__name__} cannot be sent over RPC (tuples, bytearrays, sets and "
        "class instances do not cross to JavaScript); use list, dict, bytes or primitives"
    )


def _encode(value: Any) -> str:
    def tag(v):
        if isinstance(v, bytes):
            return {"$bytes": base64.b64encode(v).decode()}
        if isinstance(v, datetime):
            return {"$date": v.timestamp()}
        if isinstance(v, list):
            return [tag(x) for x in v]
        if isinstance(v, dict):
            return {k: tag(x) for k, x in v.items()}
        return v

    return json.dumps(tag(rpc_copy(value)))


def _decode(text: str) -> Any:
    def untag(v):
        if isinstance(v, dict):
            if set(v) == {"$bytes"}:
                return base64.b64decode(v["$bytes"])
            if set(v) == {"$date"}:
                return datetime.fromtimestamp(v["$date"], UTC)
            return {k: untag(x) for k, x in v.items()}
        if isinstance(v, list):
            return [untag(x) for x in v]
        return v

    return untag(json.loads(text))


# -- storage ------------------------------------------------------------------------

class SqlStorageCursor:
    def __init__(self, cur: sqlite3.Cursor, rows: list[tuple], changes: int) -> None:
        self.columnNames = [d[0] for d in cur.description] if cur.description else []
        self._rows = rows
        self._i = 0
        self.rowsRead = len(rows)
        self.rowsWritten = changes

    def _as_dict(self, row: tuple) -> dict:
        return {n: (bytes(v) if isinstance(v, bytes) else v) for n, v in zip(self.columnNames, row)}

    def toArray(self) -> list[dict]:
        out = [self._as_dict(r) for r in self._rows[self._i :]]
        self._i = len(self._rows)
        return out

    def one(self) -> dict:
        if len(self._rows) - self._i != 1:
            raise RuntimeError(
                f"Expected exactly one result from SQL query, but got {'no' if len(self._rows) == self._i else 'multiple'} results."
            )
        return self.toArray()[0]

    def raw(self) -> list[list]:
        out = [list(r) for r in self._rows[self._i :]]
        self._i = len(self._rows)
        return out

    def __iter__(self):
        while self._i < len(self._rows):
            row = self._rows[self._i]
            self._i += 1
            yield self._as_dict(row)


class SqlStorage:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def exec(self, query: str, *bindings: Any) -> SqlStorageCursor:
        if len(bindings) > MAX_BOUND_PARAMETERS:
            # Durable Object SQL allows 100 bound parameters per query, as D1 does.
            raise RuntimeError(f"too many SQL variables: {len(bindings)} bound parameters (at most "
                               f"{MAX_BOUND_PARAMETERS}): SQLITE_ERROR")
        for b in bindings:
            if isinstance(b, (tuple, bytearray)):
                raise TypeError(f"{type(b).__name__} cannot be passed to SQL storage")
        before = self._conn.total_changes
        cur = self._conn.cursor()
        statements = [s for s in split_sql(query) if s.strip()]
        rows: list[tuple] = []
        # As workerd: a script runs every statement; only the last may take parameters.
        for s in statements[:-1]:
            try:
                cur.execute(s)
            except sqlite3.ProgrammingError:
                raise RuntimeError("When executing multiple SQL statements in a single call, only the last "
                                   "statement can have parameters.") from None
        if statements:
            cur.execute(statements[-1], bindings)
            rows = cur.fetchall()
        return SqlStorageCursor(cur, rows, self._conn.total_changes - before)

    @property
    def databaseSize(self) -> int:
        pc = self._conn.execute("PRAGMA page_count").fetchone()[0]
        ps = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return pc * ps


class DurableObjectStorage:
    def __init__(self, path: Path, on_alarm_set: Callable[[int | None], None]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Each statement commits on its own (as the SDK's sql.exec does); WAL with NORMAL
        # sync keeps a commit durable across a process kill (what a restart test does)
        # without an fsync per row, which would make a streamed reply (one row per piece)
        # cost far more here than on Cloudflare, where writes are coalesced.
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(
            "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS _cf_METADATA (key TEXT PRIMARY KEY, value);"
        )
        self.sql = SqlStorage(self._conn)
        self._on_alarm_set = on_alarm_set

    def close(self) -> None:
        self._conn.close()

    async def get(self, key: str | list[str]) -> Any:
        if isinstance(key, list):
            out = {}
            for k in key:
                row = self._conn.execute("SELECT value FROM _cf_KV WHERE key = ?", (k,)).fetchone()
                if row is not None:
                    out[k] = _decode(row[0])
            return out
        row = self._conn.execute("SELECT value FROM _cf_KV WHERE key = ?", (key,)).fetchone()
        return None if row is None else _decode(row[0])

    async def put(self, key: str | dict, value: Any = None) -> None:
        entries = key if isinstance(key, dict) else {key: value}
        encoded = [(k, _encode(v)) for k, v in entries.items()]
        self._conn.execute("BEGIN")
        try:
            self._conn.executemany(
                "INSERT INTO _cf_KV (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                encoded,
            )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    async def delete(self, key: str | list[str]) -> bool | int:
        keys = key if isinstance(key, list) else [key]
        count = 0
        for k in keys:
            count += self._conn.execute("DELETE FROM _cf_KV WHERE key = ?", (k,)).rowcount
        return count if isinstance(key, list) else count > 0

    async def deleteAll(self) -> None:
        """Everything goes, as on Cloudflare: keys, the alarm, and the SQL tables."""
        self._conn.execute("DELETE FROM _cf_KV")
        user = [r[0] for r in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]
        for name in user:
            self._conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        await self.deleteAlarm()

    async def list(self, options: dict | None = None, **kwargs) -> dict:
        opts = {**(options or {}), **kwargs}
        sql = "SELECT key, value FROM _cf_KV WHERE 1=1"
        args: list = []
        if opts.get("prefix"):
            sql += " AND substr(key, 1, ?) = ?"
            args += [len(opts["prefix"]), opts["prefix"]]
        if opts.get("start") is not None:
            sql += " AND key >= ?"
            args.append(opts["start"])
        if opts.get("startAfter") is not None:
            sql += " AND key > ?"
            args.append(opts["startAfter"])
        if opts.get("end") is not None:
            sql += " AND key < ?"
            args.append(opts["end"])
        sql += " ORDER BY key" + (" DESC" if opts.get("reverse") else "")
        if opts.get("limit") is not None:
            sql += " LIMIT ?"
            args.append(int(opts["limit"]))
        return {k: _decode(v) for k, v in self._conn.execute(sql, args).fetchall()}

    def transactionSync(self, fn: Callable[[], Any]) -> Any:
        """`ctx.storage.transactionSync(fn)`: the SQL writes `fn` makes commit together,
        or none does if it raises. `fn` is synchronous, as on Cloudflare."""
        self._conn.execute("SAVEPOINT transaction_sync")
        try:
            result = fn()
            if asyncio.iscoroutine(result):
                result.close()
                raise TypeError("transactionSync() takes a synchronous function")
        except BaseException:
            self._conn.execute("ROLLBACK TO transaction_sync")
            self._conn.execute("RELEASE transaction_sync")
            raise
        self._conn.execute("RELEASE transaction_sync")
        return result

    async def getAlarm(self) -> int | None:
        row = self._conn.execute("SELECT value FROM _cf_METADATA WHERE key = 'alarm'").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    async def setAlarm(self, scheduled: int | float | datetime) -> None:
        ms = int(scheduled.timestamp() * 1000) if isinstance(scheduled, datetime) else int(scheduled)
        self._conn.execute(
            "INSERT INTO _cf_METADATA (key, value) VALUES ('alarm', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (ms,),
        )
        self._on_alarm_set(ms)

    async def deleteAlarm(self) -> None:
        self._conn.execute("DELETE FROM _cf_METADATA WHERE key = 'alarm'")
        self._on_alarm_set(None)

    async def sync(self) -> None:
        return None

    def _remember_name(self, name: str | None) -> None:
        if name is not None:
            self._conn.execute(
                "INSERT OR IGNORE INTO _cf_METADATA (key, value) VALUES ('name', ?)", (name,)
            )


# -- ids, state, stubs ---------------------------------------------------------------

class DurableObjectId:
    def __init__(self, hex_id: str, name: str | None = None) -> None:
        self._hex = hex_id
        self.name = name

    def toString(self) -> str:
        return self._hex

    def equals(self, other: DurableObjectId) -> bool:
        return isinstance(other, DurableObjectId) and other._hex == self._hex

    def __str__(self) -> str:
        return self._hex


class DurableObjectState:
    def __init__(self, object_id: DurableObjectId, storage: DurableObjectStorage) -> None:
        self.id = object_id
        self.storage = storage
        self._background: set[asyncio.Task] = set()

    async def blockConcurrencyWhile(self, fn: Callable) -> Any:
        result = fn()
        return await result if asyncio.iscoroutine(result) else result

    def waitUntil(self, awaitable) -> None:
        task = asyncio.ensure_future(awaitable)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class _LiveObject:
    def __init__(self, instance: Any, state: DurableObjectState) -> None:
        self.instance = instance
        self.state = state
        self.gate = asyncio.Lock()
        self.alarm_task: asyncio.Task | None = None


class DurableObjectStub:
    def __init__(self, namespace: DurableObjectNamespace, object_id: DurableObjectId) -> None:
        self._ns = namespace
        self.id = object_id
        self.name = object_id.name

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(*args, **kwargs):
            return await self._ns._invoke(self.id, method, args, kwargs)

        return call


class DurableObjectNamespace:
    kind = "do"

    def __init__(
        self,
        binding: str,
        cls: type,
        directory: Path,
        env_ref: Callable[[], Any],
        faults: FaultPlan | None = None,
        alarm_retry_base_s: float = 2.0,
        clock=None,
        runtime=None,
    ) -> None:
        self.binding = binding
        # The local host's runtime (devhost/runtime): instances are built and called as
        # workerd does for the classes src/entry.py exports (SDK DurableObject base, JS
        # ctx and env, RPC conversions). Without one (unit tests of this binding), plain
        # Python classes get Python state and structured copies of Python values.
        self.runtime = runtime
        self.cls = cls
        self.directory = Path(directory)
        self._env_ref = env_ref
        self._faults = faults or FaultPlan()
        self._live: dict[str, _LiveObject] = {}
        self._alarm_retry_base_s = alarm_retry_base_s
        self._closed = False
        # Alarms are due by the host's clock; a manual clock wakes the waiting alarms
        # when a test advances it (possibly from another thread than the host's loop).
        self._clock = clock or SystemClock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Future] = set()
        self._firing: set[asyncio.Task] = set()  # alarm tasks past their time (running or retrying)
        self._clock.on_advance(self._clock_advanced)

    # Ids: deterministic per name within this namespace, 64 hex chars like Cloudflare's.
    def idFromName(self, name: str) -> DurableObjectId:
        digest = hashlib.sha256(f"{self.directory.name}\x00{name}".encode()).hexdigest()
        return DurableObjectId(digest, name)

    def newUniqueId(self, options: dict | None = None) -> DurableObjectId:
        return DurableObjectId(secrets.token_hex(32))

    def idFromString(self, hex_id: str) -> DurableObjectId:
        if not isinstance(hex_id, str) or len(hex_id) != 64 or any(c not in "0123456789abcdef" for c in hex_id):
            raise TypeError("Invalid Durable Object ID: must be 64 hex digits")
        return DurableObjectId(hex_id)

    def get(self, object_id: DurableObjectId, options: dict | None = None) -> DurableObjectStub:
        return DurableObjectStub(self, object_id)

    def getByName(self, name: str, options: dict | None = None) -> DurableObjectStub:
        return self.get(self.idFromName(name))

    # -- lifecycle ------------------------------------------------------------------

    def _path(self, hex_id: str) -> Path:
        return self.directory / f"{hex_id}.sqlite"

    def _object(self, object_id: DurableObjectId) -> _LiveObject:
        live = self._live.get(object_id.toString())
        if live is not None:
            return live
        hex_id = object_id.toString()
        storage = DurableObjectStorage(self._path(hex_id), lambda ms, h=hex_id: self._arm(h, ms))
        storage._remember_name(object_id.name)
        state = DurableObjectState(object_id, storage)
        if self.runtime is not None:
            instance = self.runtime.new_durable_object(self.cls, state)
        else:
            instance = self.cls.__new__(self.cls)
            # The Workers base class sets ctx and env in its constructor; so does ours.
            instance.__init__(state, self._env_ref())
        live = _LiveObject(instance, state)
        self._live[hex_id] = live
        return live

    async def _invoke(self, object_id: DurableObjectId, method: str, args: tuple, kwargs: dict) -> Any:
        if self._closed:
            raise RuntimeError(f"Durable Object namespace {self.binding} is shut down")
        args_c = rpc_copy(list(args))
        kwargs_c = rpc_copy(dict(kwargs))
        await self._faults.gate(self.binding, method, "Durable Object")
        live = self._object(object_id)
        fn = getattr(live.instance, method, None)
        if fn is None or method.startswith("_") or not callable(fn):
            raise TypeError(f'The RPC receiver does not implement the method "{method}".')
        async with live.gate:
            result = fn(*args_c, **kwargs_c)
            if asyncio.iscoroutine(result):
                result = await result
        return rpc_copy(result)

    async def invoke_js(self, object_id: DurableObjectId, method: str, js_args: list) -> Any:
        """An RPC call through the runtime: JS arguments (already cloned by the stub) in,
        the method's JS result cloned out, one call at a time per object."""
        from devhost.runtime.jsvalues import structured_clone

        if self._closed:
            raise RuntimeError(f"Durable Object namespace {self.binding} is shut down")
        await self._faults.gate(self.binding, method, "Durable Object")
        live = self._object(object_id)
        async with live.gate:
            result = await self.runtime.call_durable_object(live.instance, method, js_args)
        return structured_clone(result)

    # -- alarms ---------------------------------------------------------------------

    def _arm(self, hex_id: str, ms: int | None) -> None:
        live = self._live.get(hex_id)
        if live is not None and live.alarm_task is not None and live.alarm_task is not asyncio.current_task():
            live.alarm_task.cancel()
            live.alarm_task = None
        if ms is None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # re-armed by resume_alarms() when a loop runs
        task = loop.create_task(self._fire_at(hex_id, ms))
        if live is not None:
            live.alarm_task = task

    def _clock_advanced(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_waiters)

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _until(self, ms: int) -> None:
        """Returns once the host's clock reaches `ms`: by waiting for it to pass on a
        running clock, or for a test to advance the clock past it."""
        self._loop = asyncio.get_running_loop()
        while (delay := ms / 1000 - self._clock.now()) > 0:
            fut = self._loop.create_future()
            self._waiters.add(fut)
            try:
                await asyncio.wait_for(fut, None if self._clock.manual else delay)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(fut)

    async def _fire_at(self, hex_id: str, ms: int) -> None:
        await self._until(ms)
        live = self._object(DurableObjectId(hex_id, self._stored_name(hex_id)))
        live.alarm_task = asyncio.current_task()
        self._firing.add(live.alarm_task)
        try:
            await self._fire(live, hex_id, ms)
        finally:
            self._firing.discard(asyncio.current_task())

    async def _fire(self, live: _LiveObject, hex_id: str, ms: int) -> None:
        for retry in range(ALARM_MAX_RETRIES + 1):
            async with live.gate:
                if await live.state.storage.getAlarm() != ms:
                    return  # replaced or deleted meanwhile
                # Cleared before the handler runs, so the handler may set the next one.
                live.state.storage._conn.execute("DELETE FROM _cf_METADATA WHERE key = 'alarm'")
                try:
                    info = {"retryCount": retry, "isRetry": retry > 0}
                    if self.runtime is not None:
                        await self.runtime.call_alarm(live.instance, info)
                    else:
                        result = live.instance.alarm(info)
                        if asyncio.iscoroutine(result):
                            await result
                    return
                except Exception:
                    log.exception("alarm of %s/%s failed (attempt %d)", self.binding, hex_id, retry + 1)
                    if await live.state.storage.getAlarm() is None:
                        live.state.storage._conn.execute(
                            "INSERT INTO _cf_METADATA (key, value) VALUES ('alarm', ?)", (ms,)
                        )
            await asyncio.sleep(self._alarm_retry_base_s * (2**retry))

    async def alarms_idle(self) -> None:
        """Waits until no alarm of this namespace is due: every alarm at or before the
        host's clock has run (and any it set for now has run too). Alarms in the future
        are left waiting: a test advances the clock to reach them."""
        while True:
            now_ms = int(self._clock.now() * 1000)
            due = [t for t in self._firing if not t.done() and t is not asyncio.current_task()]
            for hex_id, live in self._live.items():
                task = live.alarm_task
                if task is None or task.done():
                    continue
                at = await live.state.storage.getAlarm()
                if at is not None and at <= now_ms and task not in due:
                    due.append(task)
            if not due:
                return
            await asyncio.gather(*due, return_exceptions=True)

    def _stored_name(self, hex_id: str) -> str | None:
        conn = sqlite3.connect(self._path(hex_id))
        try:
            row = conn.execute("SELECT value FROM _cf_METADATA WHERE key = 'name'").fetchone()
        except sqlite3.Error:
            row = None
        finally:
            conn.close()
        return row[0] if row else None

    def resume_alarms(self) -> int:
        """Re-arms every alarm persisted under this namespace (host start). Returns count."""
        count = 0
        if not self.directory.exists():
            return 0
        for path in sorted(self.directory.glob("*.sqlite")):
            conn = sqlite3.connect(path)
            try:
                row = conn.execute("SELECT value FROM _cf_METADATA WHERE key = 'alarm'").fetchone()
            except sqlite3.Error:
                row = None
            finally:
                conn.close()
            if row and row[0] is not None:
                live = self._object(DurableObjectId(path.stem, self._stored_name(path.stem)))
                live.alarm_task = asyncio.get_running_loop().create_task(self._fire_at(path.stem, int(row[0])))
                count += 1
        return count

    async def aclose(self) -> None:
        """The host stops: like an isolate dying, work an object left running in the
        background (ctx.waitUntil) stops where it is, and storage closes."""
        self._closed = True
        for live in self._live.values():
            if live.alarm_task is not None:
                live.alarm_task.cancel()
            background = list(live.state._background)
            for task in background:
                task.cancel()
            if background:
                await asyncio.gather(*background, return_exceptions=True)
            live.state.storage.close()
        self._live.clear()
