"""Runs in both interpreters, unchanged: real Pyodide (through devhost/pyodide/run.mjs in
Node) and CPython (a subprocess). Imports each pure module under the runtime's
import-time rules, runs its cases, times the hot functions, and prints one JSON document
that the tests compare. Standard library only: it is itself loaded into Pyodide."""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import json
import os
import random
import sys
import timeit
import traceback

# -- import-time rules -------------------------------------------------------------------
# The Workers runtime snapshots module top levels at deploy: no clock, no randomness, no
# I/O while a module's own top-level code runs. Watched as C calls (sys.setprofile), so
# nothing is patched: a call counts when the innermost module top level on the stack is
# one of ours and no import machinery lies between it and the call (reading a module's
# file is the importer's business, not the module's).

CLOCK = {("time", n) for n in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
                               "process_time", "process_time_ns", "thread_time", "thread_time_ns", "localtime",
                               "gmtime", "ctime", "asctime", "strftime")}
CLOCK |= {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}
RANDOM = {("posix", "urandom"), ("posix", "getrandom"), ("nt", "urandom")}
IO = {("_io", "open"), ("io", "open"), ("posix", "open"), ("posix", "listdir"), ("posix", "scandir"),
      ("posix", "stat"), ("posix", "lstat"), ("_socket", "socket"), ("_socket", "getaddrinfo")}
RANDOM_METHODS = {"random", "getrandbits", "seed", "randbytes"}


def _kind(fn) -> str | None:
    name = getattr(fn, "__name__", "")
    owner = getattr(fn, "__self__", None)
    module = getattr(fn, "__module__", None)
    if owner is not None and isinstance(owner, random.Random) and name in RANDOM_METHODS:
        return "randomness"
    if owner is not None and isinstance(owner, type):
        key = (owner.__name__, name)
    elif owner is not None and type(owner).__name__ == "module":
        key = (owner.__name__, name)
    else:
        key = (module or "", name)
    if key in CLOCK:
        return "clock"
    if key in RANDOM:
        return "randomness"
    if key in IO:
        return "I/O"
    return None


class ImportWatch:
    def __init__(self, src_root: str) -> None:
        self.src_root = os.path.abspath(src_root)
        self.violations: list[str] = []

    def _ours(self, filename: str) -> bool:
        return os.path.abspath(filename).startswith(self.src_root + os.sep)

    def __call__(self, frame, event, arg) -> None:
        if event != "c_call":
            return
        kind = _kind(arg)
        if kind is None:
            return
        f = frame
        while f is not None:
            code = f.f_code
            if code.co_filename.startswith("<frozen importlib") or "importlib" in code.co_filename:
                return
            if code.co_name == "<module>":
                if self._ours(code.co_filename):
                    rel = os.path.relpath(code.co_filename, self.src_root)
                    self.violations.append(f"{rel}:{f.f_lineno} {kind} at import: {getattr(arg, '__qualname__', arg)}")
                return
            f = f.f_back


# -- imports --------------------------------------------------------------------------------

def module_path(src_root: str, name: str) -> str | None:
    base = os.path.join(src_root, *name.split("."))
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.exists(candidate):
            return candidate
    return None


def static_imports(src_root: str, name: str) -> set[str]:
    """Every module a source file names in an import statement (anywhere in it)."""
    path = module_path(src_root, name)
    if path is None:
        return set()
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    out: set[str] = set()
    package = name.rpartition(".")[0] if not path.endswith("__init__.py") else name
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            out.add(base)
            for a in node.names:
                if module_path(src_root, f"{base}.{a.name}"):
                    out.add(f"{base}.{a.name}")
    return out


def is_local(src_root: str, name: str) -> bool:
    return module_path(src_root, name.split(".")[0]) is not None


def check_module(src_root: str, name: str, allowed_packages: list[str], pure: set[str]) -> dict:
    """Imports `name` under the watch; returns what it imported and what broke a rule."""
    local_seen, external = set(), set()
    todo = [name]
    while todo:
        m = todo.pop()
        if m in local_seen:
            continue
        local_seen.add(m)
        for dep in static_imports(src_root, m):
            if is_local(src_root, dep):
                todo.append(dep)
            else:
                external.add(dep)
    stdlib = set(getattr(sys, "stdlib_module_names", ()))
    bad_external = sorted(d for d in external if d.split(".")[0] not in stdlib and d.split(".")[0] not in allowed_packages)
    bad_local = sorted(m for m in local_seen - {name}
                       if m not in pure and not _is_package_marker(src_root, m))
    load_errors = []
    for dep in sorted(external):  # the stdlib and allowed packages, outside the watch
        try:
            importlib.import_module(dep)
        except ImportError as exc:
            load_errors.append(f"{dep}: {type(exc).__name__}: {exc}")
    watch = ImportWatch(src_root)
    error = None
    sys.setprofile(watch)
    try:
        importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001 - reported, not raised
        error = f"{type(exc).__name__}: {exc}"
    finally:
        sys.setprofile(None)
    return {"error": error, "load_errors": load_errors, "violations": watch.violations,
            "outside_allowed": bad_external, "impure_local": bad_local, "external": sorted(external)}


def _is_package_marker(src_root: str, name: str) -> bool:
    """A package __init__ with no code of its own (just its docstring)."""
    path = module_path(src_root, name)
    if path is None or not path.endswith("__init__.py"):
        return False
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    return not body


# -- cases ------------------------------------------------------------------------------------

def canon(value, depth: int = 0):
    """A JSON-able rendering that tells apart what Python tells apart (tuple vs list,
    int vs float, enum vs str), for exact comparison across interpreters."""
    if depth > 50:
        return {"deep": repr(type(value))}
    if value is None or isinstance(value, bool) or isinstance(value, str) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return {"enum": f"{type(value).__name__}.{value.name}", "value": canon(value.value, depth + 1)}
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"int": str(value)}
    if isinstance(value, float):
        return {"float": repr(value)}  # repr is exact (shortest round-trip), inf and nan included
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, tuple):
        return {"tuple": [canon(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [canon(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"dict": [[canon(k, depth + 1), canon(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"set": sorted(json.dumps(canon(v, depth + 1), sort_keys=True) for v in value)}
    if isinstance(value, BaseException):
        return {"raises": type(value).__name__, "message": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"dataclass": type(value).__name__,
                "fields": {f.name: canon(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}}
    if hasattr(value, "isoformat"):
        return {"time": value.isoformat()}
    if callable(value):
        return {"callable": getattr(value, "__qualname__", type(value).__name__)}
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict):
        return {"object": type(value).__name__,
                "attrs": {k: canon(v, depth + 1) for k, v in attrs.items() if not callable(v)}}
    return {"repr": repr(value)}


def helpers() -> dict:
    """Names every case can use: seeded generators, identical in both interpreters."""
    return {"rng": random.Random}


_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


async def _execute(code, namespace):
    result = eval(code, namespace)
    return await result if inspect.iscoroutine(result) else result


async def run_case(module, source: str):
    """A case: statements, then an expression whose value is the result (`await` allowed
    at top level, for the async decisions)."""
    namespace = {**vars(module), **helpers(), "m": module}
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body else None
    try:
        if isinstance(last, ast.Expr):
            await _execute(compile(ast.Module(tree.body[:-1], []), "<case>", "exec", flags=_AWAIT), namespace)
            return canon(await _execute(compile(ast.Expression(last.value), "<case>", "eval", flags=_AWAIT),
                                        namespace))
        await _execute(compile(tree, "<case>", "exec", flags=_AWAIT), namespace)
        return canon(namespace.get("result"))
    except Exception as exc:  # noqa: BLE001 - an exception is a result too
        return canon(exc)


# -- timing -----------------------------------------------------------------------------------

def cpu_clock():
    """Process CPU time, not wall time (the machines are shared): CPython's process_time;
    under Pyodide, Node's process.cpuUsage() (Pyodide's own clocks are wall clocks)."""
    if sys.platform == "emscripten":
        import js

        def node_cpu() -> float:
            usage = js.process.cpuUsage()
            return (usage.user + usage.system) / 1e6

        return node_cpu
    import time

    return time.process_time


def bench(entries: list[dict], repeat: int) -> dict:
    out = {}
    clock = cpu_clock()
    for e in entries:
        module = importlib.import_module(e["module"])
        namespace = {**vars(module), **helpers(), "m": module}
        exec(e.get("setup", ""), namespace)
        timer = timeit.Timer(e["call"], timer=clock, globals=namespace)
        # Warm-up long enough for WebAssembly's optimizing tier (and CPython's caches),
        # then as many calls per repetition as fill about 0.2 s (timeit's autorange).
        number, _ = timer.autorange()
        timer.timeit(number)
        number = max(number, e.get("number", 1))
        out[e["name"]] = min(timer.repeat(repeat=repeat, number=number)) / number
    return out


# -- entry point ------------------------------------------------------------------------------

async def main(request: dict) -> dict:
    src = request["src"]
    if src not in sys.path:
        sys.path.insert(0, src)
    for extra in request.get("path", []):
        if extra not in sys.path:
            sys.path.append(extra)
    result = {"python": sys.version.split()[0], "platform": sys.platform, "imports": {}, "cases": {}, "bench": {}}
    pure = set(request.get("modules", {})) | set(request.get("probes", []))
    allowed = list(request.get("allowed_packages", []))
    for name in [*request.get("modules", {}), *request.get("probes", [])]:
        result["imports"][name] = check_module(src, name, allowed, pure)
    for name, cases in request.get("modules", {}).items():
        if result["imports"][name]["error"] is not None:
            continue
        module = importlib.import_module(name)
        result["cases"][name] = [await run_case(module, case) for case in cases]
    if request.get("bench"):
        result["bench"] = bench(request["bench"], request.get("repeat", 5))
    return result


async def main_json(text: str) -> str:
    try:
        return json.dumps(await main(json.loads(text)))
    except BaseException:  # noqa: BLE001 - the harness shows it
        return json.dumps({"fatal": traceback.format_exc()})


if __name__ == "__main__":
    import asyncio

    with open(sys.argv[1], encoding="utf-8") as fh:
        print(asyncio.run(main_json(fh.read())))
