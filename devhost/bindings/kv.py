"""Local Workers KV on SQLite, with KV's limits and error texts (as miniflare gives them).

Options may be keyword arguments (`put(k, v, expirationTtl=60)`), a trailing dict, or
for `get` a type string, which are the three forms the Python SDK accepts.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ._common import FaultPlan, binding_options, devhost_path

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_TTL_SECONDS = 60
MIN_CACHE_TTL_SECONDS = 30
MAX_LIST_LIMIT = 1000


class KVError(Exception):
    """What a failing KV call raises; the text matches the runtime's."""


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value == value:  # NaN
        return None
    return int(value)


class LocalKVNamespace:
    kind = "kv"

    def __init__(self, binding: str, path: Path, faults: FaultPlan | None = None, clock=time.time) -> None:
        self.binding = binding
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._faults = faults or FaultPlan()
        self._clock = clock
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL,"
            " expiration INTEGER, metadata TEXT)"
        )

    @classmethod
    def from_config(cls, cfg, state_root: Path, faults: FaultPlan, clock=time.time) -> LocalKVNamespace:
        return cls(cfg.binding, devhost_path(state_root, "kv", cfg.id), faults, clock)

    def close(self) -> None:
        self._conn.close()

    def _check_key(self, key: Any, verb: str) -> str:
        if not isinstance(key, str):
            raise TypeError("KV key must be a string")
        # workerd refuses these itself, before any request is made.
        if key == "":
            raise KVError("Key name cannot be empty.")
        if key in (".", ".."):
            raise KVError(f'"{key}" is not allowed as a key name.')
        size = len(key.encode())
        if size > MAX_KEY_BYTES:
            raise KVError(
                f"KV {verb} failed: 414 UTF-8 encoded length of {size} exceeds key length limit of {MAX_KEY_BYTES}."
            )
        return key

    def _live(self, key: str):
        row = self._conn.execute("SELECT value, expiration, metadata FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        if row[1] is not None and row[1] <= self._clock():
            self._conn.execute("DELETE FROM kv WHERE key = ?", (key,))
            return None
        return row

    @staticmethod
    def _decode(value: bytes, kind: str) -> Any:
        if kind == "text":
            return value.decode()
        if kind == "json":
            return json.loads(value.decode())
        if kind in ("arrayBuffer", "stream"):
            return bytes(value)
        raise TypeError(f'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".')

    @staticmethod
    def _check_get_options(opts: dict) -> None:
        if opts.get("cacheTtl") is not None:
            ttl = _as_int(opts["cacheTtl"])
            if ttl is None or ttl < MIN_CACHE_TTL_SECONDS:
                raise KVError(
                    f"KV GET failed: 400 Invalid cache_ttl of {opts['cacheTtl'] if ttl is None else ttl}."
                    f" Cache TTL must be at least {MIN_CACHE_TTL_SECONDS}."
                )

    async def get(self, key: str, *args, **kwargs) -> Any:
        opts = binding_options(args, kwargs, "KV", type_shorthand=True)
        self._check_key(key, "GET")
        self._check_get_options(opts)
        await self._faults.gate(self.binding, "get", "KV GET failed")
        row = self._live(key)
        return None if row is None else self._decode(row[0], opts.get("type", "text"))

    async def getWithMetadata(self, key: str, *args, **kwargs) -> dict:
        opts = binding_options(args, kwargs, "KV", type_shorthand=True)
        self._check_key(key, "GET")
        self._check_get_options(opts)
        await self._faults.gate(self.binding, "getWithMetadata", "KV GET failed")
        row = self._live(key)
        if row is None:
            return {"value": None, "metadata": None, "cacheStatus": None}
        return {
            "value": self._decode(row[0], opts.get("type", "text")),
            "metadata": json.loads(row[2]) if row[2] is not None else None,
            "cacheStatus": None,
        }

    async def put(self, key: str, value: Any, *args, **kwargs) -> None:
        opts = binding_options(args, kwargs, "KV", type_shorthand=True)
        self._check_key(key, "PUT")
        if isinstance(value, str):
            data = value.encode()
        elif isinstance(value, (bytes, memoryview)):
            data = bytes(value)
        else:
            raise TypeError(
                "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values."
            )
        if len(data) > MAX_VALUE_BYTES:
            raise KVError(f"KV PUT failed: 413 Value length of {len(data)} exceeds limit of {MAX_VALUE_BYTES}.")
        now = self._clock()
        expiration = None
        # workerd sends both as integers (truncated); the service then checks them.
        if opts.get("expirationTtl") is not None:
            ttl = _as_int(opts["expirationTtl"])
            if ttl is None or ttl <= 0:
                raise KVError(
                    f"KV PUT failed: 400 Invalid expiration_ttl of {opts['expirationTtl'] if ttl is None else ttl}."
                    " Please specify integer greater than 0."
                )
            if ttl < MIN_TTL_SECONDS:
                raise KVError(
                    f"KV PUT failed: 400 Invalid expiration_ttl of {ttl}. Expiration TTL must be at least 60."
                )
            expiration = int(now) + ttl
        elif opts.get("expiration") is not None:
            exp = _as_int(opts["expiration"])
            if exp is None or exp <= int(now):
                shown = opts["expiration"] if exp is None else exp
                raise KVError(
                    f"KV PUT failed: 400 Invalid expiration of {shown}. Please specify integer"
                    " greater than the current number of seconds since the UNIX epoch."
                )
            if exp < int(now) + MIN_TTL_SECONDS:
                raise KVError(
                    f"KV PUT failed: 400 Invalid expiration of {exp}."
                    " Expiration times must be at least 60 seconds in the future."
                )
            expiration = exp
        metadata = None
        if opts.get("metadata") is not None:
            # Sized as JSON.stringify gives it: compact, non-ASCII as UTF-8.
            metadata = json.dumps(opts["metadata"], separators=(",", ":"), ensure_ascii=False)
            if len(metadata.encode()) > MAX_METADATA_BYTES:
                raise KVError(
                    f"KV PUT failed: 413 Metadata length of {len(metadata.encode())} exceeds limit of {MAX_METADATA_BYTES}."
                )
        await self._faults.gate(self.binding, "put", "KV PUT failed")
        self._conn.execute(
            "INSERT INTO kv (key, value, expiration, metadata) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration,"
            " metadata = excluded.metadata",
            (key, data, expiration, metadata),
        )

    async def delete(self, key: str) -> None:
        self._check_key(key, "DELETE")
        await self._faults.gate(self.binding, "delete", "KV DELETE failed")
        self._conn.execute("DELETE FROM kv WHERE key = ?", (key,))

    async def list(self, *args, **kwargs) -> dict:
        opts = binding_options(args, kwargs, "KV", type_shorthand=True)
        limit = opts.get("limit")
        # workerd leaves a zero or negative limit out of the request (so the default
        # applies) and truncates a fractional one.
        limit = _as_int(limit) if limit is not None else None
        if limit is None or limit <= 0:
            limit = MAX_LIST_LIMIT
        if limit > MAX_LIST_LIMIT:
            raise KVError(
                f"KV GET failed: 400 Invalid key_count_limit of {limit}. Please specify an integer less than 1000."
            )
        prefix = opts.get("prefix") or ""
        cursor = opts.get("cursor")
        after = ""
        if cursor:
            try:
                after = base64.urlsafe_b64decode(cursor.encode()).decode()
            except Exception:
                raise KVError("KV GET failed: 400 Invalid cursor.") from None
        await self._faults.gate(self.binding, "list", "KV GET failed")
        now = self._clock()
        rows = self._conn.execute(
            "SELECT key, expiration, metadata FROM kv WHERE key > ? AND substr(key, 1, ?) = ?"
            " AND (expiration IS NULL OR expiration > ?) ORDER BY key LIMIT ?",
            (after, len(prefix), prefix, now, limit + 1),
        ).fetchall()
        complete = len(rows) <= limit
        rows = rows[:limit]
        keys = []
        for key, expiration, metadata in rows:
            entry: dict = {"name": key}
            if expiration is not None:
                entry["expiration"] = expiration
            if metadata is not None:
                entry["metadata"] = json.loads(metadata)
            keys.append(entry)
        out: dict = {"keys": keys, "list_complete": complete, "cacheStatus": None}
        if not complete:
            out["cursor"] = base64.urlsafe_b64encode(rows[-1][0].encode()).decode()
        return out
