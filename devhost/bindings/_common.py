"""What every local binding shares: where its state lives, and injected faults."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

STATE_SUBDIR = Path(".wrangler") / "state" / "v3"


def miniflare_d1_path(state_root: Path, database_id: str) -> Path:
    """The SQLite file `wrangler d1 ... --local` uses for a database id.

    miniflare names Durable Object storage by an id derived from the object's name:
    key = sha256("miniflare-D1DatabaseObject"); a = HMAC(key, name)[:16];
    b = HMAC(key, a)[:16]; id = hex(a + b).
    """
    key = hashlib.sha256(b"miniflare-D1DatabaseObject").digest()
    a = hmac.new(key, database_id.encode(), hashlib.sha256).digest()[:16]
    b = hmac.new(key, a, hashlib.sha256).digest()[:16]
    return state_root / "d1" / "miniflare-D1DatabaseObject" / f"{(a + b).hex()}.sqlite"


def devhost_path(state_root: Path, kind: str, name: str) -> Path:
    """State of bindings that wrangler's own commands do not read (KV, R2, DO): kept apart
    from miniflare's files so neither tool corrupts the other's."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return state_root / "devhost" / kind / f"{safe}.sqlite"


class BindingUnavailable(Exception):
    """Raised by a binding whose injected fault says the service cannot be reached."""


class HostCrashed(BaseException):
    """Raised by a binding whose injected fault is `crash`: the process dies here. A
    BaseException so that no `except Exception` in the Worker's code handles it, just as
    nothing runs after a real kill; the local Workflows engine leaves the instance as it
    was (running, last attempt unfinished) for the next host to resume."""


@dataclass
class Fault:
    """What a binding does before each operation: fail, stall or error, with a probability."""

    mode: str = "ok"  # ok | unavailable | latency | error | chaos | crash
    latency_ms: float = 0.0
    rate: float = 1.0  # probability that an operation is affected (fails, in chaos mode)
    seed: int | None = None
    # chaos mode: every operation waits uniform(0, latency_ms), or stall_ms with
    # probability stall_rate, then fails with probability rate.
    stall_rate: float = 0.0
    stall_ms: float = 0.0
    # Let this many operations through before the fault applies, and (if set) apply it
    # only to these operation names: "crash on the 3rd uploadPart" is deterministic.
    after: int = 0
    ops: tuple[str, ...] | None = None
    # Apply the fault this many times, then let everything through ("fail twice, then
    # answer": a retry that succeeds is deterministic too). None: no end.
    times: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in {"ok", "unavailable", "latency", "error", "chaos", "crash"}:
            raise ValueError(f"unknown fault mode {self.mode!r}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        self._rng = random.Random(self.seed)


class FaultPlan:
    """Per-binding faults, settable while the host runs (tests, /__devhost/faults)."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self.calls: dict[str, int] = {}

    def set(self, binding: str, fault: Fault) -> None:
        self._faults[binding] = fault

    def clear(self, binding: str | None = None) -> None:
        if binding is None:
            self._faults.clear()
        else:
            self._faults.pop(binding, None)

    def describe(self) -> dict[str, dict]:
        return {
            name: {"mode": f.mode, "latency_ms": f.latency_ms, "rate": f.rate}
            for name, f in self._faults.items()
        }

    async def gate(self, binding: str, op: str, error_text: str) -> None:
        """Called by a binding before it does anything; raises or sleeps as planned."""
        self.calls[binding] = self.calls.get(binding, 0) + 1
        fault = self._faults.get(binding)
        if fault is not None and fault.ops is not None and op not in fault.ops:
            return
        if fault is not None and fault.after > 0:
            fault.after -= 1
            return
        if fault is not None and fault.times is not None:
            if fault.times <= 0:
                return
            fault.times -= 1
        if fault is not None and fault.mode == "crash":
            raise HostCrashed(f"{binding}: {op}: host crashed (injected fault)")
        if fault is not None and fault.mode == "chaos":
            rng = fault._rng
            delay = fault.stall_ms if rng.random() < fault.stall_rate else rng.uniform(0, fault.latency_ms)
            await asyncio.sleep(delay / 1000)
            if rng.random() < fault.rate:
                raise BindingUnavailable(f"{error_text}: {op}: Network connection lost.")
            return
        if fault is None or fault.mode == "ok" or fault._rng.random() >= fault.rate:
            return
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.mode == "unavailable":
            raise BindingUnavailable(f"{error_text}: {op}: Network connection lost.")
        if fault.mode == "error":
            raise BindingUnavailable(f"{error_text}: {op}: internal error (injected fault)")


def split_sql(query: str) -> list[str]:
    """Splits a script into complete SQL statements (semicolons inside strings and
    triggers stay where they are)."""
    parts, buf = [], ""
    for piece in query.split(";"):
        buf += piece
        if sqlite3.complete_statement(buf + ";"):
            parts.append(buf)
            buf = ""
        else:
            buf += ";"
    if buf.strip():
        parts.append(buf)
    return parts


def binding_options(args: tuple, kwargs: dict, kind: str, type_shorthand: bool = False) -> dict:
    """The option forms the Python SDK accepts on binding calls: keyword arguments, a
    trailing dict, and (KV) a bare type string."""
    opts: dict = {}
    for a in args:
        if type_shorthand and isinstance(a, str):
            opts["type"] = a
        elif isinstance(a, dict):
            opts.update(a)
        elif a is not None:
            raise TypeError(f"unexpected {kind} option {a!r}")
    opts.update(kwargs)
    return opts
