"""The local bindings as the Worker sees them through the runtime: JavaScript objects
(constructor names as on Cloudflare: D1Database, KvNamespace, R2Bucket,
DurableObjectNamespace, WorkflowImpl, Ai, Ratelimit) whose methods take JS values and
return Promises of JS values. So the SDK wraps them exactly as it does on Cloudflare
(_EnvWrapper, _BindingWrapper: python_to_rpc on every argument, python_from_rpc on
every result), and the Python implementations in devhost/bindings/ stay what they are:
the platform's side of the call."""

from __future__ import annotations

import datetime as _dt
import inspect
import time
from typing import Any, Callable

from . import jsvalues as jv

# Local (Python) classes and the constructor name their JS objects have on Cloudflare.
JS_NAMES = {
    "LocalD1Database": "D1Database",
    "D1PreparedStatement": "D1PreparedStatement",
    "LocalKVNamespace": "KvNamespace",
    "LocalR2Bucket": "R2Bucket",
    "R2Object": "R2Object",
    "R2ObjectBody": "GetResult",
    "R2MultipartUpload": "R2MultipartUpload",
    "LocalAI": "Ai",
    "LocalRateLimiter": "Ratelimit",
    "LocalWorkflow": "WorkflowImpl",
    "LocalWorkflowInstance": "WorkflowInstance",
    "DurableObjectStorage": "DurableObjectStorage",
    "SqlStorage": "SqlStorage",
    "SqlStorageCursor": "SqlStorageCursor",
    "DurableObjectId": "DurableObjectId",
}


_PLAIN = frozenset({str, int, bool})


def js_name_of(obj: Any) -> str:
    return JS_NAMES.get(type(obj).__name__, type(obj).__name__)


def wrap(value: Any) -> Any:
    """A value a local binding returns, as the JS value the platform returns."""
    if type(value) in _PLAIN:
        return value
    if value is None:
        return jv.jsnull
    if value is jv.jsnull or isinstance(value, (bool, int, float, str, jv.JsProxy)):
        return value
    if isinstance(value, dict):
        return jv.JsObject({str(k): wrap(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return jv.JsArray(wrap(v) for v in value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return jv.ArrayBuffer(bytes(value))
    if isinstance(value, _dt.datetime):
        return jv.JsDate(value.timestamp() * 1000)
    return HostObject(value)


def unwrap(value: Any) -> Any:
    """A JS argument as the local binding takes it (objects as dicts, null as None,
    buffers as bytes, Dates as datetimes, host objects as themselves)."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, HostObject):
        return value._target
    if isinstance(value, jv.JsArray):
        return [unwrap(v) for v in value._items]
    if type(value) is jv.JsObject:
        return {k: unwrap(v) for k, v in value._props.items() if v is not None}
    return jv.py_value(value)


class HostObject(jv.JsProxy):
    """A platform object implemented in Python, seen from the Worker as a JS object:
    attributes convert on the way out, methods convert their arguments on the way in
    and answer a Promise when the implementation is async (a failure becomes the JS
    error the platform throws)."""

    def __init__(self, target: Any, js_name: str | None = None) -> None:
        self._target = target
        self.js_name = js_name or js_name_of(target)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self._target, name)  # AttributeError: undefined property
        if callable(attr):
            fn = jv.JsFunction(_method(attr), name)
            self.__dict__[name] = fn
            return fn
        return wrap(attr)

    def __iter__(self):
        return (wrap(v) for v in self._target)

    @property
    def length(self):
        try:
            return len(self._target)
        except TypeError:
            return None


class PlatformCpu:
    """Process CPU spent on the platform's side of binding calls: the local D1, KV, R2,
    Workflows and rate-limit implementations, and whole Durable Object calls (another
    isolate with its own CPU budget on Cloudflare). What is left of a request's CPU is
    the Worker's own: app, SDK, conversions and the JS objects. Nested calls count once."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self._depth = 0
        self._started = 0.0

    def enter(self) -> None:
        if self._depth == 0:
            self._started = time.process_time()
        self._depth += 1

    def exit(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.total_s += time.process_time() - self._started


PLATFORM_CPU = PlatformCpu()


def _method(impl: Callable) -> Callable:
    def call(*args):
        py_args = [unwrap(a) for a in args]
        PLATFORM_CPU.enter()
        try:
            result = impl(*py_args)
        except Exception as exc:  # a synchronous platform call throws synchronously
            raise jv.js_error(exc) from None
        finally:
            PLATFORM_CPU.exit()
        if inspect.isawaitable(result):
            return jv.JsPromise(_converted(result))
        return wrap(result)

    return call


async def _converted(awaitable):
    PLATFORM_CPU.enter()
    try:
        value = await awaitable
    finally:
        PLATFORM_CPU.exit()
    return wrap(value)


async def _platform_side(awaitable):
    PLATFORM_CPU.enter()
    try:
        return await awaitable
    finally:
        PLATFORM_CPU.exit()


# -- Durable Objects --------------------------------------------------------------------


class DurableObjectStub(jv.JsProxy):
    """A stub from `getByName`/`get`: every property is an RPC method. Arguments and
    results are structured-cloned across the boundary, as Workers RPC does."""

    js_name = "DurableObject"
    rpc_transferable = True

    def __init__(self, namespace, object_id) -> None:
        self._ns = namespace
        self._id = object_id

    @property
    def id(self):
        return HostObject(self._id)

    @property
    def name(self):
        return self._id.name

    def __getattr__(self, method: str):
        if method.startswith("__"):
            raise AttributeError(method)

        def call(*args):
            cloned = [jv.structured_clone(a) for a in args]
            return jv.JsPromise(_platform_side(self._ns.invoke_js(self._id, method, cloned)))

        return jv.JsFunction(call, method)


class DurableObjectNamespaceObject(jv.JsProxy):
    js_name = "DurableObjectNamespace"

    def __init__(self, namespace) -> None:
        self._ns = namespace

    def idFromName(self, name: str):
        return HostObject(self._ns.idFromName(name))

    def idFromString(self, hex_id: str):
        try:
            return HostObject(self._ns.idFromString(hex_id))
        except Exception as exc:
            raise jv.js_error(exc) from None

    def newUniqueId(self, options=None):
        return HostObject(self._ns.newUniqueId())

    def get(self, object_id, options=None) -> DurableObjectStub:
        return DurableObjectStub(self._ns, unwrap(object_id))

    def getByName(self, name: str, options=None) -> DurableObjectStub:
        return DurableObjectStub(self._ns, self._ns.idFromName(name))

    def jurisdiction(self, name: str) -> DurableObjectNamespaceObject:
        return self


class DurableObjectStateObject(jv.JsProxy):
    """`ctx` of a Durable Object (DurableObjectState): id, storage, waitUntil,
    blockConcurrencyWhile."""

    js_name = "DurableObjectState"

    def __init__(self, state) -> None:
        self._state = state
        self.id = HostObject(state.id)
        self.storage = HostObject(state.storage)

    def waitUntil(self, awaitable) -> None:
        self._state.waitUntil(_awaitable(awaitable))

    def blockConcurrencyWhile(self, callback):
        return jv.JsPromise(call_js(callback))


async def _awaitable(value):
    return await value if inspect.isawaitable(value) else value


async def call_js(fn, *args):
    """JS calling a function it was given (a Python callable or a JS function): a
    Python failure reaches JS as a PythonError."""
    try:
        result = fn(*args)
        if inspect.isawaitable(result):
            result = await result
        return result
    except jv.JsException:
        raise
    except Exception as exc:
        raise jv.python_error(exc) from None


# -- Workflows: the engine's WorkflowStep, and the SDK's workflows.js -----------------------


class WorkflowStepObject(jv.JsProxy):
    """The WorkflowStep the engine hands to `run`: do(name, [config], callback),
    sleep(name, duration), sleepUntil(name, timestamp)."""

    js_name = "WorkflowStep"

    def __init__(self, step) -> None:
        self._step = step

    def do(self, name, *rest):
        if len(rest) == 1:
            config, callback = None, rest[0]
        elif len(rest) == 2:
            config, callback = unwrap(rest[0]), rest[1]
        else:
            raise jv.JsException("TypeError", "step.do(name, [config], callback)")

        async def call(ctx: dict):
            return unwrap(await call_js(callback, wrap(ctx)))

        async def run():
            return wrap(await self._step.run_step(name, config, call))

        return jv.JsPromise(run())

    def sleep(self, name, duration):
        return jv.JsPromise(self._step.sleep(name, unwrap(duration)))

    def sleepUntil(self, name, timestamp):
        value = unwrap(timestamp)
        return jv.JsPromise(self._step.sleep_until(name, value))

    def waitForEvent(self, name, options=None):
        raise jv.JsException("Error", "waitForEvent is not supported by the local Workflows engine")


_NON_RETRYABLE = "NonRetryableError"


def _wrap_step_callback(callback):
    """workers/workflows.js wrapWorkflowStepCallback: a Python NonRetryableError becomes
    a JS error named NonRetryableError (the engine does not retry it)."""

    async def wrapped(*args):
        try:
            return await call_js(callback, *args)
        except jv.JsException as exc:
            if exc.name == "PythonError" and getattr(exc, "type", None) == _NON_RETRYABLE:
                lines = [line for line in exc.message.split("\n") if line.strip()]
                last = lines[-1] if lines else ""
                message = last.split(": ", 1)[1] if ": " in last else ""
                raise jv.JsException(_NON_RETRYABLE, message) from None
            raise

    return jv.JsFunction(wrapped, "wrapped")


class _WrappedStep(jv.JsProxy):
    js_name = "WorkflowStep"

    def __init__(self, step) -> None:
        self._step = step

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._step, name)

    def do(self, name, *rest):
        args = [_wrap_step_callback(a) if callable(a) else a for a in rest]
        return self._step.do(name, *args)


def workflows_js_module() -> jv.JsObject:
    """The SDK's `workers/workflows.js` (an ES module the runtime imports for the SDK),
    rendered in Python: wrapWorkflowStep proxies `do` so step callbacks go through
    wrapWorkflowStepCallback."""
    return jv.JsObject({
        "wrapWorkflowStep": jv.JsFunction(lambda step: _WrappedStep(step) if step not in (None, jv.jsnull) else step,
                                          "wrapWorkflowStep"),
        "wrapWorkflowStepCallback": jv.JsFunction(_wrap_step_callback, "wrapWorkflowStepCallback"),
    })


class ScheduledControllerObject(jv.JsProxy):
    js_name = "ScheduledController"

    def __init__(self, cron: str, scheduled_time_ms: int) -> None:
        self.cron = cron
        self.scheduledTime = scheduled_time_ms
        self.type = "scheduled"

    def noRetry(self) -> None:
        return None


class ExecutionContextObject(jv.JsProxy):
    js_name = "ExecutionContext"

    def __init__(self, host_ctx) -> None:
        self._ctx = host_ctx
        self.props = jv.JsObject()

    def waitUntil(self, awaitable) -> None:
        self._ctx.waitUntil(_awaitable(awaitable))

    def passThroughOnException(self) -> None:
        return None
