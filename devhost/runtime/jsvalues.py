"""JavaScript values as Pyodide's FFI hands them to Python, on CPython: objects are
proxies with attribute access, `constructor.name` and `to_py()`; numbers, strings and
booleans arrive as Python values (an integral number as int), `null` as `jsnull`,
`undefined` as None; `to_js` and `create_proxy` go the other way. This is exactly the
surface the Workers SDK (workers-runtime-sdk) touches, so its own modules run here
unchanged. Semantics checked against real Pyodide 0.28.3 (tests/runtime/test_jsvalues.py
runs the same probes in Pyodide and here)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import traceback
from typing import Any, Callable

# -- null, proxies ------------------------------------------------------------------


class JsNull:
    """JavaScript `null` (Pyodide >= 0.27 gives `jsnull`, falsy, not None)."""

    _instance: JsNull | None = None

    def __new__(cls) -> JsNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "jsnull"


jsnull = JsNull()


class _Constructor:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_CONSTRUCTORS: dict[str, _Constructor] = {}


def _ctor(name: str) -> _Constructor:
    c = _CONSTRUCTORS.get(name)
    if c is None:
        c = _CONSTRUCTORS[name] = _Constructor(name)
    return c


class JsProxy:
    """A JavaScript object seen from Python. `js_name` is its constructor's name (what
    the SDK dispatches on: "D1Database", "Response", "Headers", ...)."""

    js_name = "Object"

    @property
    def constructor(self) -> _Constructor:
        return _ctor(self.js_name)

    def to_py(self, *, depth: int = -1, default_converter: Callable | None = None) -> Any:
        return to_py(self, depth=depth, default_converter=default_converter)

    def __repr__(self) -> str:
        return f"[object {self.js_name}]"


def out(value: Any) -> Any:
    """A JS value as Python receives it: an integral JS number becomes int."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


class JsObject(JsProxy):
    """A plain object (`{...}`): properties by attribute; missing ones raise
    AttributeError, as a JsProxy does for `undefined` properties."""

    def __init__(self, props: dict | None = None) -> None:
        object.__setattr__(self, "_props", dict(props) if props else {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return out(self._props[name])
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._props[name] = value

    def __delattr__(self, name: str) -> None:
        self._props.pop(name, None)

    def __dir__(self):
        return list(self._props)

    def js_get(self, name: str, default: Any = None) -> Any:
        """Host-side read of a property (undefined -> default)."""
        value = self._props.get(name, default)
        return default if value is None else out(value)


class JsArray(JsProxy):
    js_name = "Array"

    def __init__(self, items=()) -> None:
        self._items = list(items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return (out(v) for v in self._items)

    def __getitem__(self, index: int) -> Any:
        return out(self._items[index])

    @property
    def length(self) -> int:
        return len(self._items)

    def push(self, *values) -> int:
        self._items.extend(values)
        return len(self._items)

    def slice(self, start=None, end=None) -> JsArray:
        return JsArray(self._items[start:end])


class JsMap(JsProxy):
    # What Pyodide's to_js makes of a dict without a dict_converter.
    js_name = "LiteralMap"

    def __init__(self, entries: dict | None = None) -> None:
        self._map = dict(entries or {})

    def __len__(self) -> int:
        return len(self._map)

    def __iter__(self):
        return iter(self._map)

    def __getitem__(self, key):
        return out(self._map[key])

    def get(self, key, default=None):
        return out(self._map.get(key, default))

    def has(self, key) -> bool:
        return key in self._map

    @property
    def size(self) -> int:
        return len(self._map)


class JsSet(JsProxy):
    js_name = "Set"

    def __init__(self, items=()) -> None:
        self._items = set(items)

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class JsBuffer(JsProxy):
    """ArrayBuffer / Uint8Array (byte views) as Pyodide exposes them."""

    def __init__(self, data=b"") -> None:
        self._data = bytes(data)

    def to_bytes(self) -> bytes:
        return self._data

    def to_memoryview(self) -> memoryview:
        return memoryview(self._data)

    @property
    def byteLength(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)


class ArrayBuffer(JsBuffer):
    js_name = "ArrayBuffer"

    def slice(self, start=None, end=None) -> ArrayBuffer:
        return ArrayBuffer(self._data[start:end])


class Uint8Array(JsBuffer):
    js_name = "Uint8Array"

    @property
    def length(self) -> int:
        return len(self._data)

    @property
    def buffer(self) -> ArrayBuffer:
        return ArrayBuffer(self._data)

    def slice(self, start=None, end=None) -> Uint8Array:
        return Uint8Array(self._data[start:end])

    def subarray(self, start=None, end=None) -> Uint8Array:
        return Uint8Array(self._data[start:end])

    def __iter__(self):
        return iter(self._data)

    def __getitem__(self, index):
        return self._data[index]


class JsDate(JsProxy):
    js_name = "Date"

    def __init__(self, ms: float) -> None:
        self._ms = float(ms)

    def getTime(self) -> float:
        return out(self._ms)

    def valueOf(self) -> float:
        return out(self._ms)

    def toISOString(self) -> str:
        return _dt.datetime.fromtimestamp(self._ms / 1000, _dt.UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")


class JsException(JsProxy, Exception):
    """A JavaScript Error thrown into Python (pyodide.ffi.JsException): `name`,
    `message`; str() is "name: message", as in Pyodide."""

    _ERROR_CLASSES = {"Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError",
                      "URIError", "AggregateError"}

    def __init__(self, name: str = "Error", message: str = "", stack: str = "", type: str | None = None) -> None:
        Exception.__init__(self, f"{name}: {message}")
        self.name = name
        self.message = message
        self.stack = stack
        if type is not None:
            self.type = type  # PythonError: the Python exception's class name

    @property
    def js_name(self) -> str:  # type: ignore[override]
        if self.name == "PythonError":
            return "PythonError"
        return self.name if self.name in self._ERROR_CLASSES else "Error"

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"

    def toString(self) -> str:
        return str(self)


def python_error(exc: BaseException) -> JsException:
    """What JavaScript sees when Python code it called raises: a PythonError whose
    message is the formatted traceback and whose `type` is the exception's class."""
    text = "".join(traceback.format_exception(exc))
    return JsException("PythonError", text, type=type(exc).__name__)


def js_error(exc: Exception) -> JsException:
    """A failure of a platform API (implemented here in Python) as the JS error the
    runtime throws: TypeError stays TypeError, everything else is an Error."""
    if isinstance(exc, JsException):
        return exc
    return JsException("TypeError" if isinstance(exc, TypeError) else "Error", str(exc))


# -- promises and functions -----------------------------------------------------------


class JsPromise(JsProxy):
    """A JS Promise awaited from Python. Awaiting runs the underlying coroutine in the
    awaiting task (no extra task per binding call); a platform failure arrives as a
    JsException. `then` exists, as the SDK checks for it."""

    js_name = "Promise"
    _PENDING = object()

    def __init__(self, awaitable) -> None:
        self._aw = awaitable
        self._result: Any = JsPromise._PENDING
        self._error: BaseException | None = None
        self._running = False

    def __await__(self):
        if self._result is JsPromise._PENDING and self._error is None:
            if self._running:
                raise RuntimeError("a local JS promise awaited twice at once")
            self._running = True
            try:
                self._result = yield from _as_awaitable(self._aw).__await__()
            except Exception as exc:  # BaseException (crash simulations, cancellation) passes through
                self._error = js_error(exc)
            finally:
                self._running = False
        if self._error is not None:
            raise self._error
        return out(self._result)

    def then(self, onfulfilled=None, onrejected=None) -> JsPromise:
        async def chained():
            try:
                value = await self
            except JsException as exc:
                if onrejected is None:
                    raise
                return await _maybe_await(onrejected(exc))
            return await _maybe_await(onfulfilled(value)) if onfulfilled is not None else value

        return JsPromise(asyncio.ensure_future(chained()))

    def catch(self, onrejected) -> JsPromise:
        return self.then(None, onrejected)

    @staticmethod
    def eager(coro) -> JsPromise:
        """A promise whose work starts now, as a JS async function's does (a body read
        that must make progress before anyone awaits it)."""
        return JsPromise(asyncio.ensure_future(coro))

    @staticmethod
    def resolved(value: Any) -> JsPromise:
        p = JsPromise(None)
        p._result = value
        return p


async def _maybe_await(value):
    return await value if inspect.isawaitable(value) else value


def _as_awaitable(aw):
    if inspect.isawaitable(aw):
        return aw
    raise TypeError(f"not awaitable: {aw!r}")


class JsFunction(JsProxy):
    """A JS function: called with the arguments Python passes (keyword arguments become
    one trailing object, as Pyodide does); returns what JS returns."""

    js_name = "Function"

    def __init__(self, impl: Callable, name: str = "") -> None:
        self._impl = impl
        self.name = name or getattr(impl, "__name__", "")

    def __call__(self, *args, **kwargs):
        if kwargs:
            args = (*args, JsObject(kwargs))
        return out(self._impl(*args))

    def call(self, this, *args):
        return self(*args)


def js_async(impl: Callable, eager: bool = False) -> Callable:
    """Marks a Python coroutine function as the implementation of an async JS method:
    calling it returns a JsPromise (started at once when `eager`)."""

    def method(*args):
        return JsPromise.eager(impl(*args)) if eager else JsPromise(impl(*args))

    method.__name__ = impl.__name__
    return method


class PyProxy(JsProxy):
    """`create_proxy(obj)`: a JS handle on a Python object (getBuffer for bytes-like
    objects, calls for callables, destroy)."""

    js_name = "PyProxy"

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self._destroyed = False

    def getBuffer(self, type_: str | None = None) -> JsObject:
        if self._destroyed:
            raise JsException("Error", "Object has already been destroyed")
        data = Uint8Array(bytes(self._obj))
        return JsObject({"data": data, "release": JsFunction(lambda: None, "release")})

    def destroy(self) -> None:
        self._destroyed = True

    def unwrap(self) -> Any:
        return self._obj

    def __call__(self, *args, **kwargs):
        return self._obj(*args, **kwargs)

    def copy(self) -> PyProxy:
        return PyProxy(self._obj)


def create_proxy(obj: Any, *, capture_this: bool = False, roundtrip: bool = True) -> PyProxy:
    return PyProxy(obj)


def create_once_callable(obj: Callable, *, _may_syncify: bool = False) -> JsFunction:
    return JsFunction(obj)


def destroy_proxies(proxies) -> None:
    for p in list(proxies):
        if isinstance(p, PyProxy):
            p.destroy()


# -- conversions ------------------------------------------------------------------------

_PRIMITIVES = (bool, int, float, str)
_PRIMITIVE_TYPES = frozenset(_PRIMITIVES)


def to_js(value: Any, /, *, depth: int = -1, pyproxies=None, create_pyproxies: bool = True,
          dict_converter: Callable | None = None, default_converter: Callable | None = None,
          eager_converter: Callable | None = None) -> Any:
    """pyodide.ffi.to_js: dict -> Map (or dict_converter(entries)), list/tuple -> Array,
    set -> Set, bytes-like -> Uint8Array (a copy), a JsProxy as it is; anything else
    through default_converter, else left as a Python object (a PyProxy on the JS side)."""
    kind = type(value)
    if kind in _PRIMITIVE_TYPES or value is None or value is jsnull:  # most arguments: nothing to convert
        return value
    cache: dict[int, Any] = {}

    def convert(v, d):
        if v is None or v is jsnull or isinstance(v, _PRIMITIVES) or isinstance(v, JsProxy):
            return v
        if d == 0:
            return v
        key = id(v)
        if key in cache:
            return cache[key]
        if isinstance(v, dict):
            if dict_converter is None:
                result = JsMap({k: convert(x, d - 1) for k, x in v.items()})
            else:
                result = dict_converter(JsArray(JsArray([k, convert(x, d - 1)]) for k, x in v.items()))
        elif isinstance(v, (list, tuple)):
            result = JsArray(convert(x, d - 1) for x in v)
        elif isinstance(v, (set, frozenset)):
            result = JsSet(convert(x, d - 1) for x in v)
        elif isinstance(v, (bytes, bytearray, memoryview)):
            result = Uint8Array(bytes(v))
        elif default_converter is not None:
            result = default_converter(v, lambda x: convert(x, d - 1), lambda k, r: cache.__setitem__(id(k), r))
        else:
            result = v
        cache[key] = result
        return result

    return convert(value, depth)


def to_py(value: Any, *, depth: int = -1, default_converter: Callable | None = None) -> Any:
    """JsProxy.to_py: Array -> list, plain Object / Map -> dict, Set -> set, byte
    buffers -> memoryview; nested null stays jsnull, undefined is None; other objects
    through default_converter, else left as proxies."""
    cache: dict[int, Any] = {}

    def convert(v, d):
        if not isinstance(v, JsProxy):
            return out(v)
        if d == 0:
            return v
        key = id(v)
        if key in cache:
            return cache[key]
        if isinstance(v, JsArray):
            result = [convert(x, d - 1) for x in v._items]
        elif type(v) is JsObject:
            result = {k: convert(x, d - 1) for k, x in v._props.items()}
        elif isinstance(v, JsMap):
            result = {k: convert(x, d - 1) for k, x in v._map.items()}
        elif isinstance(v, JsSet):
            result = {convert(x, d - 1) for x in v._items}
        elif isinstance(v, JsBuffer):
            result = memoryview(v._data)
        elif default_converter is not None:
            result = default_converter(v, lambda x: convert(x, d - 1), lambda k, r: cache.__setitem__(id(k), r))
        else:
            result = v
        cache[key] = result
        return result

    return convert(value, depth)


def object_from_entries(entries) -> JsObject:
    """Object.fromEntries."""
    obj = JsObject()
    for entry in entries:
        k, v = list(entry)
        obj._props[str(k)] = v
    return obj


def js_value(value: Any) -> Any:
    """A Python value (what a local binding returns) as the JS value the platform API
    would hand out: dicts as plain objects, None as null, bytes as an ArrayBuffer,
    datetimes as Dates; host objects are wrapped by the caller's `wrap`."""
    return to_js(value, dict_converter=object_from_entries, default_converter=_js_default)


def _js_default(v, convert, cache):
    if isinstance(v, _dt.datetime):
        return JsDate(v.timestamp() * 1000)
    return v


def py_value(value: Any) -> Any:
    """A JS argument as the local (Python) implementation of a platform API takes it:
    plain objects as dicts, null as None, buffers as bytes, Dates as datetimes."""
    if value is jsnull:
        return None
    kind = type(value)
    if kind is float:
        return out(value)
    if kind in _PRIMITIVE_TYPES or not isinstance(value, JsProxy):
        return out(value)
    if isinstance(value, JsBuffer):
        return value._data
    if isinstance(value, JsDate):
        return _dt.datetime.fromtimestamp(value._ms / 1000, _dt.UTC)
    if isinstance(value, JsArray):
        return [py_value(v) for v in value._items]
    if type(value) is JsObject:
        return {k: py_value(v) for k, v in value._props.items() if v is not None}
    if isinstance(value, JsMap):
        return {k: py_value(v) for k, v in value._map.items()}
    return value


class DataCloneError(JsException):
    def __init__(self, what: str) -> None:
        super().__init__("DataCloneError", f"Could not serialize object of type \"{what}\". This type does not "
                                           "support serialization.")


def structured_clone(value: Any, _depth: int = 0) -> Any:
    """What crossing a Workers RPC boundary does to a JS value: a deep copy of plain
    data (objects, arrays, maps, sets, buffers, Dates, Errors); functions and stubs
    cross as stubs; a Python object that was never converted (a PyProxy) cannot."""
    if _depth > 256:
        raise DataCloneError("deeply nested value")
    if value is None or value is jsnull or isinstance(value, _PRIMITIVES):
        return value
    if type(value) is JsObject:
        return JsObject({k: structured_clone(v, _depth + 1) for k, v in value._props.items()})
    if isinstance(value, JsArray):
        return JsArray(structured_clone(v, _depth + 1) for v in value._items)
    if isinstance(value, JsMap):
        return JsMap({k: structured_clone(v, _depth + 1) for k, v in value._map.items()})
    if isinstance(value, JsSet):
        return JsSet(structured_clone(v, _depth + 1) for v in value._items)
    if isinstance(value, JsBuffer):
        return type(value)(value._data)
    if isinstance(value, JsDate):
        return JsDate(value._ms)
    if isinstance(value, JsException):
        return JsException(value.name, value.message, value.stack, getattr(value, "type", None))
    if isinstance(value, JsProxy) and getattr(value, "rpc_transferable", False):
        return value
    if isinstance(value, (JsFunction, PyProxy)) and callable(value):
        return value
    raise DataCloneError(type(value).__name__ if not isinstance(value, JsProxy) else value.js_name)
