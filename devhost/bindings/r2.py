"""Local R2 bucket on SQLite: objects, listing with delimiter/cursor, multipart uploads
with R2's part-size rules (every part but the last at least 5 MiB, all non-final parts
the same size, the last no larger), errors worded as miniflare words them."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._common import FaultPlan, binding_options, devhost_path

MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10_000
MAX_LIST_LIMIT = 1000


class R2Error(Exception):
    """What a failing R2 call raises; the text matches the runtime's."""


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value)
    if isinstance(value, (tuple, bytearray)):
        raise TypeError(f"{type(value).__name__} cannot be passed to a binding; use bytes")
    raise TypeError("R2 put() value must be a string, ArrayBuffer, ArrayBufferView, Blob, ReadableStream or null")


class R2Object:
    """Metadata of a stored object (what head/put/list return)."""

    def __init__(self, row: dict) -> None:
        self.key: str = row["key"]
        self.version: str = row["version"]
        self.size: int = row["size"]
        self.etag: str = row["etag"]
        self.httpEtag: str = f'"{row["etag"]}"'
        self.uploaded: datetime = datetime.fromtimestamp(row["uploaded"] / 1000, UTC)
        self.httpMetadata: dict = json.loads(row["http_metadata"] or "{}")
        self.customMetadata: dict = json.loads(row["custom_metadata"] or "{}")
        self.checksums: dict = {"md5": row["md5"]} if row.get("md5") else {}
        self.storageClass: str = "Standard"


class R2Body:
    """The body-reading methods of R2ObjectBody (a body is read once, like a stream);
    expects `self._data`."""

    _data: bytes
    bodyUsed: bool = False

    async def arrayBuffer(self) -> bytes:
        self.bodyUsed = True
        return self._data

    async def bytes(self) -> bytes:
        return await self.arrayBuffer()

    async def text(self) -> str:
        return (await self.arrayBuffer()).decode()

    async def json(self) -> Any:
        return json.loads(await self.text())


class R2ObjectBody(R2Body, R2Object):
    """An object with its body (what get returns)."""

    def __init__(self, row: dict, data: bytes) -> None:
        super().__init__(row)
        self._data = data
        self.bodyUsed = False


class R2MultipartUpload:
    def __init__(self, bucket: LocalR2Bucket, key: str, upload_id: str) -> None:
        self._bucket = bucket
        self.key = key
        self.uploadId = upload_id

    def _upload_row(self, verb: str):
        row = self._bucket._conn.execute(
            "SELECT http_metadata, custom_metadata FROM uploads WHERE upload_id = ? AND key = ?",
            (self.uploadId, self.key),
        ).fetchone()
        if row is None:
            raise R2Error(f"{verb}: The specified multipart upload does not exist. (10024)")
        return row

    async def uploadPart(self, partNumber: int, value: Any) -> dict:
        await self._bucket._gate("uploadPart")
        if not isinstance(partNumber, int) or not 1 <= partNumber <= MAX_PARTS:
            raise R2Error(f"uploadPart: Part number must be between 1 and {MAX_PARTS} (inclusive). (10039)")
        self._upload_row("uploadPart")
        data = _as_bytes(value)
        etag = secrets.token_hex(16)
        self._bucket._conn.execute(
            "INSERT INTO parts (upload_id, part_number, etag, md5, data) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(upload_id, part_number) DO UPDATE SET etag = excluded.etag,"
            " md5 = excluded.md5, data = excluded.data",
            (self.uploadId, partNumber, etag, hashlib.md5(data).hexdigest(), data),
        )
        return {"partNumber": partNumber, "etag": etag}

    async def abort(self) -> None:
        await self._bucket._gate("abortMultipartUpload")
        conn = self._bucket._conn
        conn.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))
        conn.execute("DELETE FROM uploads WHERE upload_id = ?", (self.uploadId,))

    async def complete(self, uploadedParts: list[dict]) -> R2Object:
        await self._bucket._gate("completeMultipartUpload")
        verb = "completeMultipartUpload"
        http_md, custom_md = self._upload_row(verb)
        if isinstance(uploadedParts, tuple):
            raise TypeError("tuple cannot be passed to a binding; use list")
        conn = self._bucket._conn
        parts = []
        for p in sorted(uploadedParts, key=lambda p: p["partNumber"]):
            row = conn.execute(
                "SELECT etag, md5, length(data) FROM parts WHERE upload_id = ? AND part_number = ?",
                (self.uploadId, p["partNumber"]),
            ).fetchone()
            if row is None or row[0] != p.get("etag"):
                raise R2Error(
                    f"{verb}: One or more of the specified parts could not be found. (10025)"
                )
            parts.append((p["partNumber"], *row))
        if not parts:
            raise R2Error(f"{verb}: There was a problem with the multipart upload. (10048)")
        sizes = [r[3] for r in parts]
        if any(s < MIN_PART_BYTES for s in sizes[:-1]):
            raise R2Error(
                f"{verb}: Your proposed upload is smaller than the minimum allowed object size. (10011)"
            )
        if len(set(sizes[:-1])) > 1 or (len(sizes) > 1 and sizes[-1] > sizes[0]):
            raise R2Error(f"{verb}: There was a problem with the multipart upload. (10048)")
        etag = hashlib.md5(b"".join(bytes.fromhex(r[2]) for r in parts)).hexdigest() + f"-{len(parts)}"
        # Streamed: the object is allocated at its full size and each part is copied in
        # through SQLite's incremental blob I/O, one part in memory at a time.
        obj = self._bucket._store_parts(self.key, self.uploadId, parts, sum(sizes), etag, http_md, custom_md)
        conn.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))
        conn.execute("DELETE FROM uploads WHERE upload_id = ?", (self.uploadId,))
        return obj


class LocalR2Bucket:
    kind = "r2"

    def __init__(self, binding: str, path: Path, faults: FaultPlan | None = None) -> None:
        self.binding = binding
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._faults = faults or FaultPlan()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS objects (
              key TEXT PRIMARY KEY, version TEXT NOT NULL, size INTEGER NOT NULL,
              etag TEXT NOT NULL, md5 TEXT, uploaded INTEGER NOT NULL,
              http_metadata TEXT, custom_metadata TEXT, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS uploads (
              upload_id TEXT PRIMARY KEY, key TEXT NOT NULL,
              http_metadata TEXT, custom_metadata TEXT);
            CREATE TABLE IF NOT EXISTS parts (
              upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL,
              md5 TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (upload_id, part_number));
            """
        )

    @classmethod
    def from_config(cls, cfg, state_root: Path, faults: FaultPlan) -> LocalR2Bucket:
        return cls(cfg.binding, devhost_path(state_root, "r2", cfg.bucket_name), faults)

    def close(self) -> None:
        self._conn.close()

    async def _gate(self, op: str) -> None:
        await self._faults.gate(self.binding, op, op)

    @staticmethod
    def _check_key(key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError("R2 key must be a string")
        if len(key.encode()) > 1024:
            raise R2Error("put: The specified object name is not valid. (10020)")
        return key

    def _row(self, key: str) -> dict | None:
        cur = self._conn.execute(
            "SELECT key, version, size, etag, md5, uploaded, http_metadata, custom_metadata"
            " FROM objects WHERE key = ?",
            (key,),
        )
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row))

    def _store(self, key, data, etag, http_md, custom_md, md5) -> R2Object:
        import time

        uploaded = int(time.time() * 1000)
        self._conn.execute(
            "INSERT INTO objects (key, version, size, etag, md5, uploaded, http_metadata, custom_metadata, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET version = excluded.version,"
            " size = excluded.size, etag = excluded.etag, md5 = excluded.md5, uploaded = excluded.uploaded,"
            " http_metadata = excluded.http_metadata, custom_metadata = excluded.custom_metadata, data = excluded.data",
            (key, secrets.token_hex(16), len(data), etag, md5, uploaded, http_md, custom_md, data),
        )
        return R2Object(self._row(key))

    def _store_parts(self, key, upload_id, parts, size, etag, http_md, custom_md) -> R2Object:
        import time

        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.execute(
                "INSERT INTO objects (key, version, size, etag, md5, uploaded, http_metadata, custom_metadata, data)"
                " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, zeroblob(?)) ON CONFLICT(key) DO UPDATE SET"
                " version = excluded.version, size = excluded.size, etag = excluded.etag, md5 = NULL,"
                " uploaded = excluded.uploaded, http_metadata = excluded.http_metadata,"
                " custom_metadata = excluded.custom_metadata, data = excluded.data",
                (key, secrets.token_hex(16), size, etag, int(time.time() * 1000), http_md, custom_md, size),
            )
            rowid = conn.execute("SELECT rowid FROM objects WHERE key = ?", (key,)).fetchone()[0]
            offset = 0
            with conn.blobopen("objects", "data", rowid) as blob:
                for number, _etag, _md5, length in parts:
                    part_rowid = conn.execute("SELECT rowid FROM parts WHERE upload_id = ? AND part_number = ?",
                                              (upload_id, number)).fetchone()[0]
                    with conn.blobopen("parts", "data", part_rowid, readonly=True) as src:
                        blob.seek(offset)
                        blob.write(src.read())
                    offset += length
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return R2Object(self._row(key))

    async def put(self, key: str, value: Any, *args, **kwargs) -> R2Object:
        opts = binding_options(args, kwargs, "R2")
        self._check_key(key)
        data = _as_bytes(value)
        await self._gate("put")
        md5 = hashlib.md5(data).hexdigest()
        return self._store(
            key, data, md5,
            json.dumps(opts.get("httpMetadata") or {}),
            json.dumps(opts.get("customMetadata") or {}),
            md5,
        )

    async def get(self, key: str, *args, **kwargs) -> R2ObjectBody | None:
        opts = binding_options(args, kwargs, "R2")
        self._check_key(key)
        await self._gate("get")
        row = self._row(key)
        if row is None:
            return None
        rng = opts.get("range")
        offset, length = 0, row["size"]
        if isinstance(rng, dict):
            offset = rng.get("offset", 0)
            length = rng.get("length", row["size"] - offset)
            if "suffix" in rng:
                offset, length = max(0, row["size"] - rng["suffix"]), rng["suffix"]
        # Only the asked-for range leaves SQLite (substr() of a BLOB is a byte range).
        data = self._conn.execute("SELECT substr(data, ?, ?) FROM objects WHERE key = ?",
                                  (offset + 1, max(0, length), key)).fetchone()[0] or b""
        return R2ObjectBody(row, bytes(data))

    async def head(self, key: str) -> R2Object | None:
        self._check_key(key)
        await self._gate("head")
        row = self._row(key)
        return None if row is None else R2Object(row)

    async def delete(self, keys: str | list[str]) -> None:
        await self._gate("delete")
        if isinstance(keys, tuple):
            raise TypeError("tuple cannot be passed to a binding; use list")
        for key in [keys] if isinstance(keys, str) else keys:
            self._conn.execute("DELETE FROM objects WHERE key = ?", (self._check_key(key),))

    async def list(self, *args, **kwargs) -> dict:
        opts = binding_options(args, kwargs, "R2")
        limit = opts.get("limit", MAX_LIST_LIMIT)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
            raise R2Error("list: MaxKeys params must be positive integer <= 1000. (10022)")
        # httpMetadata/customMetadata come back only when asked for with `include`
        # (and then R2 returns fewer objects per page: miniflare caps it at 100).
        include = list(opts.get("include") or [])
        if include:
            limit = min(limit, 100)
        prefix = opts.get("prefix") or ""
        delimiter = opts.get("delimiter")
        after = opts.get("startAfter") or ""
        if opts.get("cursor"):
            try:
                after = max(after, base64.urlsafe_b64decode(opts["cursor"].encode()).decode())
            except Exception:
                raise R2Error("list: The continuation token is not valid. (10014)") from None
        await self._gate("list")
        # Walk keys in order, folding those under a delimiter into one prefix entry; a
        # folded prefix counts once towards the limit, as R2 counts it.
        objects: list[R2Object] = []
        prefixes: list[str] = []
        last_key = after
        truncated = False
        cur = self._conn.execute(
            "SELECT key FROM objects WHERE key > ? AND substr(key, 1, ?) = ? ORDER BY key",
            (after, len(prefix), prefix),
        )
        for (key,) in cur:
            folded = None
            if delimiter:
                i = key.find(delimiter, len(prefix))
                if i >= 0:
                    folded = key[: i + len(delimiter)]
                    if prefixes and prefixes[-1] == folded:
                        last_key = key
                        continue
            if len(objects) + len(prefixes) >= limit:
                truncated = True
                break
            if folded is not None:
                prefixes.append(folded)
            else:
                row = self._row(key)
                if "httpMetadata" not in include:
                    row["http_metadata"] = None
                if "customMetadata" not in include:
                    row["custom_metadata"] = None
                objects.append(R2Object(row))
            last_key = key
        if truncated and delimiter and prefixes and last_key.startswith(prefixes[-1]):
            # Skip the rest of a folded prefix on the next page.
            last_key = prefixes[-1] + "\U0010ffff"
        out: dict = {"objects": objects, "truncated": truncated, "delimitedPrefixes": prefixes}
        if truncated:
            out["cursor"] = base64.urlsafe_b64encode(last_key.encode()).decode()
        return out

    async def createMultipartUpload(self, key: str, *args, **kwargs) -> R2MultipartUpload:
        opts = binding_options(args, kwargs, "R2")
        self._check_key(key)
        await self._gate("createMultipartUpload")
        upload_id = secrets.token_urlsafe(24)
        self._conn.execute(
            "INSERT INTO uploads (upload_id, key, http_metadata, custom_metadata) VALUES (?, ?, ?, ?)",
            (upload_id, key, json.dumps(opts.get("httpMetadata") or {}), json.dumps(opts.get("customMetadata") or {})),
        )
        return R2MultipartUpload(self, key, upload_id)

    def resumeMultipartUpload(self, key: str, uploadId: str) -> R2MultipartUpload:
        return R2MultipartUpload(self, self._check_key(key), uploadId)
