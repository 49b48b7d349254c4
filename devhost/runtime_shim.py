"""Stand-ins for the Workers runtime modules (`workers`, `asgi`), so src/entry.py can be
imported on CPython. A MOCK of the runtime's module surface only: base classes with the
same constructor contract (ctx, env) and nothing else. The real modules import `js`,
which exists only inside the Workers runtime."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path


class WorkerEntrypoint:
    def __init__(self, ctx, env):
        self.ctx = ctx
        self.env = env


class DurableObject:
    def __init__(self, ctx, env):
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    def __init__(self, ctx, env):
        self.ctx = ctx
        self.env = env


class NonRetryableError(Exception):
    """workers.workflows.NonRetryableError: a step that raises it is not retried."""


class Response:  # pragma: no cover - entry.py does not build responses itself
    def __init__(self, body=None, status=200, headers=None):
        self.body, self.status, self.headers = body, status, headers or {}


async def _no_fetch(*args, **kwargs):  # pragma: no cover - replaced by the host's transport
    raise RuntimeError("workers.fetch is runtime-only; the local host installs its own HTTP transport")


async def _asgi_fetch(app, request, env, ctx=None):  # pragma: no cover
    raise RuntimeError("the local host serves the ASGI app directly; asgi.fetch is runtime-only")


def install() -> None:
    """Puts the stand-ins in sys.modules (replacing the real SDK, which needs `js`)."""
    workers = types.ModuleType("workers")
    workers.WorkerEntrypoint = WorkerEntrypoint
    workers.DurableObject = DurableObject
    workers.WorkflowEntrypoint = WorkflowEntrypoint
    workers.Response = Response
    workers.fetch = _no_fetch
    workers.__devhost_shim__ = True
    asgi = types.ModuleType("asgi")
    asgi.fetch = _asgi_fetch
    workers.asgi = asgi
    workflows = types.ModuleType("workers.workflows")
    workflows.NonRetryableError = NonRetryableError
    workers.workflows = workflows
    sys.modules["workers"] = workers
    sys.modules["workers.workflows"] = workflows
    sys.modules["workers.asgi"] = asgi
    sys.modules["asgi"] = asgi


def import_entry(root: Path):
    """Imports src/entry.py with the stand-ins in place; returns the module."""
    install()
    src = str(Path(root) / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return importlib.import_module("entry")
