"""The breaker's state machine, on a fake clock."""

import asyncio

import pytest

from resilience.breaker import CLOSED, HALF_OPEN, OPEN, BreakerConfig, CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def breaker(**kw):
    clock = Clock()
    cfg = BreakerConfig(**{"failure_threshold": 3, "success_threshold": 2, "call_timeout_s": 0.05,
                           "cooldown_s": 10, "half_open_max_calls": 1, **kw})
    return CircuitBreaker("D1", cfg, clock=clock), clock


async def ok():
    return "ok"


async def boom():
    raise RuntimeError("D1_ERROR: Network connection lost.")


async def slow():
    await asyncio.sleep(1)


def outage(exc):
    return "constraint" not in str(exc)


async def fail(b, op=boom, n=1):
    for _ in range(n):
        with pytest.raises((RuntimeError, TimeoutError)):
            await b.call(op, outage)


async def test_opens_after_n_consecutive_failures_and_stops_calling_d1():
    b, _ = breaker()
    await fail(b, n=2)
    assert b.state == CLOSED
    await fail(b)
    assert b.state == OPEN
    calls = 0

    async def counted():
        nonlocal calls
        calls += 1

    with pytest.raises(CircuitOpen):
        await b.call(counted, outage)
    assert calls == 0 and b.calls_refused == 1


async def test_a_success_resets_the_consecutive_count():
    b, _ = breaker()
    await fail(b, n=2)
    assert await b.call(ok, outage) == "ok"
    await fail(b, n=2)
    assert b.state == CLOSED


async def test_a_timeout_counts_as_a_failure():
    b, _ = breaker()
    await fail(b, op=slow, n=3)
    assert b.state == OPEN


async def test_a_constraint_refusal_is_not_an_outage():
    b, _ = breaker()

    async def refused():
        raise RuntimeError("D1_ERROR: UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT")

    for _ in range(5):
        with pytest.raises(RuntimeError):
            await b.call(refused, outage)
    assert b.state == CLOSED


async def test_half_open_after_cooldown_closes_after_m_successes():
    b, clock = breaker()
    await fail(b, n=3)
    clock.t += 9.9
    with pytest.raises(CircuitOpen):
        await b.call(ok, outage)
    clock.t += 0.2
    assert await b.call(ok, outage) == "ok"
    assert b.state == HALF_OPEN
    assert await b.call(ok, outage) == "ok"
    assert b.state == CLOSED


async def test_one_failure_while_half_open_reopens():
    b, clock = breaker()
    await fail(b, n=3)
    clock.t += 11
    await fail(b)
    assert b.state == OPEN
    with pytest.raises(CircuitOpen):
        await b.call(ok, outage)


async def test_half_open_admits_only_the_configured_number_of_trials():
    b, clock = breaker(half_open_max_calls=1)
    await fail(b, n=3)
    clock.t += 11
    gate = asyncio.Event()

    async def trial():
        await gate.wait()
        return "trial"

    first = asyncio.ensure_future(b.call(trial, outage))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpen):
        await b.call(ok, outage)
    gate.set()
    assert await first == "trial"


def test_config_comes_from_env_with_documented_defaults():
    class Env:
        D1_BREAKER_FAILURES = "7"
        D1_CALL_TIMEOUT_MS = "250"
        D1_BREAKER_COOLDOWN_S = "not a number"

    cfg = BreakerConfig.from_env(Env())
    assert (cfg.failure_threshold, cfg.call_timeout_s, cfg.cooldown_s, cfg.success_threshold) == (7, 0.25, 15.0, 2)
