"""profile: learner-profile operations through the data layer (db.profiles with a
db.database.Database over the local host's env and a db.system.system_scope) against the
very same SQL on a raw sqlite3 connection to a copy of the same D1 file.

  create  profiles.ensure for a new LTI user: SELECT (miss), INSERT, SELECT
  get     profiles.get_by_user for an existing user: one SELECT
  update  profiles.update (optimistic, UPDATE ... RETURNING *)

The sqlite3 side runs the statements the scope builds (same text, same parameters,
built before the clock starts), so the ratio is everything the data layer adds: building
and checking statements, the binding, timing, error mapping, JSON decoding. Latencies
are per call; p50/p99 per repetition, median over repetitions, sides interleaved.
Database's slow-query alerts (> SLOW_QUERY_MS) stay on, as in production."""

from __future__ import annotations

import json
import random
import time

from bench import BenchRun, group
from bench.fixture import PRIMARY, new_uuid, raw_copy, seeded_host
from bench.stats import median, percentile, ratio, settle

OPS = ("create", "get", "update")


@group("profile")
async def profile(run: BenchRun) -> list[tuple[str, float]]:
    from db import profiles
    from db.database import Database, QueryTimings
    from db.system import system_scope

    reps = run.pick(7, 3)
    per_rep = run.pick({"create": 200, "get": 800, "update": 300}, {"create": 60, "get": 200, "update": 80})
    warm = run.pick({"create": 40, "get": 200, "update": 40}, {"create": 10, "get": 50, "update": 10})

    seeded = await seeded_host(run.tmpdir("profile-state"), rows=1000)
    raw = raw_copy(seeded.db_path, run.tmpdir("profile-raw") / "copy.sqlite")
    timings = QueryTimings()
    db = Database(seeded.host.env, timings=timings)
    scope = system_scope({"id": seeded.tenant_id, "d1_binding": PRIMARY}, "bench")
    rng = random.Random(11)
    users = [uid for _, uid in seeded.profiles]
    rng.shuffle(users)
    ids = [pid for pid, _ in seeded.profiles]
    rng.shuffle(ids)
    versions = {"layer": dict.fromkeys(ids, 1), "raw": dict.fromkeys(ids, 1)}
    cursor = {"create": 0, "get": 0, "update": 0}
    clock = time.perf_counter

    def take(op: str, n: int, pool: list) -> list:
        start = cursor[op]
        cursor[op] += n
        return [pool[(start + i) % len(pool)] for i in range(n)]

    def new_users(n: int) -> list[str]:
        start = cursor["create"]
        cursor["create"] += n
        return [f"bench-user-{start + i:07d}" for i in range(n)]

    def change(i: int) -> dict:
        return {"cognitive_profile": {"pace": i % 5, "style": "visual", "confidence": round(i * 0.37 % 1, 3)}}

    # -- the data layer -------------------------------------------------------------

    async def layer(op: str, n: int) -> list[float]:
        out = []
        if op == "create":
            work = new_users(n)
        elif op == "get":
            work = take("get", n, users)
        else:
            work = take("update", n, ids)
        settle()
        for i, item in enumerate(work):
            if op == "create":
                started = clock()
                row = await profiles.ensure(db, scope, item)
            elif op == "get":
                started = clock()
                row = await profiles.get_by_user(db, scope, item)
            else:
                v = versions["layer"][item]
                c = change(i)
                started = clock()
                row = await profiles.update(db, scope, item, v, c)
                versions["layer"][item] = v + 1
            out.append(clock() - started)
            if row is None:
                raise RuntimeError(f"data layer {op} returned nothing for {item}")
        return out

    # -- the same statements on raw sqlite3 --------------------------------------------

    def raw_ops(op: str, n: int) -> list[float]:
        batches = []  # per call: [(sql, params, fetch)]
        if op == "create":
            for uid in new_users(n):
                sel = scope.select("learner_profiles", {"lti_user_id": uid}, name="profile.get_by_user")
                ins = scope.insert("learner_profiles", {"id": new_uuid(rng), "lti_user_id": uid},
                                   name="profile.create")
                batches.append([(sel.sql, sel.params, True), (ins.sql, ins.params, False), (sel.sql, sel.params, True)])
        elif op == "get":
            for uid in take("get", n, users):
                sel = scope.select("learner_profiles", {"lti_user_id": uid}, name="profile.get_by_user")
                batches.append([(sel.sql, sel.params, True)])
        else:
            for i, pid in enumerate(take("update", n, ids)):
                v = versions["raw"][pid]
                values = {k: json.dumps(x, separators=(",", ":")) for k, x in change(i).items()}
                values["version"] = v + 1
                values["updated_at"] = profiles.now_iso()
                upd = scope.update("learner_profiles", values, {"id": pid, "version": v},
                                   name="profile.update", returning=True)
                versions["raw"][pid] = v + 1
                batches.append([(upd.sql, upd.params, True)])
        out = []
        execute = raw.execute
        settle()
        for stmts in batches:
            started = clock()
            rows = None
            for sql, params, fetch in stmts:
                cur = execute(sql, params)
                if fetch:
                    rows = cur.fetchall()
            out.append(clock() - started)
            if not rows:
                raise RuntimeError(f"sqlite3 {op} returned nothing")
        return out

    async def side(name: str, op: str, n: int) -> list[float]:
        return await layer(op, n) if name == "layer" else raw_ops(op, n)

    p50: dict[tuple[str, str], list[float]] = {}
    p99: dict[tuple[str, str], list[float]] = {}
    try:
        for op in OPS:
            for name in ("layer", "raw"):
                await side(name, op, warm[op])
        for rep in range(reps):
            for op in OPS:
                for name in ("layer", "raw") if rep % 2 == 0 else ("raw", "layer"):
                    lat = await side(name, op, per_rep[op])
                    p50.setdefault((name, op), []).append(percentile(lat, 50) * 1e6)
                    p99.setdefault((name, op), []).append(percentile(lat, 99) * 1e6)
        slow = sum(int(s["slow"]) for s in timings.by_name.values())
        run.log(f"profile: {reps} reps of {per_rep} calls per side; data-layer slow-query alerts: {slow} "
                f"(threshold {db.slow_query_ms:g} ms)")
    finally:
        raw.close()
        await seeded.host.aclose()

    out: list[tuple[str, float]] = []
    for op in OPS:
        layer_p50, raw_p50 = median(p50[("layer", op)]), median(p50[("raw", op)])
        out += [
            (f"profile_{op}_p50_us", layer_p50),
            (f"profile_{op}_p99_us", median(p99[("layer", op)])),
            (f"sqlite3_profile_{op}_p50_us", raw_p50),
            (f"sqlite3_profile_{op}_p99_us", median(p99[("raw", op)])),
            (f"profile_{op}_vs_sqlite3_ratio", ratio(layer_p50, raw_p50)),
        ]
    return out
