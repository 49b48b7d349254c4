"""d1: cost of one statement through the local D1 binding
(`await db.prepare(sql).bind(...).first()` / `.run()`) against the same statement on a
raw sqlite3 connection to a copy of the same file (same pragmas as the binding's).

Table: learner_profiles with ~1000 seeded rows of one tenant. SELECT by primary key
(keys in a fixed shuffled order, the same for both sides) and INSERT of a new profile
(autocommit: one transaction, and its fsyncs, per statement on both sides). A figure is
the mean per statement over a batch; the printed value is the median over repetitions,
binding and sqlite3 batches interleaved."""

from __future__ import annotations

import random
import time

from bench import BenchRun, group
from bench.fixture import PRIMARY, new_uuid, raw_copy, seeded_host
from bench.stats import median, ratio, settle

SELECT = "SELECT * FROM learner_profiles WHERE id = ?"
INSERT = "INSERT INTO learner_profiles (id, tenant_id, lti_user_id, cognitive_profile) VALUES (?, ?, ?, ?)"


@group("d1")
async def d1(run: BenchRun) -> list[tuple[str, float]]:
    reps = run.pick(9, 5)
    n_select = run.pick(5000, 1500)
    n_insert = run.pick(300, 80)
    warm_select, warm_insert = run.pick((1000, 50), (200, 20))

    seeded = await seeded_host(run.tmpdir("d1-state"), rows=1000)
    binding = getattr(seeded.host.env, PRIMARY)
    raw = raw_copy(seeded.db_path, run.tmpdir("d1-raw") / "copy.sqlite")
    rng = random.Random(7)
    keys = [pid for pid, _ in seeded.profiles]
    rng.shuffle(keys)
    tenant = seeded.tenant_id
    serial = 0
    clock = time.perf_counter

    def insert_params(n: int, side: str) -> list[tuple]:
        nonlocal serial
        out = []
        for _ in range(n):
            serial += 1
            out.append((new_uuid(rng), tenant, f"bench-{side}-{serial:07d}", '{"pace":2}'))
        return out

    async def binding_select(n: int) -> float:
        settle()
        started = clock()
        for i in range(n):
            row = await binding.prepare(SELECT).bind(keys[i % len(keys)]).first()
        elapsed = clock() - started
        assert row is not None
        return elapsed / n * 1e6

    def raw_select(n: int) -> float:
        settle()
        started = clock()
        for i in range(n):
            row = raw.execute(SELECT, (keys[i % len(keys)],)).fetchone()
        elapsed = clock() - started
        assert row is not None
        return elapsed / n * 1e6

    async def binding_insert(n: int) -> float:
        params = insert_params(n, "binding")
        settle()
        started = clock()
        for p in params:
            await binding.prepare(INSERT).bind(*p).run()
        return (clock() - started) / n * 1e6

    def raw_insert(n: int) -> float:
        params = insert_params(n, "raw")
        settle()
        started = clock()
        for p in params:
            raw.execute(INSERT, p)
        return (clock() - started) / n * 1e6

    async def call(fn, n):
        out = fn(n)
        return await out if hasattr(out, "__await__") else out

    try:
        for fn, n in ((binding_select, warm_select), (raw_select, warm_select),
                      (binding_insert, warm_insert), (raw_insert, warm_insert)):
            await call(fn, n)
        samples: dict[str, list[float]] = {k: [] for k in ("b_sel", "r_sel", "b_ins", "r_ins")}
        pairs = [(("b_sel", binding_select), ("r_sel", raw_select), n_select),
                 (("b_ins", binding_insert), ("r_ins", raw_insert), n_insert)]
        for rep in range(reps):
            for first, second, n in pairs:
                for key, fn in (first, second) if rep % 2 == 0 else (second, first):
                    samples[key].append(await call(fn, n))
        run.log(f"d1: {reps} reps of {n_select} selects and {n_insert} inserts per side, "
                f"table of {len(keys)}+ rows")
    finally:
        raw.close()
        await seeded.host.aclose()

    b_sel, r_sel = median(samples["b_sel"]), median(samples["r_sel"])
    b_ins, r_ins = median(samples["b_ins"]), median(samples["r_ins"])
    return [
        ("d1_binding_select_us", b_sel),
        ("sqlite3_select_us", r_sel),
        ("d1_binding_overhead_ratio", ratio(b_sel, r_sel)),
        ("d1_binding_insert_us", b_ins),
        ("sqlite3_insert_us", r_ins),
        ("d1_binding_insert_overhead_ratio", ratio(b_ins, r_ins)),
    ]

