"""The D1 gateway every data-layer call goes through: one breaker per D1 binding (per
isolate), the per-call timeout, and the flush of buffered fallback events."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from resilience.breaker import OPEN, BreakerConfig, CircuitBreaker, CircuitOpen
from resilience.events import FallbackEvents
from resilience.memo import TENANTS, WRITES

_CONSTRAINT_MARKERS = ("constraint failed", "D1_TYPE_ERROR", "D1_COLUMN_NOTFOUND", "too many SQL variables",
                       "no such table", "no such column", "syntax error", "surrogates not allowed")


def _is_outage(exc: BaseException) -> bool:
    """A failure of D1 itself, as opposed to D1 refusing a statement."""
    if isinstance(exc, UnicodeError):
        return False  # the statement's own text could not be stored
    return not any(m in str(exc) for m in _CONSTRAINT_MARKERS)


class D1Gateway:
    def __init__(self, config: BreakerConfig, monotonic: Callable[[], float] | None = None) -> None:
        self.config = config
        self._monotonic = monotonic
        self.breakers: dict[str, CircuitBreaker] = {}
        self.events = FallbackEvents()
        self._flushing = False

    def breaker(self, binding: str) -> CircuitBreaker:
        b = self.breakers.get(binding)
        if b is None:
            b = CircuitBreaker(binding, self.config, on_transition=self._on_transition)
            if self._monotonic is not None:
                b.clock = self._monotonic
            self.breakers[binding] = b
        return b

    def _on_transition(self, name: str, old: str, new: str) -> None:
        label = {"open": "breaker_opened", "closed": "breaker_closed", "half_open": "breaker_half_open"}[new]
        self.events.record("breaker", label, binding=name, previous=old)

    async def call(self, binding: str, op: Callable[[], Awaitable[Any]]) -> Any:
        return await self.breaker(binding).call(op, _is_outage)

    def is_open(self, binding: str) -> bool:
        return self.breaker(binding).state == OPEN

    def snapshot(self) -> dict:
        return {"config": vars(self.config), "breakers": {n: b.snapshot() for n, b in self.breakers.items()},
                "fallback_events": dict(self.events.counts), "metrics_buffered": len(self.events.pending),
                "metrics_dropped": self.events.dropped}

    async def flush(self, env: Any) -> int:
        """Writes buffered events to `metrics` (one batch). Safe to call often."""
        if self._flushing or not self.events.pending or self.is_open("D1_PRIMARY"):
            return 0
        self._flushing = True
        rows = self.events.take()
        try:
            db = env.D1_PRIMARY
            sql = "INSERT INTO metrics (tenant_id, kind, name, value, detail) VALUES (?, ?, ?, ?, ?)"
            stmts = [db.prepare(sql).bind(t, k, n, v, d) for (k, n, v, d, t) in rows]
            await self.call("D1_PRIMARY", lambda: db.batch(stmts))
            return len(rows)
        except Exception:
            self.events.put_back(rows)
            return 0
        finally:
            self._flushing = False


_GATEWAYS: dict[tuple, D1Gateway] = {}


def gateway_for(env: Any) -> D1Gateway:
    """The isolate's gateway for this configuration (created on first use, not at import).
    Keyed by the host's clock too: on the local host each host keeps its own time."""
    config = BreakerConfig.from_env(env)
    host_clock = getattr(env, "CLOCK", None)
    key = (tuple(sorted(vars(config).items())), host_clock)
    gw = _GATEWAYS.get(key)
    if gw is None:
        gw = _GATEWAYS[key] = D1Gateway(config, host_clock.monotonic if host_clock is not None else None)
    return gw


def reset() -> None:
    """Forget all per-isolate state: breakers, events, the KV write memo, the tenant
    directory copies (tests)."""
    _GATEWAYS.clear()
    WRITES.clear()
    TENANTS.clear()


__all__ = ["D1Gateway", "CircuitOpen", "gateway_for", "reset"]
