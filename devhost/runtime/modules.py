"""The modules the Workers SDK imports and that only exist inside the runtime: `js`,
`pyodide` (`pyodide.ffi`, `pyodide.http`, `pyodide.code`), `_pyodide_entrypoint_helper`
and `_cloudflare_compat_flags`. `install()` puts them in sys.modules; after that the
real SDK (`workers`, `asgi`) imports and runs on CPython."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import types
from typing import Any, Callable

from . import jsvalues as jv
from . import web

PYODIDE_VERSION = "0.28.3"  # what the Python Workers runtime runs (npm pyodide pinned to the same)


class JsClass(jv.JsFunction):
    """A JS constructor: `Cls.new(...)` builds an instance (keyword arguments become the
    trailing options object, as Pyodide passes them); statics are attributes."""

    def __init__(self, cls: type | None, name: str, new: Callable | None = None, **statics: Any) -> None:
        super().__init__(self._construct, name)
        self._cls = cls
        self._new = new or cls
        for k, v in statics.items():
            setattr(self, k, v)

    def _construct(self, *args):
        return self._new(*args)

    def new(self, *args, **kwargs):
        if kwargs:
            args = (*args, jv.JsObject(kwargs))
        return self._new(*args)


def _date_new(ms=None):
    import time

    return jv.JsDate(time.time() * 1000 if ms is None else ms)


def _error_new(message="", options=None):
    return jv.JsException("Error", str(message))


def _queue_microtask(callback) -> None:
    asyncio.get_running_loop().call_soon(callback)


def _promise_resolve(value=None):
    return jv.JsPromise.resolved(value)


def build_js_module() -> types.ModuleType:
    js = types.ModuleType("js")
    js.__doc__ = "The JavaScript global scope, as the local host's runtime provides it (devhost/runtime)."
    js.Object = JsClass(None, "Object", new=lambda *a: jv.JsObject(), fromEntries=jv.object_from_entries)
    js.Array = JsClass(None, "Array", new=lambda *items: jv.JsArray(items))
    js.Date = JsClass(None, "Date", new=_date_new, now=lambda: _date_new().getTime())
    js.Error = JsClass(None, "Error", new=_error_new)
    js.Promise = JsClass(None, "Promise", new=None, resolve=_promise_resolve)
    js.Uint8Array = JsClass(jv.Uint8Array, "Uint8Array", new=lambda data=b"": jv.Uint8Array(
        data.to_bytes() if isinstance(data, jv.JsBuffer) else bytes(data)))
    js.ArrayBuffer = JsClass(jv.ArrayBuffer, "ArrayBuffer", new=lambda n=0: jv.ArrayBuffer(bytes(int(n))))
    js.URL = JsClass(web.URL, "URL")
    js.Headers = JsClass(web.Headers, "Headers")
    js.Request = JsClass(web.Request, "Request")
    js.Response = JsClass(web.Response, "Response", redirect=web.Response.redirect, json=web.Response.json_)
    js.ReadableStream = JsClass(web.ReadableStream, "ReadableStream")
    js.TransformStream = JsClass(web.TransformStream, "TransformStream")
    js.AbortController = JsClass(web.AbortController, "AbortController")
    js.AbortSignal = JsClass(web.AbortSignal, "AbortSignal")
    js.fetch = jv.JsFunction(web.fetch, "fetch")
    js.queueMicrotask = jv.JsFunction(_queue_microtask, "queueMicrotask")
    return js


# -- pyodide -------------------------------------------------------------------------------


class FetchResponse:
    """pyodide.http.FetchResponse (Pyodide 0.28): a Python face on a JS Response, the
    base class of workers.FetchResponse."""

    def __init__(self, url: str, js_response, abort_controller=None, abort_signal=None) -> None:
        self._url = url
        self.js_response = js_response
        self.abort_controller = abort_controller
        self.abort_signal = abort_signal

    @property
    def body_used(self) -> bool:
        return self.js_response.bodyUsed

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.js_response.headers.entries())

    @property
    def ok(self) -> bool:
        return self.js_response.ok

    @property
    def redirected(self) -> bool:
        return self.js_response.redirected

    @property
    def status(self) -> int:
        return self.js_response.status

    @property
    def status_text(self) -> str:
        return self.js_response.statusText

    @property
    def type(self) -> str:
        return self.js_response.type

    @property
    def url(self) -> str:
        return self.js_response.url

    def _raise_if_failed(self) -> None:
        if self.abort_signal is not None and self.abort_signal.aborted:
            raise AbortError(self.abort_signal.reason)
        if self.js_response.bodyUsed:
            raise BodyUsedError()

    def raise_for_status(self) -> None:
        if 400 <= self.status < 600:
            raise HttpStatusError(self.status, self.status_text, self.url)

    def clone(self) -> FetchResponse:
        if self.js_response.bodyUsed:
            raise BodyUsedError()
        return FetchResponse(self._url, self.js_response.clone(), self.abort_controller, self.abort_signal)

    async def buffer(self):
        self._raise_if_failed()
        return await self.js_response.arrayBuffer()

    async def text(self) -> str:
        self._raise_if_failed()
        return await self.js_response.text()

    async def string(self) -> str:
        return await self.text()

    async def json(self, **kwargs: Any) -> Any:
        self._raise_if_failed()
        return json.loads(await self.text(), **kwargs)

    async def memoryview(self) -> memoryview:
        self._raise_if_failed()
        return (await self.buffer()).to_memoryview()

    async def bytes(self) -> bytes:
        self._raise_if_failed()
        return (await self.buffer()).to_bytes()


class HttpStatusError(OSError):
    def __init__(self, status: int, status_text: str, url: str) -> None:
        self.status, self.status_text, self.url = status, status_text, url
        kind = "Client" if 400 <= status < 500 else "Server"
        super().__init__(f"{status} {kind} Error: {status_text} for url: {url}")


class BodyUsedError(OSError):
    def __init__(self, *args: Any) -> None:
        super().__init__("Response body is already used")


class AbortError(OSError):
    def __init__(self, reason) -> None:
        super().__init__(getattr(reason, "message", str(reason)))


async def pyfetch(url: str, /, *, signal: Any = None, fetcher: Any = None, **kwargs: Any) -> FetchResponse:
    """pyodide.http.pyfetch: the keyword arguments become fetch()'s init object."""
    controller = web.AbortController()
    kwargs["signal"] = signal or controller.signal
    fetcher = fetcher or sys.modules["js"].fetch  # the global fetch, looked up as Pyodide's import binds it
    try:
        return FetchResponse(url, await fetcher(url, jv.to_js(kwargs, dict_converter=jv.object_from_entries)),
                             controller, kwargs["signal"])
    except jv.JsException as exc:
        raise AbortError(exc) from None


def relaxed_call(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """pyodide.code.relaxed_call: extra positional/keyword arguments are dropped."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return func(*args, **kwargs)
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        positional = args
    else:
        n = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        positional = args[:n]
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        kwargs = {k: v for k, v in kwargs.items() if k in sig.parameters}
    return func(*positional, **kwargs)


def build_pyodide_modules() -> dict[str, types.ModuleType]:
    pyodide = types.ModuleType("pyodide")
    pyodide.__version__ = PYODIDE_VERSION
    pyodide.__path__ = []  # a package, so `import pyodide.ffi` resolves through sys.modules
    ffi = types.ModuleType("pyodide.ffi")
    for name in ("JsProxy", "JsException", "JsBuffer", "JsArray", "JsNull", "jsnull", "to_js", "create_proxy",
                 "create_once_callable", "destroy_proxies"):
        setattr(ffi, name, getattr(jv, name))
    ffi.JsPromise = jv.JsPromise
    ffi.JsFetchResponse = web.Response
    ffi.JsDoubleProxy = jv.PyProxy
    ffi.IN_BROWSER = False  # honest: this is CPython; nothing in the SDK branches on it

    def run_sync(awaitable):
        raise RuntimeError("No suspender")  # JSPI does not exist here (nor in the global scope on Workers)

    ffi.run_sync = run_sync
    ffi.can_run_sync = lambda: False
    http = types.ModuleType("pyodide.http")
    for name in ("FetchResponse", "pyfetch", "HttpStatusError", "BodyUsedError", "AbortError"):
        setattr(http, name, globals()[name])
    code = types.ModuleType("pyodide.code")
    code.relaxed_call = relaxed_call
    pyodide.ffi, pyodide.http, pyodide.code = ffi, http, code
    return {"pyodide": pyodide, "pyodide.ffi": ffi, "pyodide.http": http, "pyodide.code": code}


# -- what the runtime injects --------------------------------------------------------------

# Compatibility flags the SDK reads, with the date each turns on for a Worker that has
# `python_workers` (from workerd's src/workerd/io/compatibility-date.capnp).
COMPAT_FLAG_DATES = {
    "python_workflows_implicit_dependencies": "2026-02-25",
    "python_request_headers_preserve_commas": "2026-02-17",
}


def compat_flags(compatibility_date: str, flags: list[str]) -> dict[str, bool]:
    out = {}
    for name, date in COMPAT_FLAG_DATES.items():
        on = compatibility_date >= date or name in flags
        if f"no_{name}" in flags or f"disable_{name}" in flags:
            on = False
        out[name] = on
    return out


class EntrypointHelper(types.ModuleType):
    """_pyodide_entrypoint_helper: the JS module imports the SDK relies on, the global
    `cloudflare:workers` module (env, waitUntil) and patchWaitUntil."""

    def __init__(self) -> None:
        super().__init__("_pyodide_entrypoint_helper")
        self.cloudflareWorkersModule = jv.JsObject({"env": None, "waitUntil": jv.JsFunction(self._wait_until)})
        self.cloudflareSocketsModule = jv.JsObject()
        self.js_modules: dict[str, Any] = {}
        self.wait_until_sink: Callable[[Any], None] | None = None

    def _wait_until(self, awaitable) -> None:
        if self.wait_until_sink is None:
            raise RuntimeError("waitUntil() outside a request")
        self.wait_until_sink(awaitable)

    def doAnImport(self, name: str) -> jv.JsPromise:
        async def load():
            if name not in self.js_modules:
                raise jv.JsException("Error", f"No such module \"{name}\".")
            return self.js_modules[name]

        return jv.JsPromise(load())

    def patchWaitUntil(self, ctx) -> None:
        # The runtime wraps waitUntil so it accepts Python futures; the local
        # ExecutionContext accepts them already.
        return None

    def patch_env_helper(self, kwds):
        raise NotImplementedError("workers.patch_env is not supported by the local runtime")


def install_modules(compatibility_date: str, flags: list[str]) -> EntrypointHelper:
    """Registers the runtime-only modules; returns the entrypoint helper (the host sets
    its env and waitUntil sink)."""
    existing = sys.modules.get("_pyodide_entrypoint_helper")
    if isinstance(existing, EntrypointHelper):
        return existing
    for name in [n for n in sys.modules if n == "pyodide" or n.startswith("pyodide.")]:
        del sys.modules[name]  # the pyodide-py host package (pywrangler's) is not the runtime's
    sys.modules["js"] = build_js_module()
    sys.modules.update(build_pyodide_modules())
    flags_mod = types.ModuleType("_cloudflare_compat_flags")
    for k, v in compat_flags(compatibility_date, flags).items():
        setattr(flags_mod, k, v)
    sys.modules["_cloudflare_compat_flags"] = flags_mod
    helper = EntrypointHelper()
    sys.modules["_pyodide_entrypoint_helper"] = helper
    return helper
