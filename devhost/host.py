"""The local host: builds `env` from wrangler.jsonc and .dev.vars, loads src/entry.py
with the real Workers SDK over the local runtime (devhost/runtime), and serves it as one
ASGI app: every Worker request becomes a JS Request handed to `entry.Default.fetch`, as
on Cloudflare. Beside the Worker it answers the routes wrangler dev has (`/__scheduled`),
a fault switch for resilience tests, and mounted apps (the demo LMS)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from . import migrations
from .bindings._common import STATE_SUBDIR, Fault, FaultPlan, miniflare_d1_path
from .bindings.ai import LocalAI
from .bindings.d1 import LocalD1Database
from .bindings.durable_objects import DurableObjectNamespace
from .bindings.kv import LocalKVNamespace
from .bindings.r2 import LocalR2Bucket
from .bindings.ratelimit import LocalRateLimiter
from .clock import SystemClock
from .bindings.workflows import LocalWorkflow
from .config import ConfigError, WorkerConfig, load_config, read_dev_vars
from .runtime import LocalRuntime, import_entry, serve_http

log = logging.getLogger("devhost")


class Env:
    """Bindings and vars by attribute, as the Workers runtime hands them to Python."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Env({sorted(self.__dict__)})"


class ExecutionContext:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def waitUntil(self, awaitable) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def passThroughOnException(self) -> None:
        return None

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class LocalHost:
    def __init__(
        self,
        root: Path | str = ".",
        state_root: Path | str | None = None,
        dev_vars: dict[str, str] | None = None,
        faults: FaultPlan | None = None,
        alarm_retry_base_s: float = 2.0,
        clock=None,
    ) -> None:
        self.root = Path(root).resolve()
        self.clock = clock or SystemClock()
        self.config: WorkerConfig = load_config(self.root)
        self.state_root = Path(state_root) if state_root else self.root / STATE_SUBDIR
        self.faults = faults or FaultPlan()
        self.ctx = ExecutionContext()
        self.entry = import_entry(self.root, self.config)
        self.app = getattr(self.entry, "app", None)
        if self.app is None:
            raise ConfigError("src/entry.py must expose the ASGI app as `app`")
        self._check_classes()  # before any binding opens a file, so a refusal leaks nothing
        values: dict[str, Any] = dict(self.config.vars)
        values.update(read_dev_vars(self.root / ".dev.vars") if dev_vars is None else dev_vars)
        self.d1 = {c.binding: LocalD1Database.from_config(c, self.state_root, self.faults) for c in self.config.d1}
        self.kv = {c.binding: LocalKVNamespace.from_config(c, self.state_root, self.faults, self.clock.now)
                   for c in self.config.kv}
        self.r2 = {c.binding: LocalR2Bucket.from_config(c, self.state_root, self.faults) for c in self.config.r2}
        self.durable_objects: dict[str, DurableObjectNamespace] = {}
        for c in self.config.durable_objects:
            cls = getattr(self.entry, c.class_name, None)
            if cls is None:
                raise ConfigError(
                    f"Durable Object binding {c.name}: class {c.class_name} named in wrangler.jsonc "
                    "is not exported by src/entry.py"
                )
            self.durable_objects[c.name] = DurableObjectNamespace(
                c.name,
                cls,
                self.state_root / "devhost" / "do" / f"{self.config.name}-{c.class_name}",
                lambda: self.env,
                self.faults,
                alarm_retry_base_s=alarm_retry_base_s,
                clock=self.clock,
            )
        values.update(self.d1)
        values.update(self.kv)
        values.update(self.r2)
        values.update(self.durable_objects)
        self.ratelimits = {c.name: LocalRateLimiter.from_config(c, self.faults, self.clock.now)
                           for c in self.config.ratelimits}
        values.update(self.ratelimits)
        # Not a Cloudflare binding: where src/clock.py reads time on this host.
        values["CLOCK"] = self.clock
        self.workflows = self._workflow_bindings()
        values.update(self.workflows)
        if self.config.ai_binding:
            values[self.config.ai_binding] = LocalAI.from_config(self.config.ai_binding, self.state_root, self.faults)
        # Host side: the bindings as Python objects (CLI, tests, wrangler-like tools).
        self.env = Env(values)
        # Worker side: the same bindings as the JS objects the SDK wraps.
        self.runtime = LocalRuntime(self.entry, self.env, self.ctx)
        for ns in self.durable_objects.values():
            ns.runtime = self.runtime
        for wf in self.workflows.values():
            wf.runtime = self.runtime
        self.started = False
        self.mounts: dict[str, Any] = {}  # path prefix -> ASGI app served beside the Worker (the demo LMS)
        # Outbound HTTP from the Worker (platform JWKS, AGS, NRPS) goes through entry.py's
        # transport: workers.fetch, i.e. the runtime's fetch (real HTTP, devhost/runtime/web.py).
        from lti import http as lti_http

        lti_http.install(self.entry._fetch_transport)

    def _check_classes(self) -> None:
        named = [(f"Durable Object binding {c.name}", c.class_name) for c in self.config.durable_objects]
        named += [(f"Workflow binding {c.binding}", c.class_name) for c in self.config.workflows]
        for what, class_name in named:
            if getattr(self.entry, class_name, None) is None:
                raise ConfigError(f"{what}: class {class_name} named in wrangler.jsonc is not exported by src/entry.py")

    def mount(self, prefix: str, app) -> None:
        """Serves `app` under `prefix` (not part of the Worker; e.g. the demo LMS)."""
        self.mounts[prefix.rstrip("/")] = app

    # -- lifecycle ------------------------------------------------------------------

    def migrate(self) -> dict[str, list[str]]:
        """Applies pending migrations to every D1 database, as wrangler would locally."""
        out = {}
        for c in self.config.d1:
            out[c.binding] = migrations.apply(
                miniflare_d1_path(self.state_root, c.database_id),
                self.root / c.migrations_dir,
                c.migrations_table,
            )
        return out

    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        resumed = sum(ns.resume_alarms() for ns in self.durable_objects.values())
        if resumed:
            log.info("re-armed %d Durable Object alarm(s)", resumed)
        resumed = sum(wf.resume_pending() for wf in self.workflows.values())
        if resumed:
            log.info("resumed %d Workflow instance(s)", resumed)

    async def aclose(self) -> None:
        await self.ctx.drain()
        for wf in self.workflows.values():
            await wf.aclose()
            wf.close()
        for ns in self.durable_objects.values():
            await ns.aclose()
        for binding in [*self.d1.values(), *self.kv.values(), *self.r2.values()]:
            binding.close()

    def _workflow_bindings(self) -> dict[str, LocalWorkflow]:
        out = {}
        for c in self.config.workflows:
            if getattr(self.entry, c.class_name, None) is None:
                raise ConfigError(f"Workflow binding {c.binding}: class {c.class_name} named in wrangler.jsonc "
                                  "is not exported by src/entry.py")
            out[c.binding] = LocalWorkflow.from_config(
                c, self.state_root, lambda name=c.class_name: getattr(self.entry, name), lambda: self.env,
                self.ctx, self.faults)
        return out

    async def alarms_idle(self) -> None:
        """Waits until every Durable Object alarm that is due has run."""
        for ns in self.durable_objects.values():
            await ns.alarms_idle()

    async def workflows_idle(self) -> None:
        """Waits until every Workflow instance started so far has finished or stopped."""
        for wf in self.workflows.values():
            await wf.idle()

    async def scheduled(self, cron: str, scheduled_time_ms: int | None = None) -> None:
        """Runs the Worker's `scheduled` handler, as a cron trigger would."""
        await self.runtime.scheduled(cron, scheduled_time_ms or int(self.clock.now() * 1000))
        await self.ctx.drain()

    # -- ASGI -----------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http":
            path = scope.get("path", "")
            if path == "/__scheduled":
                await self._serve_scheduled(scope, send)
                return
            if path == "/__devhost/faults":
                await self._serve_faults(scope, receive, send)
                return
            if path == "/__devhost/alarms-idle" and scope["method"] == "POST":
                # For tests over real HTTP: answers once every Durable Object alarm that is due has run.
                await self.alarms_idle()
                await _send_text(send, 200, "Due alarms have run")
                return
            for prefix, app in self.mounts.items():
                if path == prefix or path.startswith(prefix + "/"):
                    await app({**scope, "root_path": scope.get("root_path", "") + prefix}, receive, send)
                    return
        if not self.started:
            await self.start()
        if scope["type"] == "http":
            await serve_http(self.runtime, scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve_scheduled(self, scope, send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        cron = (query.get("cron") or [""])[0]
        try:
            await self.scheduled(cron)
        except Exception:
            log.exception("scheduled handler failed")
            await _send_text(send, 500, "Scheduled event failed; see the host log.")
            return
        await _send_text(send, 200, "Ran scheduled event")

    async def _serve_faults(self, scope, receive, send) -> None:
        """POST {"binding": ..., "mode": ..., "latency_ms": ..., "rate": ...} sets a fault;
        {"binding": ..., "mode": "ok"} or DELETE clears; GET lists."""
        method = scope["method"]
        if method == "GET":
            await _send_json(send, 200, self.faults.describe())
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if method == "DELETE":
            self.faults.clear()
            await _send_json(send, 200, self.faults.describe())
            return
        try:
            spec = json.loads(body or b"{}")
            binding = spec.pop("binding")
            if not hasattr(self.env, binding):
                raise KeyError(binding)
            self.faults.set(binding, Fault(**spec))
        except (ValueError, KeyError, TypeError) as exc:
            await _send_json(send, 400, {"error": f"bad fault spec: {exc}"})
            return
        await _send_json(send, 200, self.faults.describe())


async def _send_text(send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send, status: int, value: Any) -> None:
    body = json.dumps(value).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
