"""Local Workflows: the binding (`create`/`create_batch`/`get`), instances
(`status`/`pause`/`resume`/`terminate`/`restart`) and the engine that runs a
`WorkflowEntrypoint.run(event, step)` with the Python SDK's step surface: `step.do`
(a decorator, results persisted in SQLite, retries with backoff, timeout, `ctx`
injection), `step.sleep`/`step.sleep_until` (wake time persisted). Like Cloudflare's
engine, `run` is replayed from the top after a restart and completed steps answer
from storage, so an instance resumes from its last completed step.

Shapes and texts follow miniflare's engine (node_modules/miniflare/.../workflows):
instance ids `^[a-zA-Z0-9_][a-zA-Z0-9-_]*$` up to 100 characters, a duplicate id is
refused with `(instance.already_exists) ...`, an unknown one with `instance.not_found`,
default step config `{retries: {limit: 5, delay: 1000, backoff: "exponential"},
timeout: "10 minutes"}`, retry n waits delay * 2**(n-1) (exponential), delay * n
(linear) or delay, and a step result over 1 MiB fails the step."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

from ._common import FaultPlan, HostCrashed, devhost_path
from .durable_objects import _decode, _encode

log = logging.getLogger("devhost.workflows")

MAX_INSTANCE_ID = 100
_ID = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9-_]*$")
MAX_STEP_NAME = 256
MAX_STEP_RESULT_BYTES = 1024 * 1024
# Cloudflare's documented default (workflows/reference/limits: 1,024 steps per
# instance); miniflare defaults to 10,000. `limits.steps` in wrangler.jsonc overrides.
DEFAULT_STEP_LIMIT = 1024
DEFAULT_CONFIG = {"retries": {"limit": 5, "delay": 1000, "backoff": "exponential"}, "timeout": "10 minutes"}
TERMINAL = ("complete", "errored", "terminated")
_UNITS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800,
          "month": 2592000, "year": 31536000}


class WorkflowError(Exception):
    """What a failing binding call raises; the text matches miniflare's."""


def duration_s(value: Any) -> float:
    """A WorkflowDuration: a number of milliseconds (as miniflare's `ms()` reads it) or
    a string like "10 seconds" / "1 minute"."""
    if isinstance(value, bool):
        raise WorkflowError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        return max(0.0, float(value) / 1000)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*", str(value))
    if not m or m.group(2) not in _UNITS:
        raise WorkflowError(f"invalid duration {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def retry_delay_s(config: dict, attempt: int) -> float:
    """Delay before the retry that follows failed attempt number `attempt` (1-based)."""
    retries = config["retries"]
    base = duration_s(retries["delay"])
    backoff = retries.get("backoff") or "constant"
    if backoff == "exponential":
        return base * 2 ** (attempt - 1)
    if backoff == "linear":
        return base * attempt
    return base


def _merge_config(config: dict | None) -> dict:
    config = config or {}
    extra = set(config) - {"retries", "timeout"}
    if extra or not isinstance(config.get("retries", {}), dict):
        raise WorkflowError("Step config is in a invalid format. See "
                            "https://developers.cloudflare.com/workflows/build/sleeping-and-retrying/")
    merged = {**DEFAULT_CONFIG, **config, "retries": {**DEFAULT_CONFIG["retries"], **config.get("retries", {})}}
    if merged["retries"].get("backoff", "constant") not in ("constant", "linear", "exponential"):
        raise WorkflowError("Step config is in a invalid format (backoff)")
    if not isinstance(merged["retries"]["limit"], int) or merged["retries"]["limit"] < 0:
        raise WorkflowError("Step config is in a invalid format (retries.limit)")
    return merged


class _Terminated(Exception):
    pass


class LocalWorkflowInstance:
    def __init__(self, workflow: LocalWorkflow, instance_id: str) -> None:
        self._wf = workflow
        self.id = instance_id

    async def status(self) -> dict:
        await self._wf._gate("status")
        row = self._wf._row(self.id)
        if row is None:
            raise WorkflowError("instance.not_found")
        out = {"status": row["status"], "output": _decode(row["output"]) if row["output"] else None}
        if row["error"]:
            out["error"] = json.loads(row["error"])
        out["__LOCAL_DEV_STEP_OUTPUTS"] = self._wf._step_outputs(self.id)
        return out

    async def pause(self) -> None:
        self._wf._set_status(self.id, "paused")
        self._wf._stop(self.id)

    async def resume(self) -> None:
        row = self._wf._row(self.id)
        if row and row["status"] == "paused":
            self._wf._set_status(self.id, "queued")
            self._wf._schedule(self.id)

    async def terminate(self) -> None:
        row = self._wf._row(self.id)
        if row is None:
            raise WorkflowError("instance.not_found")
        if row["status"] in TERMINAL:
            raise WorkflowError(f"Cannot terminate instance since its on a finite state ({row['status']})")
        self._wf._set_status(self.id, "terminated")
        self._wf._stop(self.id)

    async def restart(self) -> None:
        self._wf._stop(self.id)
        self._wf._reset(self.id)
        self._wf._schedule(self.id)


class LocalWorkflowStep:
    """The `step` passed to run(): the Python SDK's surface (workers/entrypoints.py,
    `_WorkflowStepWrapper` with implicit dependencies)."""

    def __init__(self, workflow: LocalWorkflow, instance_id: str) -> None:
        self._wf = workflow
        self._id = instance_id
        self._counters: dict[str, int] = {}
        self._steps = 0
        self.step_closures: dict[str, Callable] = {}
        self._memo: dict[str, Any] = {}

    def do(self, name: str | None = None, *, concurrent: bool = False, config: dict | None = None):
        def decorator(func):
            step_name = func.__name__ if name is None else name
            params = list(inspect.signature(func).parameters.values())
            for p in params:
                if p.name != "ctx" and p.name not in self.step_closures:
                    raise TypeError(f"Received unexpected parameter {p.name}")

            async def wrapper():
                deps = []
                for p in params:
                    if p.name == "ctx":
                        deps.append(None)
                    elif p.name in self._memo:
                        deps.append(self._memo[p.name])
                    else:
                        deps.append(await self.step_closures[p.name]())

                async def call(ctx: dict):
                    return await _call(func, [ctx if p.name == "ctx" else d for p, d in zip(params, deps)])

                result = await self.run_step(step_name, config, call)
                self._memo[step_name] = result
                return result

            wrapper._step_name = step_name
            self.step_closures[step_name] = wrapper
            return wrapper

        return decorator

    def _key(self, name: str) -> str:
        if not isinstance(name, str) or len(name) > MAX_STEP_NAME or re.search(r"[\x00-\x1f]", name):
            raise WorkflowError(f'Step name "{name}" exceeds max length ({MAX_STEP_NAME} chars) or invalid characters found')
        self._counters[name] = self._counters.get(name, 0) + 1
        return f"{name}-{self._counters[name]}"

    async def run_step(self, name: str, config: dict | None, call: Callable[[dict], Awaitable[Any]]) -> Any:
        """The engine's `step.do(name, config, callback)`: the stored result if the step
        completed before, else the callback with retries; its result persisted."""
        self._steps += 1
        if self._steps > self._wf.step_limit:
            raise WorkflowError(f"The limit of {self._wf.step_limit} steps has been reached. "
                                "This limit can be changed in your worker configuration.")
        key = self._key(name)
        config = _merge_config(config)
        stored = self._wf._step_row(self._id, key)
        if stored is not None and stored["state"] == "complete":
            return _decode(stored["result"])
        if stored is not None and stored["state"] == "errored":
            raise _rebuild(json.loads(stored["error"]))
        attempts = stored["attempts"] if stored else 0
        timeout_s = duration_s(config["timeout"])
        while True:
            attempts += 1
            self._wf._save_attempt(self._id, key, name, attempts)
            ctx = {"step": {"name": name, "count": int(key.rsplit("-", 1)[1])}, "attempt": attempts,
                   "config": config}
            cpu = time.process_time()
            try:
                result = await asyncio.wait_for(call(ctx), timeout_s)
                encoded = _encode(result)  # copied the way RPC copies it; refuses what cannot cross
                if len(encoded.encode()) > MAX_STEP_RESULT_BYTES:
                    raise WorkflowError(f"Step {key} output is too large. Maximum allowed size is 1MiB.")
            except (HostCrashed, asyncio.CancelledError):
                raise
            except Exception as exc:
                error = _error_record(exc)
                if _non_retryable(exc) or attempts > config["retries"]["limit"]:
                    self._wf._save_error(self._id, key, error)
                    raise
                self._wf.retries.append({"instance": self._id, "step": key, "attempt": attempts,
                                         "delay_s": retry_delay_s(config, attempts), "error": error})
                await self._wf.sleeper(retry_delay_s(config, attempts))
                continue
            self._wf._save_result(self._id, key, encoded, (time.process_time() - cpu) * 1000)
            return _decode(encoded)

    async def sleep(self, name: str, duration: Any) -> None:
        await self._sleep(name, lambda now: now + duration_s(duration))

    async def sleep_until(self, name: str, timestamp: Any) -> None:
        when = timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)
        await self._sleep(name, lambda now: when)

    async def _sleep(self, name: str, wake_at: Callable[[float], float]) -> None:
        key = self._key(name)
        stored = self._wf._step_row(self._id, key)
        if stored is not None and stored["state"] == "complete":
            return
        if stored is None or stored["wake_at"] is None:
            self._wf._save_sleep(self._id, key, name, wake_at(self._wf.now()))
            stored = self._wf._step_row(self._id, key)
        # Cloudflare documents "waiting" for a sleeping instance (workers-api, InstanceStatus);
        # miniflare reports "running" (measured in tests/parity/test_workflows_contract.py).
        self._wf._set_status(self._id, "waiting")
        await self._wf.sleeper(max(0.0, stored["wake_at"] - self._wf.now()))
        self._wf._set_status(self._id, "running")
        self._wf._save_result(self._id, key, _encode(None), 0.0)


async def _call(func, args):
    result = func(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _error_record(exc: BaseException) -> dict:
    """{name, message} of a failure: a JS error's own (a PythonError carries the Python
    traceback as its message, as the platform records it), else the Python class."""
    if isinstance(getattr(exc, "name", None), str) and isinstance(getattr(exc, "message", None), str):
        return {"name": exc.name, "message": exc.message}
    return {"name": type(exc).__name__, "message": str(exc)}


def _non_retryable(exc: BaseException) -> bool:
    # A Python NonRetryableError, or the JS error of that name the SDK's workflows.js
    # makes of one raised inside a step callback.
    return type(exc).__name__ == "NonRetryableError" or getattr(exc, "name", None) == "NonRetryableError"


def _rebuild(error: dict) -> Exception:
    exc = Exception(error.get("message", ""))
    return exc


class LocalWorkflow:
    """One `workflows` entry of wrangler.jsonc: the binding and its engine."""

    kind = "workflow"

    def __init__(self, binding: str, name: str, class_name: str, path: Path, entrypoint: Callable[[], type],
                 env: Callable[[], Any], ctx: Any = None, faults: FaultPlan | None = None,
                 step_limit: int | None = None,
                 sleeper: Callable[[float], Awaitable[None]] | None = None,
                 now: Callable[[], float] | None = None, runtime=None) -> None:
        self.binding, self.name, self.class_name = binding, name, class_name
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._entrypoint = entrypoint
        self._env = env
        self._ctx = ctx
        self._faults = faults or FaultPlan()
        self.step_limit = step_limit or DEFAULT_STEP_LIMIT
        # Injectable so tests never wait for a retry delay or a sleep.
        self.sleeper = sleeper or asyncio.sleep
        self.now = now or time.time
        self.retries: list[dict] = []  # retry log (tests and the CLI read it)
        # The local host's runtime (devhost/runtime): runs the class src/entry.py exports
        # through the SDK's WorkflowEntrypoint with a JS WorkflowStep, as the platform does.
        self.runtime = runtime
        self._tasks: dict[str, asyncio.Task] = {}
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS instances (
              id TEXT PRIMARY KEY, params TEXT NOT NULL, status TEXT NOT NULL, output TEXT, error TEXT,
              created_at REAL NOT NULL, updated_at REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS steps (
              instance_id TEXT NOT NULL, cache_key TEXT NOT NULL, name TEXT NOT NULL,
              state TEXT NOT NULL DEFAULT 'running', attempts INTEGER NOT NULL DEFAULT 0,
              result TEXT, error TEXT, wake_at REAL, cpu_ms REAL, seq INTEGER,
              PRIMARY KEY (instance_id, cache_key));
            """
        )

    @classmethod
    def from_config(cls, cfg, state_root: Path, entrypoint, env, ctx, faults: FaultPlan) -> LocalWorkflow:
        return cls(cfg.binding, cfg.name, cfg.class_name, devhost_path(state_root, "workflows", cfg.name),
                   entrypoint, env, ctx, faults, step_limit=cfg.step_limit)

    # -- binding surface -------------------------------------------------------------

    async def create(self, *args, **kwargs) -> LocalWorkflowInstance:
        opts: dict = {}
        for a in args:
            if not isinstance(a, dict):
                raise TypeError("create() takes {id, params} (or id=..., params=...)")
            opts.update(a)
        opts.update(kwargs)
        await self._gate("create")
        return self._create(opts)

    async def create_batch(self, batch: list[dict]) -> list[LocalWorkflowInstance]:
        if isinstance(batch, tuple):
            raise TypeError("tuple cannot be passed to a binding; use list")
        await self._gate("createBatch")
        if not 1 <= len(batch) <= 100:
            raise WorkflowError("(body) Batch size exceeds maximum allowed")
        return [self._create(dict(o)) for o in batch]

    createBatch = create_batch

    async def get(self, instance_id: str) -> LocalWorkflowInstance:
        await self._gate("get")
        if self._row(instance_id) is None:
            raise WorkflowError("instance.not_found")
        return LocalWorkflowInstance(self, instance_id)

    def _create(self, opts: dict) -> LocalWorkflowInstance:
        import secrets

        instance_id = opts.get("id")
        if instance_id is None:
            instance_id = secrets.token_hex(16)
        if not isinstance(instance_id, str) or len(instance_id) > MAX_INSTANCE_ID or not _ID.match(instance_id):
            raise WorkflowError("Workflow instance has invalid id")
        params = opts.get("params", {})
        encoded = _encode(params)
        if len(encoded.encode()) > MAX_STEP_RESULT_BYTES:
            raise WorkflowError("Event payload is too large. Maximum allowed size is 1MiB.")
        now = self.now()
        try:
            self._conn.execute("INSERT INTO instances (id, params, status, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?)",
                               (instance_id, encoded, now, now))
        except sqlite3.IntegrityError:
            raise WorkflowError(f'(instance.already_exists) Workflow instance with id "{instance_id}" already exists') from None
        self._schedule(instance_id)
        return LocalWorkflowInstance(self, instance_id)

    async def _gate(self, op: str) -> None:
        await self._faults.gate(self.binding, op, op)

    # -- engine ----------------------------------------------------------------------

    def _schedule(self, instance_id: str) -> None:
        task = self._tasks.get(instance_id)
        if task is not None and not task.done():
            return
        self._tasks[instance_id] = asyncio.get_event_loop().create_task(self._drive(instance_id))

    def _stop(self, instance_id: str) -> None:
        task = self._tasks.pop(instance_id, None)
        if task is not None and not task.done():
            task.cancel()

    async def _drive(self, instance_id: str) -> None:
        row = self._row(instance_id)
        if row is None or row["status"] in (*TERMINAL, "paused"):
            return
        self._set_status(instance_id, "running")
        cls = self._entrypoint()
        event = {"payload": _decode(row["params"]), "timestamp": datetime.fromtimestamp(row["created_at"], UTC),
                 "instanceId": instance_id, "workflowName": self.name}
        try:
            step = LocalWorkflowStep(self, instance_id)
            if self.runtime is not None:
                output = await self.runtime.run_workflow(cls, event, step)
            else:
                output = await cls(self._ctx, self._env()).run(event, step)
            encoded = _encode(output)
        except HostCrashed:
            log.warning("workflow %s instance %s: host crashed mid-run (state kept for resume)", self.name, instance_id)
            return
        except asyncio.CancelledError:
            return
        except Exception as exc:
            if self.runtime is not None and not hasattr(exc, "message"):
                # run() is called from JS: a Python exception escapes it as a PythonError.
                from devhost.runtime.jsvalues import python_error

                exc = python_error(exc)
            error = _error_record(exc)
            if _non_retryable(exc):
                # What miniflare's engine records (the step's own message is kept only
                # under the workflows_preserve_non_retryable_error_message flag).
                error = {"name": "Error", "message": "The execution of the Workflow instance was terminated, as a "
                                                     "step threw an NonRetryableError and it was not handled"}
            self._finish(instance_id, "errored", None, error)
            return
        self._finish(instance_id, "complete", encoded, None)

    def resume_pending(self) -> int:
        """After a (re)start: every instance not finished runs again from its last
        completed step, as the platform does after a machine restart."""
        ids = [r[0] for r in self._conn.execute(
            "SELECT id FROM instances WHERE status IN ('queued', 'running', 'waiting') ORDER BY created_at")]
        for instance_id in ids:
            self._schedule(instance_id)
        return len(ids)

    async def idle(self) -> None:
        """Waits until no instance of this workflow is running (local host helper)."""
        while True:
            pending = [t for t in self._tasks.values() if not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Stops running instances as a process exit would: their state stays as it is."""
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    def close(self) -> None:
        self._conn.close()

    # -- storage ---------------------------------------------------------------------

    def _row(self, instance_id: str):
        return self._conn.execute("SELECT * FROM instances WHERE id = ?", (instance_id,)).fetchone()

    def _set_status(self, instance_id: str, status: str) -> None:
        row = self._row(instance_id)
        if row is not None and row["status"] == "terminated":
            raise _Terminated()
        self._conn.execute("UPDATE instances SET status = ?, updated_at = ? WHERE id = ?",
                           (status, self.now(), instance_id))

    def _finish(self, instance_id: str, status: str, output: str | None, error: dict | None) -> None:
        row = self._row(instance_id)
        if row is None or row["status"] in ("terminated", "paused"):
            return
        self._conn.execute("UPDATE instances SET status = ?, output = ?, error = ?, updated_at = ? WHERE id = ?",
                           (status, output, json.dumps(error) if error else None, self.now(), instance_id))

    def _reset(self, instance_id: str) -> None:
        self._conn.execute("DELETE FROM steps WHERE instance_id = ?", (instance_id,))
        self._conn.execute("UPDATE instances SET status = 'queued', output = NULL, error = NULL WHERE id = ?",
                           (instance_id,))

    def _step_row(self, instance_id: str, key: str):
        return self._conn.execute("SELECT * FROM steps WHERE instance_id = ? AND cache_key = ?",
                                  (instance_id, key)).fetchone()

    def _check_live(self, instance_id: str) -> None:
        row = self._row(instance_id)
        if row is None or row["status"] in ("terminated", "paused"):
            raise asyncio.CancelledError()

    def _save_attempt(self, instance_id: str, key: str, name: str, attempts: int) -> None:
        self._check_live(instance_id)
        self._conn.execute(
            "INSERT INTO steps (instance_id, cache_key, name, attempts, seq) VALUES (?, ?, ?, ?,"
            " (SELECT count(*) FROM steps WHERE instance_id = ?))"
            " ON CONFLICT (instance_id, cache_key) DO UPDATE SET attempts = excluded.attempts",
            (instance_id, key, name, attempts, instance_id))

    def _save_sleep(self, instance_id: str, key: str, name: str, wake_at: float) -> None:
        self._check_live(instance_id)
        self._conn.execute(
            "INSERT INTO steps (instance_id, cache_key, name, wake_at, seq) VALUES (?, ?, ?, ?,"
            " (SELECT count(*) FROM steps WHERE instance_id = ?))"
            " ON CONFLICT (instance_id, cache_key) DO UPDATE SET wake_at = excluded.wake_at",
            (instance_id, key, name, wake_at, instance_id))

    def _save_result(self, instance_id: str, key: str, encoded: str, cpu_ms: float) -> None:
        self._check_live(instance_id)
        self._conn.execute("UPDATE steps SET state = 'complete', result = ?, cpu_ms = ? WHERE instance_id = ? AND cache_key = ?",
                           (encoded, cpu_ms, instance_id, key))

    def _save_error(self, instance_id: str, key: str, error: dict) -> None:
        self._conn.execute("UPDATE steps SET state = 'errored', error = ? WHERE instance_id = ? AND cache_key = ?",
                           (json.dumps(error), instance_id, key))

    def _step_outputs(self, instance_id: str) -> list:
        return [_decode(r[0]) for r in self._conn.execute(
            "SELECT result FROM steps WHERE instance_id = ? AND state = 'complete' AND wake_at IS NULL ORDER BY seq",
            (instance_id,))]

    def step_stats(self, instance_id: str) -> list[dict]:
        """(name, attempts, cpu_ms) of each completed step, in order: for the bench and CLI."""
        return [dict(r) for r in self._conn.execute(
            "SELECT cache_key, name, attempts, cpu_ms FROM steps WHERE instance_id = ? AND state = 'complete'"
            " ORDER BY seq", (instance_id,))]
