"""insights: the class overview's cost as the class grows, and the nightly snapshot's.

For classes of 30, 300 and 3,000 learners x 12 concepts (devhost/class_seed.py; --quick:
30 and 300), seeded into one tenant each with their roster names cached:
  * the nightly snapshot of the course (insights.service.compute_and_store, what one
    Workflow step runs): CPU per course (time.process_time, local D1's sqlite included, so
    conservative) and the rows it reads;
  * GET /app/courses/<course>/overview through the app (in-process ASGI, process_time
    around the app call only): CPU p50/p99 over repetitions, and D1 round trips per view.
The overview reads the newest snapshot and one page of learners, so its cost should grow
far slower than the class: `insights_overview_growth_ratio` = p50 at the largest class /
p50 at 30 learners, against the class-size ratio (`insights_class_size_ratio`).
  *_budget_ratio_at_10x = p99 CPU ms x 10 (CPython -> Pyodide) / limits.cpu_ms (50 ms)."""

from __future__ import annotations

import time

from bench import BenchRun, group
from bench.stats import median, percentile, settle

PYODIDE_SLOWDOWN = 10
DEFAULT_CPU_MS = 50
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@group("insights")
async def insights(run: BenchRun) -> list[tuple[str, float]]:
    import httpx

    from auth.session import mint_session_token
    from bench.fixture import make_host, quiet_data_layer_log
    from db.database import Database
    from db.system import insert_tenant, system_scope
    from devhost import class_seed
    from insights import service
    from resilience.gateway import reset as gateway_reset

    sizes = run.pick([30, 300, 3000], [30, 300])
    reps, per_rep = run.pick((5, 20), (3, 8))
    out: list[tuple[str, float]] = []
    p50s: dict[int, float] = {}
    quiet_data_layer_log()
    for n in sizes:
        gateway_reset()
        host = make_host(run.tmpdir(f"insights-{n}"))
        await host.start()
        cpu_cap = getattr(host.config, "cpu_ms", None) or DEFAULT_CPU_MS
        tenant = f"00000000-0000-4000-8000-{n:012d}"
        db = Database(host.env)
        await db.run(insert_tenant(tenant, f"Bench {n}", "D1_PRIMARY"))
        started = time.perf_counter()
        cls = await class_seed.seed(host.env, tenant, "course-1", n, concept_prefix=f"b{n}")
        scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "bench")
        await db.batch(scope.insert_exported("course_roster", ["course_context", "lti_user_id", "name", "fetched_at"],
                                              [["course-1", l["user_id"], l["name"], "2999-01-01T00:00:00.000Z"]
                                               for l in cls.learners]), name="bench.roster")
        run.log(f"insights: seeded {n} learners x 12 concepts in {time.perf_counter() - started:.1f} s")

        # the nightly snapshot of this course, as one workflow step runs it
        snap_cpu = []
        for _ in range(run.pick(3, 2)):
            settle()
            c0 = time.process_time()
            await service.compute_and_store(host.env, scope, "course-1", int(host.clock.now() * 1000))
            snap_cpu.append((time.process_time() - c0) * 1e3)
        out.append((f"insights_snapshot_cpu_ms_{n}", median(snap_cpu)))

        token = mint_session_token(host.env, tenant_id=tenant, lti_user_id="teacher-1", context_id="course-1",
                                   roles=[INSTRUCTOR])
        timing = {"cpu": 0.0, "on": False}
        trips = {"n": 0}
        real = host.env.D1_PRIMARY

        class Counted:
            def __init__(self, stmt):
                self.stmt = stmt

            def bind(self, *values):
                return Counted(self.stmt.bind(*values))

            def __getattr__(self, name):
                if name in ("all", "run", "first", "raw"):
                    trips["n"] += 1
                return getattr(self.stmt, name)

        class CountingD1:
            def prepare(self, sql):
                return Counted(real.prepare(sql))

            async def batch(self, statements):
                trips["n"] += 1
                return await real.batch([s.stmt for s in statements])

        async def timed_app(scope_, receive, send):
            if not timing["on"]:
                await host(scope_, receive, send)
                return
            c0 = time.process_time()
            await host(scope_, receive, send)
            timing["cpu"] = time.process_time() - c0

        host.env.D1_PRIMARY = CountingD1()
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=timed_app), base_url="http://bench",
                                         timeout=120) as client:
                async def view() -> tuple[float, int]:
                    timing["on"] = True
                    before = trips["n"]
                    try:
                        r = await client.get("/app/courses/course-1/overview", params={"ltik": token})
                    finally:
                        timing["on"] = False
                    if r.status_code != 200:
                        raise RuntimeError(f"overview failed: HTTP {r.status_code}: {r.text[:300]}")
                    return timing["cpu"] * 1e3, trips["n"] - before

                for _ in range(3):
                    await view()
                p50, p99, round_trips = [], [], []
                for _ in range(reps):
                    settle()
                    cpu = []
                    for _ in range(per_rep):
                        c, t = await view()
                        cpu.append(c)
                        round_trips.append(t)
                    p50.append(percentile(cpu, 50))
                    p99.append(percentile(cpu, 99))
        finally:
            host.env.D1_PRIMARY = real
            await host.aclose()
        p50s[n] = median(p50)
        out += [(f"insights_overview_cpu_p50_ms_{n}", p50s[n]), (f"insights_overview_cpu_p99_ms_{n}", median(p99)),
                (f"insights_overview_d1_round_trips_{n}", median(round_trips)),
                (f"insights_overview_budget_ratio_at_10x_{n}", median(p99) * PYODIDE_SLOWDOWN / cpu_cap)]
    largest = max(sizes)
    out += [("insights_class_size_ratio", largest / sizes[0]),
            ("insights_overview_growth_ratio", p50s[largest] / p50s[sizes[0]]),
            ("insights_snapshot_growth_ratio",
             dict(out)[f"insights_snapshot_cpu_ms_{largest}"] / dict(out)[f"insights_snapshot_cpu_ms_{sizes[0]}"])]
    return out
