"""Circuit breaker around D1, with a per-call timeout.

closed --N consecutive failures/timeouts--> open --cool-down--> half-open
half-open lets a few trial calls through: M successes close it, one failure reopens it.
While open, D1 is not called at all: callers get DataUnavailable at once.

State is per isolate (module memory), on purpose: a Worker isolate serves many requests
and learns of an outage after N of them; sharing state through a Durable Object or KV
would add a network hop to every D1 call and would itself fail in the outages the
breaker is for. Each isolate converges on its own within N calls.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 5       # N: consecutive failures that open the circuit
    success_threshold: int = 2       # M: half-open successes that close it
    call_timeout_s: float = 2.0      # a D1 call slower than this counts as a failure
    cooldown_s: float = 15.0         # open -> half-open after this long
    half_open_max_calls: int = 2     # trial calls allowed at once while half-open

    @classmethod
    def from_env(cls, env: Any) -> BreakerConfig:
        def num(name: str, default, cast):
            raw = getattr(env, name, None)
            try:
                return cast(raw) if raw not in (None, "") else default
            except (TypeError, ValueError):
                return default

        d = cls()
        return cls(
            failure_threshold=num("D1_BREAKER_FAILURES", d.failure_threshold, int),
            success_threshold=num("D1_BREAKER_SUCCESSES", d.success_threshold, int),
            call_timeout_s=num("D1_CALL_TIMEOUT_MS", d.call_timeout_s * 1000, float) / 1000,
            cooldown_s=num("D1_BREAKER_COOLDOWN_S", d.cooldown_s, float),
            half_open_max_calls=num("D1_BREAKER_TRIAL_CALLS", d.half_open_max_calls, int),
        )


class CircuitOpen(Exception):
    """The breaker refused the call without trying D1."""


@dataclass
class CircuitBreaker:
    name: str
    config: BreakerConfig
    clock: Callable[[], float] = time.monotonic
    on_transition: Callable[[str, str, str], None] | None = None
    state: str = CLOSED
    failures: int = 0
    successes: int = 0
    opened_at: float = 0.0
    in_flight_trials: int = 0
    transitions: int = 0
    calls_refused: int = 0

    def _move(self, new: str) -> None:
        old, self.state = self.state, new
        self.transitions += 1
        if new == OPEN:
            self.opened_at = self.clock()
        if new in (CLOSED, HALF_OPEN):
            self.successes = 0
        if new == CLOSED:
            self.failures = 0
        if self.on_transition:
            self.on_transition(self.name, old, new)

    def _admit(self) -> bool:
        if self.state == OPEN and self.clock() - self.opened_at >= self.config.cooldown_s:
            self._move(HALF_OPEN)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and self.in_flight_trials < self.config.half_open_max_calls:
            self.in_flight_trials += 1
            return True
        self.calls_refused += 1
        return False

    def _success(self, trial: bool) -> None:
        if trial:
            self.in_flight_trials -= 1
        if self.state == HALF_OPEN:
            self.successes += 1
            if self.successes >= self.config.success_threshold:
                self._move(CLOSED)
        elif self.state == CLOSED:
            self.failures = 0

    def _failure(self, trial: bool) -> None:
        if trial:
            self.in_flight_trials -= 1
        if self.state == HALF_OPEN:
            self._move(OPEN)
        elif self.state == CLOSED:
            self.failures += 1
            if self.failures >= self.config.failure_threshold:
                self._move(OPEN)

    async def call(self, op: Callable[[], Awaitable[Any]], is_failure: Callable[[BaseException], bool]) -> Any:
        if not self._admit():
            raise CircuitOpen(f"circuit {self.name} is open; D1 is not being called")
        trial = self.state == HALF_OPEN
        try:
            result = await asyncio.wait_for(op(), self.config.call_timeout_s)
        except TimeoutError:
            self._failure(trial)
            raise TimeoutError(f"D1 call exceeded {self.config.call_timeout_s * 1000:.0f} ms") from None
        except BaseException as exc:
            if isinstance(exc, Exception) and not is_failure(exc):
                self._success(trial)  # D1 answered (e.g. a constraint refusal): it is up
            else:
                self._failure(trial)
            raise
        self._success(trial)
        return result

    def snapshot(self) -> dict:
        return {"state": self.state, "consecutive_failures": self.failures, "transitions": self.transitions,
                "calls_refused": self.calls_refused}
