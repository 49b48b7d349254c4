"""Python adapters over miniflare's real D1/KV/R2 bindings.

The probe worker in ``worker/`` runs each operation on the real binding and answers
``{ok, value}`` or ``{ok: false, error}``. These classes give it the Python surface of the
Workers SDK, so one contract test can run against the local bindings and against these.
They are written against the probe, not against devhost: nothing here is imported from
``devhost/`` (a bug in a local binding cannot be mirrored on both sides). A call's
positional and keyword arguments travel as they were given; the probe turns them into
the JS call. Bytes cross as ``{"$bytes": base64}`` both ways.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx



class RemoteBindingError(Exception):
    """A call the real binding refused; the message is the JS error's message."""


def _encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class ProbeClient:
    """Talks to the probe worker started by the ``wrangler_url`` fixture."""

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    async def call(self, binding: str, op: str, **args: Any) -> Any:
        resp = await self.http.post(
            f"{self.base_url}/op", json={"binding": binding, "op": op, "args": _encode(args)}
        )
        try:
            body = resp.json()
        except json.JSONDecodeError:
            raise RuntimeError(f"probe worker answered {resp.status_code}: {resp.text[:500]}") from None
        if not body.get("ok"):
            raise RemoteBindingError(body.get("error"))
        return _decode(body.get("value"))

    async def reset(self) -> None:
        resp = await self.http.post(f"{self.base_url}/reset")
        body = resp.json()
        if not body.get("ok"):
            raise RuntimeError(f"probe worker could not reset its state: {body.get('error')}")


# -- D1 ------------------------------------------------------------------------------


class RemoteD1Statement:
    def __init__(self, client: ProbeClient, sql: str, params: tuple = ()) -> None:
        self._client = client
        self.sql = sql
        self.params = params

    def bind(self, *values: Any) -> RemoteD1Statement:
        return RemoteD1Statement(self._client, self.sql, tuple(values))

    def _wire(self) -> dict:
        return {"sql": self.sql, "params": list(self.params)}

    async def all(self) -> dict:
        return await self._client.call("d1", "all", **self._wire())

    async def run(self) -> dict:
        return await self._client.call("d1", "run", **self._wire())

    async def first(self, column: str | None = None) -> Any:
        return await self._client.call("d1", "first", column=column, **self._wire())

    async def raw(self, columnNames: bool = False, options: dict | None = None) -> list[list]:
        if options and options.get("columnNames"):
            columnNames = True
        return await self._client.call("d1", "raw", columnNames=columnNames, **self._wire())


class RemoteD1:
    def __init__(self, client: ProbeClient) -> None:
        self._client = client

    def prepare(self, sql: str) -> RemoteD1Statement:
        return RemoteD1Statement(self._client, sql)

    async def batch(self, statements: list[RemoteD1Statement]) -> list[dict]:
        return await self._client.call("d1", "batch", statements=[s._wire() for s in statements])

    async def exec(self, sql: str) -> dict:
        return await self._client.call("d1", "exec", sql=sql)


# -- KV ------------------------------------------------------------------------------


class RemoteKV:
    def __init__(self, client: ProbeClient) -> None:
        self._client = client

    async def get(self, key: str, *args, **kwargs) -> Any:
        return await self._client.call("kv", "get", key=key, pos=list(args), kw=kwargs)

    async def getWithMetadata(self, key: str, *args, **kwargs) -> dict:
        return await self._client.call("kv", "getWithMetadata", key=key, pos=list(args), kw=kwargs)

    async def put(self, key: str, value: Any, *args, **kwargs) -> None:
        return await self._client.call("kv", "put", key=key, value=value, pos=list(args), kw=kwargs)

    async def delete(self, key: str) -> None:
        return await self._client.call("kv", "delete", key=key)

    async def list(self, *args, **kwargs) -> dict:
        return await self._client.call("kv", "list", pos=list(args), kw=kwargs)


# -- R2 ------------------------------------------------------------------------------


def _drop_nulls(d: dict | None) -> dict:
    return {k: v for k, v in (d or {}).items() if v is not None}


class RemoteR2Object:
    """What head/put/list return, normalised to the local binding's attributes."""

    def __init__(self, d: dict) -> None:
        self.key: str = d["key"]
        self.version: str = d.get("version")
        self.size: int = d["size"]
        self.etag: str = d["etag"]
        self.httpEtag: str = d["httpEtag"]
        self.uploaded = datetime.fromtimestamp(d["uploaded"] / 1000, UTC) if d.get("uploaded") else None
        # The JS objects carry every field, unset ones as null; the local binding only
        # the ones that were set.
        self.httpMetadata: dict = _drop_nulls(d.get("httpMetadata"))
        self.customMetadata: dict = d.get("customMetadata") or {}
        self.checksums: dict = _drop_nulls(d.get("checksums"))
        self.storageClass: str = d.get("storageClass")


class RemoteR2ObjectBody(RemoteR2Object):
    """What get returns: the object and its body, which the probe read whole; the body
    methods are those of R2ObjectBody in JS (arrayBuffer, text, json), read once."""

    def __init__(self, d: dict) -> None:
        super().__init__(d)
        self._payload: bytes = d["body"]
        self.bodyUsed = False

    async def arrayBuffer(self) -> bytes:
        self.bodyUsed = True
        return self._payload

    bytes = arrayBuffer  # the Python SDK's name for the same read

    async def text(self) -> str:
        return (await self.arrayBuffer()).decode("utf-8")

    async def json(self) -> Any:
        return json.loads(await self.text())


class RemoteR2MultipartUpload:
    def __init__(self, client: ProbeClient, key: str, upload_id: str) -> None:
        self._client = client
        self.key = key
        self.uploadId = upload_id

    async def uploadPart(self, partNumber: int, value: Any) -> dict:
        return await self._client.call(
            "r2", "uploadPart", key=self.key, uploadId=self.uploadId, partNumber=partNumber, value=value
        )

    async def complete(self, uploadedParts: list[dict]) -> RemoteR2Object:
        d = await self._client.call("r2", "complete", key=self.key, uploadId=self.uploadId, parts=uploadedParts)
        return RemoteR2Object(d)

    async def abort(self) -> None:
        await self._client.call("r2", "abort", key=self.key, uploadId=self.uploadId)


class RemoteR2:
    def __init__(self, client: ProbeClient) -> None:
        self._client = client

    async def put(self, key: str, value: Any, *args, **kwargs) -> RemoteR2Object:
        return RemoteR2Object(await self._client.call("r2", "put", key=key, value=value, pos=list(args), kw=kwargs))

    async def get(self, key: str, *args, **kwargs) -> RemoteR2ObjectBody | None:
        d = await self._client.call("r2", "get", key=key, pos=list(args), kw=kwargs)
        return None if d is None else RemoteR2ObjectBody(d)

    async def head(self, key: str) -> RemoteR2Object | None:
        d = await self._client.call("r2", "head", key=key)
        return None if d is None else RemoteR2Object(d)

    async def delete(self, keys: str | list[str]) -> None:
        await self._client.call("r2", "delete", keys=keys)

    async def list(self, *args, **kwargs) -> dict:
        d = await self._client.call("r2", "list", pos=list(args), kw=kwargs)
        out = {
            "objects": [RemoteR2Object(o) for o in d["objects"]],
            "truncated": d["truncated"],
            "delimitedPrefixes": d["delimitedPrefixes"],
        }
        if d.get("cursor") is not None:
            out["cursor"] = d["cursor"]
        return out

    async def createMultipartUpload(self, key: str, *args, **kwargs) -> RemoteR2MultipartUpload:
        d = await self._client.call("r2", "createMultipartUpload", key=key, pos=list(args), kw=kwargs)
        return RemoteR2MultipartUpload(self._client, d["key"], d["uploadId"])

    def resumeMultipartUpload(self, key: str, uploadId: str) -> RemoteR2MultipartUpload:
        return RemoteR2MultipartUpload(self._client, key, uploadId)


class RemoteWorkflowInstance:
    def __init__(self, client: ProbeClient, instance_id: str) -> None:
        self._client = client
        self.id = instance_id

    async def status(self) -> dict:
        out = await self._client.call("wf", "status", id=self.id)
        if out.get("error") is None:
            out.pop("error")
        return out

    async def terminate(self) -> None:
        await self._client.call("wf", "terminate", id=self.id)


class RemoteWorkflow:
    """miniflare's Workflows binding (the probe worker's ProbeWorkflow)."""

    def __init__(self, client: ProbeClient) -> None:
        self._client = client

    async def create(self, *args, **kwargs) -> RemoteWorkflowInstance:
        out = await self._client.call("wf", "create", pos=list(args), kw=kwargs)
        return RemoteWorkflowInstance(self._client, out["id"])

    async def get(self, instance_id: str) -> RemoteWorkflowInstance:
        await self._client.call("wf", "status", id=instance_id)  # raises for an unknown id
        return RemoteWorkflowInstance(self._client, instance_id)


class RemoteDurableObject:
    """One probe object of miniflare's Durable Objects, by name: each RPC method of
    ProbeObject (worker/index.js) called through the probe worker."""

    def __init__(self, client: ProbeClient, name: str) -> None:
        self._client = client
        self.name = name

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(*args):
            return await self._client.call("do", "call", name=self.name, method=method, args=list(args))

        return call
