"""The deploy path, executed locally: src/entry.py and the real Workers SDK
(workers-runtime-sdk: `workers`, `workers.asgi`, `entrypoints`, `rpc`, ...) run here
over a CPython rendering of the JavaScript surface they touch (devhost/runtime/jsvalues.py,
web.py, modules.py) and of the runtime's own glue (this module: how workerd calls an
entrypoint class, converts RPC values, runs alarms and Workflows).

What is real: every line of src/entry.py and of the SDK. What is rendered in Python:
the JS objects (URL, Headers, Request, Response, streams, fetch, Promises, the
bindings' JS faces) and the runtime's calling conventions, following workerd's
python-entrypoint-helper.ts and introspection.py (`wrapper_func`)."""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from pathlib import Path
from typing import Any

from . import jsvalues as jv
from . import modules, platform, web

_HELPER: modules.EntrypointHelper | None = None


def install(compatibility_date: str = "2026-06-01", flags: list[str] | None = None) -> modules.EntrypointHelper:
    """Registers the runtime-only modules and imports the real SDK on top of them."""
    global _HELPER
    if _HELPER is None:
        _HELPER = modules.install_modules(compatibility_date, list(flags or []))
        _HELPER.js_modules["python_modules/workers/workflows.js"] = platform.workflows_js_module()
        stale = sys.modules.get("workers")
        if stale is not None and getattr(stale, "__devhost_shim__", False):
            for name in [n for n in sys.modules if n == "workers" or n.startswith("workers.") or n == "asgi"]:
                del sys.modules[name]
        importlib.import_module("workers")
        importlib.import_module("workers.asgi")
    return _HELPER


def sdk():
    """The real SDK package (`workers`), imported over the local runtime."""
    install()
    return importlib.import_module("workers")


def import_entry(root: Path, config=None):
    """Imports src/entry.py (with the real SDK) and returns the module."""
    if config is not None:
        install(config.compatibility_date, list(config.compatibility_flags))
    else:
        install()
    src = str(Path(root) / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return importlib.import_module("entry")


class JsEnv(jv.JsProxy):
    """The `env` object the runtime hands to entrypoints: vars as strings, each binding
    as its JS object. A live view of the host's env (a test that sets host.env.X is
    seen by the next request), each binding's JS object made once."""

    def __init__(self, values) -> None:
        self._values = values  # a dict, or the host's Env (attributes)
        self._faces: dict[int, Any] = {}

    def _lookup(self, name: str) -> Any:
        if isinstance(self._values, dict):
            if name not in self._values:
                raise AttributeError(name)
            return self._values[name]
        return getattr(self._values, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = self._lookup(name)
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        face = self._faces.get(id(value))
        if face is None or face[0] is not value:
            face = self._faces[id(value)] = (value, _js_binding(value))
        return face[1]


def _js_binding(value: Any) -> Any:
    from devhost.bindings.durable_objects import DurableObjectNamespace

    if isinstance(value, DurableObjectNamespace):
        return platform.DurableObjectNamespaceObject(value)
    if getattr(value, "kind", None) in ("d1", "kv", "r2", "ai", "ratelimit", "workflow"):
        return platform.HostObject(value)
    # Not a Cloudflare binding (the local host's CLOCK): handed over as it is.
    return value


class LocalRuntime:
    """One Worker's runtime on the local host: the JS env its entrypoints get, and the
    calls workerd makes into Python (fetch, scheduled, RPC methods of Durable Objects,
    alarms, Workflow runs)."""

    def __init__(self, entry=None, env_values: dict[str, Any] | None = None, host_ctx=None) -> None:
        self.helper = install()
        self.entry = entry
        if host_ctx is None:
            from devhost.host import ExecutionContext

            host_ctx = ExecutionContext()
        self.host_ctx = host_ctx
        self.js_env = JsEnv(env_values if env_values is not None else {})
        self.js_ctx = platform.ExecutionContextObject(host_ctx)
        workers = importlib.import_module("workers")
        self._from_rpc = workers.python_from_rpc
        self._to_rpc = workers.python_to_rpc
        # `from workers import env, wait_until` (the global cloudflare:workers module).
        self.helper.cloudflareWorkersModule.env = self.js_env
        self.helper.wait_until_sink = host_ctx.waitUntil

    def activate(self) -> None:
        """Points the global cloudflare:workers module at this host (one host serves at
        a time in a process; tests make several in turn)."""
        self.helper.cloudflareWorkersModule.env = self.js_env
        self.helper.wait_until_sink = self.host_ctx.waitUntil

    # -- calls into Python, as workerd makes them ----------------------------------------

    async def _call_method(self, instance, prop: str, js_args: list, relaxed: bool):
        """introspection.wrapper_func: arguments through python_from_rpc, the result
        through python_to_rpc."""
        method = getattr(instance, prop)
        py_args = [self._from_rpc(a) for a in js_args]
        result = modules.relaxed_call(method, *py_args) if relaxed else method(*py_args)
        if inspect.isawaitable(result):
            result = await result
        return self._to_rpc(result)

    async def fetch(self, request: web.Request):
        """The Worker's fetch: a new Default entrypoint per request, `fetch(request)`."""
        self.activate()
        instance = self.entry.Default(self.js_ctx, self.js_env)
        response = await self._call_method(instance, "fetch", [request], relaxed=True)
        response = getattr(response, "js_object", response)
        if not isinstance(response, web.Response):
            raise TypeError(f"the Worker's fetch returned {response!r}, not a Response")
        return response

    async def scheduled(self, cron: str, scheduled_time_ms: int) -> None:
        self.activate()
        instance = self.entry.Default(self.js_ctx, self.js_env)
        await self._call_method(instance, "scheduled",
                                [platform.ScheduledControllerObject(cron, scheduled_time_ms)], relaxed=False)

    def new_durable_object(self, cls, state):
        """The DO class exported by entry.py, constructed as the runtime does: (ctx, env)."""
        return cls(platform.DurableObjectStateObject(state), self.js_env)

    async def call_durable_object(self, instance, method: str, js_args: list):
        if method.startswith("_") or not callable(getattr(instance, method, None)):
            raise jv.JsException("TypeError", f'The RPC receiver does not implement the method "{method}".')
        try:
            return await self._call_method(instance, method, js_args, relaxed=False)
        except jv.JsException:
            raise
        except Exception as exc:
            raise jv.python_error(exc) from None

    async def call_alarm(self, instance, info: dict) -> None:
        # Alarms are a special handler: called relaxed, the alarm info as the JS object.
        result = modules.relaxed_call(instance.alarm, platform.wrap(info))
        if inspect.isawaitable(result):
            await result

    async def run_workflow(self, cls, event: dict, step) -> Any:
        """WorkflowEntrypoint.run(event, step) as the Workflows engine calls it: the
        event as a JS object, the step as the engine's WorkflowStep; the output back as
        a plain value for the engine to store."""
        self.activate()
        instance = cls(self.js_ctx, self.js_env)
        result = modules.relaxed_call(instance.run, platform.wrap(event), platform.WorkflowStepObject(step))
        if inspect.isawaitable(result):
            result = await result
        return platform.unwrap(result)


# -- HTTP in, HTTP out ---------------------------------------------------------------------

log = logging.getLogger("devhost.runtime")


async def serve_http(runtime: LocalRuntime, scope, receive, send) -> None:
    """One HTTP request through the deploy path (an ASGI app for the local host): the
    whole body read first (the runtime hands the Worker a complete request), a JS
    Request with the header Cloudflare adds (CF-Connecting-IP), the Worker's fetch
    through the SDK, then the JS Response written back as its body streams."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = js_request(scope, bytes(body))
    try:
        response = await runtime.fetch(request)
    except Exception:
        # workerd answers an exception escaping fetch() with a bare 500.
        log.exception("the Worker threw an exception")
        text = b"Worker threw exception"
        await send({"type": "http.response.start", "status": 500,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(text)).encode())]})
        await send({"type": "http.response.body", "body": text})
        return
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.raw_pairs()]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if response._stream is None:
        await send({"type": "http.response.body", "body": response._bytes or b""})
        return
    try:
        async for chunk in response._stream:
            await send({"type": "http.response.body", "body": chunk.to_bytes(), "more_body": True})
    except BaseException:
        response._stream.cancel()  # the client went away: the Worker's next write fails
        raise
    await send({"type": "http.response.body", "body": b""})


def js_request(scope, body: bytes) -> web.Request:
    """The JS Request workerd builds from an incoming HTTP request."""
    headers = web.Headers()
    for k, v in scope.get("headers", []):
        headers.append(k.decode("latin-1"), v.decode("latin-1"))
    # As miniflare's entry worker does: the peer's address unless the request names one
    # (on Cloudflare the edge always sets it; tests play several clients this way).
    client = scope.get("client")
    if not headers.has("cf-connecting-ip"):
        headers.set("cf-connecting-ip", client[0] if client else "127.0.0.1")
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 8787)
        host = f"{server[0]}:{server[1]}" if server[1] else server[0]
    raw_path = scope.get("raw_path") or scope.get("path", "/").encode()
    query = scope.get("query_string", b"")
    url = (f"{scope.get('scheme', 'http')}://{host}{raw_path.decode('latin-1')}"
           f"{'?' + query.decode('latin-1') if query else ''}")
    request = web.Request(url, jv.JsObject({"method": scope["method"], "headers": headers}))
    # An incoming request may carry a body whatever its method (the constructor refuses
    # one on GET; the runtime does not for what arrives from the network).
    request._bytes = body if body else None
    return request


__all__ = ["LocalRuntime", "install", "import_entry", "sdk", "serve_http", "js_request", "jv", "web", "platform"]
