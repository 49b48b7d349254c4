"""struggle: the StruggleDetector Durable Object on the local host (stub, RPC copies,
input gate, SQLite storage, the pure decision), in-process, on a manual clock.

  signals     batches of 10 mixed signals through one object: signals/s, and the same
              rows inserted by raw sqlite3 into a file of the same kind, one transaction
              per batch (the ratio is what the object adds: its window, decision, outbox)
  cpu         process CPU per batch of 10 (p50/p99), and per pure decision over a full
              window (assess + choose), against limits.cpu_ms (50 ms); `_at_10x` applies the
              conservative CPython -> Pyodide slowdown factor bench/lti.py uses (< 1: inside)
  flush       flush of 100 queued events to D1 (one D1 batch per 50 rows, plus the
              tenant and concept reads): ms per 100 events, D1 round trips per 100, and
              the same INSERTs on a raw sqlite3 copy of the D1 file in one transaction

The object's limit of signals per minute is raised for the run (a tenant override)."""

from __future__ import annotations

import random
import sqlite3
import time

from bench import BenchRun, group
from bench.fixture import PRIMARY, dev_vars, new_uuid, quiet_data_layer_log
from bench.stats import median, percentile, ratio, settle

TENANT = "b0000000-0000-4000-8000-000000000002"
CPU_MS = 50.0


def _signals(rng: random.Random, now_ms: int, n: int = 10) -> list[dict]:
    out = []
    for _ in range(n):
        kind = rng.choice(("dwell", "dwell", "scroll", "revisit", "idle", "help_request"))
        s = {"type": kind, "t": now_ms}
        if kind == "dwell":
            s.update(target=f"s{rng.randrange(8)}", ms=rng.randrange(1000, 90_000))
        elif kind == "scroll":
            s.update(dy_px=rng.randrange(-4000, 4000), ms=rng.randrange(50, 2000))
        elif kind == "revisit":
            s.update(target=f"s{rng.randrange(8)}")
        elif kind == "idle":
            s.update(ms=rng.randrange(5000, 70_000))
        else:
            s.update(help="hint", target=f"q{rng.randrange(3)}", words=rng.randrange(0, 40))
        out.append(s)
    return out


def _seed_sessions(db_path, n: int, rng: random.Random) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db_path)
    pairs = [(new_uuid(rng), new_uuid(rng)) for _ in range(n)]
    conn.executemany("INSERT INTO learner_profiles (id, tenant_id, lti_user_id) VALUES (?, ?, ?)",
                     [(p, TENANT, f"bench-{i}") for i, (p, _) in enumerate(pairs)])
    conn.executemany("INSERT INTO learning_sessions (id, tenant_id, learner_id, course_context) VALUES (?, ?, ?, 'b')",
                     [(s, TENANT, p) for p, s in pairs])
    conn.commit()
    conn.close()
    return pairs


@group("struggle")
async def struggle(run: BenchRun) -> list[tuple[str, float]]:
    from db.database import Database
    from db.system import insert_tenant, system_scope
    from devhost.clock import ManualClock
    from devhost.host import LocalHost
    from struggle.config import from_overrides
    from struggle.interventions import choose
    from struggle.rules import Answer, Signal, assess

    quiet_data_layer_log()
    batches = run.pick(400, 80)
    reps = run.pick(5, 2)
    rng = random.Random(7)
    host = LocalHost(run.root, state_root=run.tmpdir("struggle-state"), dev_vars=dev_vars(), clock=ManualClock())
    host.migrate()
    await Database(host.env).run(insert_tenant(TENANT, "Bench University", PRIMARY))
    db_path = host.d1[PRIMARY].path
    pairs = _seed_sessions(db_path, 1 + reps + 1, rng)
    overrides = {"signals_per_minute": 100_000, "flush_events": 500, "flush_interval_s": 3600, "daily_cap": 0,
                 "event_repeat_s": 0}
    namespace = host.env.STRUGGLE_DETECTOR
    out: list[tuple[str, float]] = []
    try:
        # -- signals through one object --------------------------------------------------
        learner, session = pairs[0]
        identity = {"tenant_id": TENANT, "learning_session_id": session, "learner_id": learner}
        stub = namespace.getByName(f"{TENANT}:{session}")
        await stub.bind(identity, {"rules": overrides, "offers_today": 0})
        options = {"final": False, "analytics": True, "visible": True}
        now_ms = int(host.clock.now() * 1000)
        work = [_signals(rng, now_ms) for _ in range(batches + 50)]
        for b in work[:50]:  # warm-up: the window fills to its size, as in a long session
            await stub.record_signals(identity, b, options)
        settle()
        wall, cpu = [], []
        for b in work[50:]:
            w0, c0 = time.perf_counter(), time.process_time()
            await stub.record_signals(identity, b, options)
            cpu.append((time.process_time() - c0) * 1000)
            wall.append(time.perf_counter() - w0)
        per_batch_s = median(wall)
        out.append(("struggle_signals_per_s_one_object", 10 / per_batch_s))

        raw = sqlite3.connect(run.tmpdir("struggle-raw") / "object.sqlite", isolation_level=None)
        raw.execute("CREATE TABLE signal (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, t_ms INTEGER"
                    " NOT NULL, received_ms INTEGER NOT NULL, target TEXT, ms INTEGER NOT NULL, dy_px INTEGER NOT NULL,"
                    " help TEXT, words INTEGER NOT NULL)")
        settle()
        raw_wall = []
        for b in work[50:]:
            rows = [(s["type"], s["t"], now_ms, s.get("target"), s.get("ms", 0), s.get("dy_px", 0), s.get("help"),
                     s.get("words", 0)) for s in b]
            w0 = time.perf_counter()
            raw.execute("BEGIN")
            raw.executemany("INSERT INTO signal (kind, t_ms, received_ms, target, ms, dy_px, help, words)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            raw.execute("COMMIT")
            raw_wall.append(time.perf_counter() - w0)
        raw.close()
        out.append(("struggle_signals_per_s_raw_sqlite", 10 / median(raw_wall)))
        out.append(("struggle_object_vs_raw_sqlite_time_ratio", ratio(per_batch_s, median(raw_wall))))
        out.append(("struggle_batch10_cpu_p50_ms", percentile(cpu, 50)))
        out.append(("struggle_batch10_cpu_p99_ms", percentile(cpu, 99)))
        out.append(("struggle_batch10_cpu_p99_vs_limit_ratio", percentile(cpu, 99) / CPU_MS))
        out.append(("struggle_batch10_cpu_budget_ratio_at_10x", percentile(cpu, 99) * 10 / CPU_MS))

        # -- the pure decision over a full window -----------------------------------------
        rules = from_overrides(overrides)
        answers = [Answer(now_ms - i * 1000, f"c{i % 4}", float(rng.random() < 0.5), rng.uniform(2, 60), 30.0,
                          rng.randrange(2)) for i in range(200, 0, -1)]
        window = [Signal(s["type"], s["t"], now_ms, s.get("target"), s.get("ms", 0), s.get("dy_px", 0),
                         s.get("help"), s.get("words", 0)) for b in work[:50] for s in b]
        decision_cpu = []
        settle()
        for _ in range(run.pick(400, 100)):
            c0 = time.process_time()
            choose(assess(answers, window, now_ms, rules), [], now_ms, rules, offers_today=0)
            decision_cpu.append((time.process_time() - c0) * 1e6)
        out.append(("struggle_decision_cpu_p50_us", percentile(decision_cpu, 50)))
        out.append(("struggle_decision_cpu_p99_us", percentile(decision_cpu, 99)))

        # -- flushing 100 events to D1 ---------------------------------------------------------
        flush_ms, trips, raw_ms = [], [], []
        scope = system_scope({"id": TENANT, "d1_binding": PRIMARY}, "bench")
        for rep in range(reps):
            learner, session = pairs[1 + rep]
            identity = {"tenant_id": TENANT, "learning_session_id": session, "learner_id": learner}
            stub = namespace.getByName(f"{TENANT}:{session}")
            await stub.bind(identity, {"rules": overrides, "offers_today": 0})
            wrong = {"concept_id": "c1", "credit": 0.0, "response_time_s": 30.0, "hints_used": 1}
            answered = 0
            while (await stub.stats())["pending"] < 100:
                await stub.record_answer(identity, wrong, {"analytics": True, "visible": True})
                answered += 1
            pending = (await stub.stats())["pending"]
            calls = host.faults.calls.get(PRIMARY, 0)
            settle()
            w0 = time.perf_counter()
            result = await stub.flush_now()
            elapsed = time.perf_counter() - w0
            if result["pending"]:
                raise RuntimeError(f"flush left {result['pending']} rows")
            trips.append((host.faults.calls.get(PRIMARY, 0) - calls) * 100 / pending)
            flush_ms.append(elapsed * 1000 * 100 / pending)
            # the same inserts, raw: statements as the scope builds them, one transaction
            copy = run.tmpdir(f"struggle-flush-{rep}") / "d1.sqlite"
            src = sqlite3.connect(db_path)
            dst = sqlite3.connect(copy)
            src.backup(dst)
            src.close()
            rows = dst.execute("SELECT id, learner_id, session_id, event_type, severity, signals, detected_at"
                               " FROM struggle_events WHERE session_id = ?", (session,)).fetchall()
            dst.execute("DELETE FROM struggle_events WHERE session_id = ?", (session,))
            dst.commit()
            statements = [scope.insert_once("struggle_events", {
                "id": r[0], "learner_id": r[1], "session_id": r[2], "concept_id": None, "event_type": r[3],
                "severity": r[4], "signals": r[5], "detected_at": r[6]}) for r in rows]
            settle()
            w0 = time.perf_counter()
            dst.execute("BEGIN")
            for st in statements:
                dst.execute(st.sql, st.params)
            dst.execute("COMMIT")
            raw_ms.append((time.perf_counter() - w0) * 1000 * 100 / max(1, len(rows)))
            dst.close()
            run.log(f"struggle flush rep {rep}: {pending} rows after {answered} answers")
        out.append(("struggle_flush_100_events_ms", median(flush_ms)))
        out.append(("struggle_flush_100_events_d1_round_trips", median(trips)))
        out.append(("struggle_flush_100_events_raw_sqlite_ms", median(raw_ms)))
        out.append(("struggle_flush_vs_raw_sqlite_time_ratio", ratio(median(flush_ms), median(raw_ms))))
    finally:
        await host.aclose()
    return out

