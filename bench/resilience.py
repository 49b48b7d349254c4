"""resilience: learner-profile reads through the circuit breaker + KV read-through cache
(what the API does) against the data layer called directly without the breaker, with D1
healthy; and the same read served from the KV copy while the breaker is open.

  direct        profiles.get_by_user over Database(env, gateway=None)
  guarded       resilience.cache.read_through(...) over Database(env) (breaker + timeout,
                KV copy refreshed when the row changed)
  kv_open       the guarded read with D1 made unavailable and the breaker open: D1 is not
                called, the copy comes from KV

Latencies per call; p50/p99 per repetition, median over repetitions, sides interleaved."""

from __future__ import annotations

import random
import time

from bench import BenchRun, group
from bench.fixture import PRIMARY, seeded_host
from bench.stats import median, percentile, ratio, settle


@group("resilience")
async def resilience(run: BenchRun) -> list[tuple[str, float]]:
    from db import profiles
    from db.database import Database
    from db.system import system_scope
    from devhost.bindings._common import Fault
    from resilience import gateway as gw
    from resilience.cache import profile_key, read_through

    reps = run.pick(7, 3)
    n = run.pick(600, 150)
    seeded = await seeded_host(run.tmpdir("resilience-state"), rows=1000)
    env = seeded.host.env
    scope = system_scope({"id": seeded.tenant_id, "d1_binding": PRIMARY}, "bench")
    users = [uid for _, uid in seeded.profiles][:200]
    rng = random.Random(5)
    direct_db = Database(env, gateway=None)
    clock = time.perf_counter

    async def direct(user):
        return await profiles.get_by_user(direct_db, scope, user)

    async def guarded(user):
        return await read_through(env, profile_key(scope.tenant_id, user),
                                  lambda: profiles.get_by_user(Database(env), scope, user),
                                  lambda r: str(r["version"]), scope.tenant_id)

    async def sample(fn) -> list[float]:
        out = []
        settle()
        for user in rng.choices(users, k=n):
            started = clock()
            await fn(user)
            out.append((clock() - started) * 1e6)
        return out

    for user in users:  # warm: fills the KV copies
        await guarded(user)
    results: dict[str, list[tuple[float, float]]] = {"direct": [], "guarded": [], "kv_open": []}
    for rep in range(reps):
        order = [("direct", direct), ("guarded", guarded)]
        for name, fn in (order if rep % 2 == 0 else order[::-1]):
            lat = await sample(fn)
            results[name].append((percentile(lat, 50), percentile(lat, 99)))
    # Open the breaker: D1 unavailable, then enough failing calls to trip it.
    seeded.host.faults.set(PRIMARY, Fault(mode="unavailable"))
    gateway = gw.gateway_for(env)
    for user in users[: gateway.config.failure_threshold + 1]:
        await guarded(user)
    assert gateway.breaker(PRIMARY).state == "open"
    calls_before = seeded.host.faults.calls.get(PRIMARY, 0)
    for _ in range(reps):
        lat = await sample(guarded)
        results["kv_open"].append((percentile(lat, 50), percentile(lat, 99)))
    assert seeded.host.faults.calls.get(PRIMARY, 0) == calls_before, "D1 was called while the breaker was open"
    seeded.host.faults.clear()
    gw.reset()  # leave no open breaker behind for the groups that run after this one
    await seeded.host.aclose()

    fig = {name: (median([p for p, _ in v]), median([q for _, q in v])) for name, v in results.items()}
    return [
        ("profile_read_direct_p50_us", fig["direct"][0]),
        ("profile_read_direct_p99_us", fig["direct"][1]),
        ("profile_read_breaker_cache_p50_us", fig["guarded"][0]),
        ("profile_read_breaker_cache_p99_us", fig["guarded"][1]),
        ("breaker_cache_overhead_ratio", ratio(fig["guarded"][0], fig["direct"][0])),
        ("profile_read_kv_breaker_open_p50_us", fig["kv_open"][0]),
        ("profile_read_kv_breaker_open_p99_us", fig["kv_open"][1]),
        ("kv_breaker_open_vs_direct_ratio", ratio(fig["kv_open"][0], fig["direct"][0])),
    ]
