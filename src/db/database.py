"""Runs built statements against the tenant's D1 binding: times each by name, raises a
slow-query alert (structured log + metrics row) past the threshold, and maps D1 failures
to two families: the data was refused (constraint) or D1 could not be reached."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from db.scope import Statement
from db.system import SystemStatement, insert_metric
from resilience.errors import ConstraintViolation, DataError, DataUnavailable

__all__ = ["ConstraintViolation", "DataError", "DataUnavailable", "Database", "QueryTimings"]

log = logging.getLogger("atomic_guide.db")

DEFAULT_SLOW_QUERY_MS = 10.0


def _classify(exc: Exception) -> DataError:
    if isinstance(exc, UnicodeError):
        # Text D1 cannot store (a lone surrogate from a JSON escape): the client's data,
        # refused like a constraint, not an outage of D1.
        return ConstraintViolation(f"text D1 cannot store: {type(exc).__name__}", "text_encoding")
    text = str(exc)
    for marker, kind in (("UNIQUE constraint failed", "unique"), ("CHECK constraint failed", "check"),
                         ("FOREIGN KEY constraint failed", "foreign_key"), ("NOT NULL constraint failed", "not_null")):
        if marker in text:
            return ConstraintViolation(text, kind)
    return DataUnavailable(text)


class QueryTimings:
    """Per-isolate timing summary by query name (count, total, max, slow count)."""

    def __init__(self) -> None:
        self.by_name: dict[str, dict[str, float]] = {}

    def record(self, name: str, ms: float, slow: bool) -> None:
        s = self.by_name.setdefault(name, {"count": 0, "total_ms": 0.0, "max_ms": 0.0, "slow": 0})
        s["count"] += 1
        s["total_ms"] += ms
        s["max_ms"] = max(s["max_ms"], ms)
        s["slow"] += int(slow)


TIMINGS = QueryTimings()
_DEFAULT = object()


class Database:
    """The one door to D1. Every call goes through the isolate's D1 gateway (circuit
    breaker + per-call timeout, src/resilience/) unless `gateway=None` (benchmarks)."""

    def __init__(self, env: Any, slow_query_ms: float | None = None, timings: QueryTimings = TIMINGS,
                 gateway: Any = _DEFAULT, on_slow: Any = None) -> None:
        self.env = env
        # on_slow(name, ms): where slow queries are reported instead of one metrics row
        # each (bulk work such as a backup summarises them in one row per run).
        self.on_slow = on_slow
        if slow_query_ms is None:
            raw = getattr(env, "SLOW_QUERY_MS", None)
            slow_query_ms = float(raw) if raw not in (None, "") else DEFAULT_SLOW_QUERY_MS
        self.slow_query_ms = slow_query_ms
        self.timings = timings
        if gateway is _DEFAULT:
            from resilience.gateway import gateway_for

            gateway = gateway_for(env)
        self.gateway = gateway

    def _binding(self, name: str):
        db = getattr(self.env, name, None)
        if db is None:
            raise DataUnavailable(f"D1 binding {name} is not configured")
        return db

    @staticmethod
    def _check(stmt) -> None:
        if not isinstance(stmt, (Statement, SystemStatement)):
            raise TypeError("Database runs only statements built by a TenantScope or db.system")

    async def _call(self, binding: str, name: str, op):
        started = time.perf_counter()
        try:
            if self.gateway is not None:
                result = await self.gateway.call(binding, op)
            else:
                result = await op()
        except DataError:
            raise
        except Exception as exc:
            raise _classify(exc) from None
        ms = (time.perf_counter() - started) * 1000
        if self.gateway is not None and self.gateway.events.pending:
            await self.gateway.flush(self.env)  # D1 answers again: write buffered fallback events
        slow = ms > self.slow_query_ms
        self.timings.record(name, ms, slow)
        if slow and self.on_slow is not None:
            self.on_slow(name, ms)
        elif slow and name != "metrics.insert":
            await self._alert_slow(binding, name, ms)
        return result

    async def _alert_slow(self, binding: str, name: str, ms: float) -> None:
        detail = {"query": name, "binding": binding, "ms": round(ms, 3), "threshold_ms": self.slow_query_ms}
        log.warning(json.dumps({"event": "slow_query", **detail}))
        try:
            await self.run(insert_metric("slow_query", name, ms, json.dumps(detail), None))
        except DataError:
            pass  # the alert is best-effort; the query itself succeeded

    def _prepared(self, stmt):
        return self._binding(stmt.d1_binding).prepare(stmt.sql).bind(*stmt.params)

    async def all(self, stmt) -> list[dict]:
        self._check(stmt)
        result = await self._call(stmt.d1_binding, stmt.name, lambda: self._prepared(stmt).all())
        return result["results"]

    async def first(self, stmt) -> dict | None:
        rows = await self.all(stmt)
        return rows[0] if rows else None

    async def raw(self, stmt) -> list[list]:
        """Rows as lists in column order (D1's raw()): no per-row dict for bulk reads."""
        self._check(stmt)
        return await self._call(stmt.d1_binding, stmt.name, lambda: self._prepared(stmt).raw())

    async def run(self, stmt) -> dict:
        self._check(stmt)
        result = await self._call(stmt.d1_binding, stmt.name, lambda: self._prepared(stmt).run())
        return result["meta"]

    async def batch(self, stmts: list, name: str) -> list[dict]:
        """Atomic: all statements commit or none does. All must target one database."""
        for s in stmts:
            self._check(s)
        bindings = {s.d1_binding for s in stmts}
        if len(bindings) != 1:
            raise ValueError("a batch must target exactly one D1 database")
        (binding,) = bindings
        db = self._binding(binding)
        return await self._call(binding, name, lambda: db.batch([db.prepare(s.sql).bind(*s.params) for s in stmts]))
