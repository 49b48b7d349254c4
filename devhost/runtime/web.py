"""The web platform objects the Workers SDK uses, as Workers implements them, in Python:
URL, Headers, Request, Response, ReadableStream, TransformStream (with its writer and
backpressure) and fetch. Only what the SDK's modules and the local host call is here;
the rest of `js` raises AttributeError, as a missing global would."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from functools import partial

from .jsvalues import (JsArray, JsBuffer, JsException, JsObject, JsPromise, JsProxy, Uint8Array, ArrayBuffer,
                       jsnull, js_async)

# Body reads start at once, as in JS: a reader must make progress before it is awaited
# (a TransformStream's writer waits for it).
body_read = partial(js_async, eager=True)

NULL_BODY_STATUSES = frozenset({101, 103, 204, 205, 304})


def _is_undefined(value: Any) -> bool:
    return value is None or value is jsnull


def _option(init: Any, name: str, default: Any = None) -> Any:
    """A property of an init dictionary (a JS object, or a Python mapping passed as-is)."""
    if init is None or init is jsnull:
        return default
    if isinstance(init, JsObject):
        return init.js_get(name, default)
    if isinstance(init, dict):
        value = init.get(name)
        return default if value is None else value
    return getattr(init, name, default)


# -- URL ---------------------------------------------------------------------------------


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class URL(JsProxy):
    js_name = "URL"

    def __init__(self, url: str, base: str | None = None) -> None:
        if base:
            from urllib.parse import urljoin

            url = urljoin(base, url)
        parts = urlsplit(url)
        if not parts.scheme or (parts.scheme in ("http", "https") and not parts.netloc):
            raise JsException("TypeError", "Invalid URL string.")
        self.protocol = parts.scheme + ":"
        hostname = (parts.hostname or "").lower()
        if ":" in hostname:
            hostname = f"[{hostname}]"
        # WHATWG URL: a scheme's default port is no port at all.
        port = parts.port if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme) else None
        self.hostname = hostname
        self.port = str(port) if port is not None else ""
        self.host = f"{hostname}:{port}" if port is not None else hostname
        self.pathname = parts.path or ("/" if parts.scheme in ("http", "https") else "")
        self.search = f"?{parts.query}" if parts.query else ""
        self.hash = f"#{parts.fragment}" if parts.fragment else ""
        self.origin = f"{parts.scheme}://{self.host}"
        # An empty query or fragment is no search/hash, but href keeps its "?" / "#".
        before_hash, has_hash, _ = url.partition("#")
        query = self.search or ("?" if "?" in before_hash else "")
        self.href = f"{self.origin}{self.pathname}{query}{self.hash or ('#' if has_hash else '')}"

    def toString(self) -> str:
        return self.href


# -- Headers -----------------------------------------------------------------------------

_TOKEN = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Headers(JsProxy):
    """Fetch Headers: names case-insensitive; get() joins repeats with ", "; iteration is
    sorted by name with repeats joined, except Set-Cookie, whose values stay apart
    (getSetCookie())."""

    js_name = "Headers"

    def __init__(self, init: Any = None) -> None:
        self._list: list[tuple[str, str]] = []
        if _is_undefined(init):
            return
        if isinstance(init, Headers):
            self._list = list(init._list)
            return
        if isinstance(init, JsObject):
            pairs = list(init._props.items())
        elif isinstance(init, dict):
            pairs = list(init.items())
        else:
            pairs = []
            for pair in init:
                pair = list(pair)
                if len(pair) != 2:
                    raise JsException("TypeError", "Incorrect type for the 'init' field on 'Headers': the provided "
                                                   "value is not a sequence of name-value pairs.")
                pairs.append(pair)
        for name, value in pairs:
            self.append(name, value)

    @staticmethod
    def _check(name: Any, value: Any) -> tuple[str, str]:
        name, value = str(name), str(value)
        if not name or any(c not in _TOKEN for c in name):
            raise JsException("TypeError", "Invalid header name.")
        value = value.strip(" \t\r\n")
        if "\r" in value or "\n" in value or "\x00" in value:
            raise JsException("TypeError", "Invalid header value.")
        return name.lower(), value

    def append(self, name, value) -> None:
        self._list.append(self._check(name, value))

    def set(self, name, value) -> None:
        name, value = self._check(name, value)
        self._list = [(k, v) for k, v in self._list if k != name] + [(name, value)]

    def delete(self, name) -> None:
        name = str(name).lower()
        self._list = [(k, v) for k, v in self._list if k != name]

    def has(self, name) -> bool:
        name = str(name).lower()
        return any(k == name for k, _ in self._list)

    def get(self, name):
        name = str(name).lower()
        values = [v for k, v in self._list if k == name]
        return ", ".join(values) if values else jsnull

    def getSetCookie(self) -> JsArray:
        return JsArray(v for k, v in self._list if k == "set-cookie")

    def getAll(self, name) -> JsArray:
        return JsArray(v for k, v in self._list if k == str(name).lower())

    def _entries(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name in sorted({k for k, _ in self._list}):
            values = [v for k, v in self._list if k == name]
            if name == "set-cookie":
                out += [(name, v) for v in values]
            else:
                out.append((name, ", ".join(values)))
        return out

    def __iter__(self):
        return (JsArray(pair) for pair in self._entries())

    def entries(self):
        return iter(self)

    def keys(self):
        return (k for k, _ in self._entries())

    def values(self):
        return (v for _, v in self._entries())

    def raw_pairs(self) -> list[tuple[str, str]]:
        """Host side: every header as set, in order (for the HTTP response)."""
        return list(self._list)


# -- streams -----------------------------------------------------------------------------


class ReadableStream(JsProxy):
    """A byte stream read by async iteration (chunks are Uint8Array). Fed either with
    fixed chunks, or by a TransformStream's writer."""

    js_name = "ReadableStream"

    def __init__(self, chunks: list[bytes] | None = None, source: _StreamQueue | None = None) -> None:
        self._source = source or _StreamQueue.of(chunks or [])
        self.locked = False

    def __aiter__(self):
        self.locked = True
        return self

    async def __anext__(self) -> Uint8Array:
        chunk = await self._source.take()
        if chunk is None:
            raise StopAsyncIteration
        return Uint8Array(chunk)

    async def read_all(self) -> bytes:
        """Host side: the whole body."""
        self.locked = True
        parts = []
        while (chunk := await self._source.take()) is not None:
            parts.append(chunk)
        return b"".join(parts)

    def cancel(self, reason=None) -> JsPromise:
        self._source.cancel()
        return JsPromise.resolved(None)


class _StreamQueue:
    """Chunks between a writer and a reader. A write settles when the reader takes
    the chunk (a TransformStream's readable side holds nothing), close when the reader
    reaches the end; a cancelled reader makes later writes fail."""

    def __init__(self) -> None:
        self._items: deque[tuple[bytes | None, asyncio.Future | None]] = deque()
        self._waiter: asyncio.Future | None = None
        self.cancelled = False
        self.closed = False

    @classmethod
    def of(cls, chunks: list[bytes]) -> _StreamQueue:
        q = cls()
        for c in chunks:
            q._items.append((bytes(c), None))
        q._items.append((None, None))
        q.closed = True
        return q

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def put(self, chunk: bytes | None) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if self.cancelled:
            fut.set_exception(JsException("TypeError", "This WritableStream has been closed."))
            return fut
        self._items.append((chunk, fut))
        self._wake()
        return fut

    async def take(self) -> bytes | None:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        chunk, fut = self._items[0]
        if chunk is not None or fut is not None:
            self._items.popleft()
        if fut is not None and not fut.done():
            fut.set_result(None)
        return chunk

    def cancel(self) -> None:
        self.cancelled = True
        while self._items:
            _, fut = self._items.popleft()
            if fut is not None and not fut.done():
                fut.set_exception(JsException("TypeError", "This WritableStream has been closed."))


class WritableStreamDefaultWriter(JsProxy):
    js_name = "WritableStreamDefaultWriter"

    def __init__(self, queue: _StreamQueue) -> None:
        self._queue = queue

    def write(self, chunk) -> JsPromise:
        if self._queue.closed:
            return JsPromise(_raise(JsException("TypeError", "This WritableStream has been closed.")))
        data = chunk.to_bytes() if isinstance(chunk, JsBuffer) else bytes(chunk)
        return JsPromise(self._queue.put(data))

    def close(self) -> JsPromise:
        if self._queue.closed:
            return JsPromise(_raise(JsException("TypeError", "This WritableStream has been closed.")))
        self._queue.closed = True
        return JsPromise(self._queue.put(None))

    def releaseLock(self) -> None:
        return None

    @property
    def desiredSize(self) -> int:
        return 0 if self._queue._items else 1


async def _raise(exc: BaseException):
    raise exc


class WritableStream(JsProxy):
    js_name = "WritableStream"

    def __init__(self, queue: _StreamQueue) -> None:
        self._queue = queue

    def getWriter(self) -> WritableStreamDefaultWriter:
        return WritableStreamDefaultWriter(self._queue)


class TransformStream(JsProxy):
    js_name = "TransformStream"

    def __init__(self) -> None:
        queue = _StreamQueue()
        self.readable = ReadableStream(source=queue)
        self.writable = WritableStream(queue)


def _body_bytes(body: Any) -> tuple[bytes | None, ReadableStream | None, str | None]:
    """(bytes, stream, default content-type) of a Request/Response body init."""
    if _is_undefined(body):
        return None, None, None
    if isinstance(body, str):
        return body.encode(), None, "text/plain;charset=UTF-8"
    if isinstance(body, JsBuffer):
        return body.to_bytes(), None, None
    if isinstance(body, ReadableStream):
        return None, body, None
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), None, None
    raise JsException("TypeError", f"This body type is not supported here: {type(body).__name__}.")


class _Body(JsProxy):
    """What Request and Response share: a body read once."""

    _bytes: bytes | None
    _stream: ReadableStream | None
    bodyUsed: bool

    @property
    def body(self):
        if self._stream is None and self._bytes is None:
            return jsnull
        if self._stream is None:
            self._stream = ReadableStream([self._bytes] if self._bytes else [])
            self._bytes = None
        return self._stream

    async def _read(self) -> bytes:
        if self.bodyUsed:
            raise JsException("TypeError", "Body has already been used. It can only be used once.")
        self.bodyUsed = True
        if self._stream is not None:
            return await self._stream.read_all()
        return self._bytes or b""

    @body_read
    async def arrayBuffer(self) -> ArrayBuffer:
        return ArrayBuffer(await self._read())

    @body_read
    async def bytes(self) -> Uint8Array:
        return Uint8Array(await self._read())

    @body_read
    async def text(self) -> str:
        return (await self._read()).decode("utf-8", errors="replace")

    @body_read
    async def json(self):
        try:
            return _from_json(json.loads((await self._read()).decode("utf-8")))
        except ValueError as exc:
            raise JsException("SyntaxError", f"Unexpected token in JSON: {exc}") from None


def _from_json(value: Any) -> Any:
    """A parsed JSON value as JS holds it (null is null, not undefined)."""
    if value is None:
        return jsnull
    if isinstance(value, dict):
        return JsObject({k: _from_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return JsArray(_from_json(v) for v in value)
    return value


# -- Request / Response ------------------------------------------------------------------


class Request(_Body):
    js_name = "Request"

    def __init__(self, input: Any, init: Any = None) -> None:
        if isinstance(input, Request):
            base_method, base_headers, url = input.method, input.headers, input.url
            body, stream = input._bytes, input._stream
        else:
            base_method, base_headers, url = "GET", None, str(input)
            body, stream = None, None
        URL(url)  # validates
        self.url = url
        self.method = str(_option(init, "method", base_method)).upper()
        self.headers = Headers(_option(init, "headers", base_headers))
        init_body = _option(init, "body")
        if init_body is not None:
            body, stream, ctype = _body_bytes(init_body)
            if ctype and not self.headers.has("content-type"):
                self.headers.set("content-type", ctype)
        if (body is not None or stream is not None) and self.method in ("GET", "HEAD"):
            raise JsException("TypeError", "Request with a GET or HEAD method cannot have a body.")
        self._bytes, self._stream = body, stream
        self.bodyUsed = False
        self.redirect = _option(init, "redirect", "follow")
        self.cf = _option(init, "cf", None)  # undefined unless given
        self.signal = _option(init, "signal", None)

    def clone(self) -> Request:
        return Request(self)


class Response(_Body):
    js_name = "Response"

    def __init__(self, body: Any = None, init: Any = None) -> None:
        status = _option(init, "status", 200)
        if not isinstance(status, int) or not 200 <= status <= 599 and status != 101:
            raise JsException("RangeError", f"Invalid HTTP status code: {status}")
        self.status = status
        self.statusText = str(_option(init, "statusText", "") or "")
        self.headers = Headers(_option(init, "headers"))
        self._bytes, self._stream, ctype = _body_bytes(body)
        if status in NULL_BODY_STATUSES and (self._bytes is not None or self._stream is not None):
            raise JsException("TypeError", "Response with null body status (101, 204, 205, or 304) cannot have a body.")
        if ctype and not self.headers.has("content-type"):
            self.headers.set("content-type", ctype)
        self.encodeBody = _option(init, "encodeBody", "automatic")
        self.webSocket = _option(init, "webSocket", jsnull)
        self.bodyUsed = False
        self.url = ""
        self.redirected = False
        self.type = "default"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def clone(self) -> Response:
        if self._stream is not None:
            raise JsException("TypeError", "cloning a streamed Response is not supported by the local runtime")
        copy = Response(None, JsObject({"status": self.status, "statusText": self.statusText,
                                        "headers": self.headers}))
        copy._bytes = self._bytes
        return copy

    @staticmethod
    def redirect(url: str, status: int = 302) -> Response:
        if status not in (301, 302, 303, 307, 308):
            raise JsException("RangeError", f"Invalid redirect status: {status}")
        return Response(None, JsObject({"status": status, "headers": JsArray([JsArray(["location", str(url)])])}))

    @staticmethod
    def json_(data: Any, init: Any = None) -> Response:
        from .jsvalues import py_value

        r = Response(json.dumps(py_value(data), separators=(",", ":")), init)
        r.headers.set("content-type", "application/json")
        return r


# -- AbortController, fetch ----------------------------------------------------------------


class AbortSignal(JsProxy):
    js_name = "AbortSignal"

    def __init__(self) -> None:
        self.aborted = False
        self.reason = None


class AbortController(JsProxy):
    js_name = "AbortController"

    def __init__(self) -> None:
        self.signal = AbortSignal()

    def abort(self, reason=None) -> None:
        self.signal.aborted = True
        self.signal.reason = reason


async def _fetch(resource: Any, init: Any = None) -> Response:
    """The runtime's fetch() for outbound HTTP from the Worker, done with httpx."""
    import httpx

    request = resource if isinstance(resource, Request) else Request(str(resource), init)
    body = await request._read() if (request._bytes is not None or request._stream is not None) else None
    follow = (_option(init, "redirect", request.redirect) or "follow") == "follow"
    try:
        async with httpx.AsyncClient(follow_redirects=follow, timeout=30.0) as client:
            r = await client.request(request.method, request.url, headers=request.headers.raw_pairs(),
                                     content=body)
    except httpx.HTTPError as exc:
        raise JsException("TypeError", f"Network connection lost. ({type(exc).__name__}: {exc})") from None
    # httpx has undone any content-encoding, as fetch() does.
    headers = [(k, v) for k, v in r.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
    response = Response(None if r.status_code in NULL_BODY_STATUSES else Uint8Array(r.content),
                        JsObject({"status": r.status_code, "statusText": r.reason_phrase, "headers": headers}))
    response.url = str(r.url)
    response.redirected = bool(r.history)
    return response


def fetch(resource: Any, init: Any = None) -> JsPromise:
    return JsPromise.eager(_fetch(resource, init))
