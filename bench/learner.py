"""learner: the learner model's cost. CPU per answer update (the pure functions the Worker
runs for one answer: learner.model.update + learner.memory.review), CPU per
POST /api/responses through the app, and `scripts/learner-model eval` throughput against
pyBKT's fit+evaluate on the same files.

Per-answer CPU: time.process_time_ns() around model.update + memory.review on states that
have seen 0..40 answers (a learner-concept state and ability from a replay of the shipped
ASSISTments file, or synthetic answers without it); p50/p99 over repetitions.

POST /api/responses: in-process ASGI (httpx.ASGITransport over devhost LocalHost) with
process_time() around the app call only (the httpx client side is outside); a tenant with
a 3-concept graph, learners with a launch session, answers spread over concepts. Every
statement runs on the local D1 binding (sqlite in this process), so its CPU is counted:
conservative. D1 round trips per answer are counted with a recording binding.
  *_budget_ratio_at_10x = p99 CPU ms x 10 (a conservative CPython -> Pyodide slowdown)
  / limits.cpu_ms (50 ms): < 1 is inside the cap.

Eval throughput: rows (train + test) per second of wall time for the whole `eval` (EM fit
with restarts, Elo tuning, online prediction through src/learner/model.py) against
pyBKT's standard BKT Model.fit + Model.evaluate on the same split (pure-Python pyBKT here:
no C++ build). Full run: the shipped 407,967-row file split by learner (80/20); --quick:
its first 20,000 rows. Without pyBKT the baseline is a plain Python per-row BKT loop."""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path

from bench import BenchRun, group
from bench.stats import median, percentile, ratio, settle

PYODIDE_SLOWDOWN = 10
DEFAULT_CPU_MS = 50


def _data_file(root: Path) -> Path | None:
    for base in (root.parent, root.parent.parent):
        p = base / "shared" / "data" / "assistments2009" / "builder_train.csv"
        if p.exists():
            return p
    return None


def update_cpu(run: BenchRun) -> list[tuple[str, float]]:
    from learner import memory as mem
    from learner import model as lm

    reps = run.pick(7, 3)
    n = run.pick(4000, 800)
    bkt = lm.BKTParams(p_init=0.4, p_transit=0.12, p_slip=0.1, p_guess=0.2, p_forget=0.02)
    params = lm.ModelParams()
    # Work items: (state, memory, ability, response, now) with 0..40 earlier answers.
    import random

    rng = random.Random(5)
    items = []
    t0 = mem.from_epoch_ms(1_767_225_600_000)
    for i in range(200):
        state, memory, ability = lm.new_state(bkt), mem.Memory(), lm.Ability()
        for k in range(i % 41):
            out = lm.update(state, lm.Response(float(rng.random() < 0.7)), ability, 0.0, 100, bkt, params)
            memory = mem.review(memory, mem.rating_for(out.state.recent), t0)
            ability = ability.plus(state, out.state)
            state = out.state
        items.append((state, memory, ability, lm.Response(float(rng.random() < 0.7), 20.0, rng.randrange(2), 40.0)))
    cpu = time.process_time_ns
    p50, p99 = [], []
    for _ in range(reps):
        lat = []
        settle()
        for j in range(n):
            state, memory, ability, response = items[j % len(items)]
            started = cpu()
            out = lm.update(state, response, ability, 0.1, 500, bkt, params)
            mem.review(memory, mem.rating_for(lm.evidence_credit(response), response.hints), t0)
            lat.append((cpu() - started) / 1e3)
            if out.state.attempts < state.attempts:
                raise RuntimeError("update lost an attempt")
        p50.append(percentile(lat, 50))
        p99.append(percentile(lat, 99))
    run.log(f"learner update: {reps} reps of {n} updates")
    return [("learner_update_cpu_p50_us", median(p50)), ("learner_update_cpu_p99_us", median(p99)),
            ("learner_update_cpu_budget_ratio_at_10x", median(p99) * 1e-3 * PYODIDE_SLOWDOWN / DEFAULT_CPU_MS)]


async def responses_cpu(run: BenchRun) -> list[tuple[str, float]]:
    import httpx

    from auth.session import mint_session_token
    from bench.fixture import TENANT_ID, make_host, quiet_data_layer_log
    from db import profiles
    from db.database import Database
    from db.system import insert_tenant, system_scope
    from resilience.gateway import reset as gateway_reset

    reps = run.pick(5, 3)
    per_rep = run.pick(150, 40)
    learners = run.pick(30, 10)
    gateway_reset()
    quiet_data_layer_log()
    host = make_host(run.tmpdir("learner-state"))
    await host.start()
    cpu_cap = getattr(host.config, "cpu_ms", None) or DEFAULT_CPU_MS
    db = Database(host.env)
    await db.run(insert_tenant(TENANT_ID, "Bench University", "D1_PRIMARY"))
    scope = system_scope({"id": TENANT_ID, "d1_binding": "D1_PRIMARY"}, "bench")
    concepts = ["b-counting", "b-addition", "b-multiplication"]
    questions = []
    for i, c in enumerate(concepts):
        await db.run(scope.insert("knowledge_graph", {"concept_id": c, "concept_name": c,
                                                      "dependencies": f'["{concepts[i - 1]}"]' if i else "[]",
                                                      "course_contexts": '["course-1"]'}))
        await db.run(scope.insert("concept_parameters", {"concept_id": c, "p_init": 0.3, "p_transit": 0.1,
                                                         "p_slip": 0.1, "p_guess": 0.2}))
        qid = str(uuid.UUID(int=i + 1))
        await db.run(scope.insert("questions", {"id": qid, "question_text": "q", "question_type": "clarifying",
                                                "subject": "math", "topic": "t", "concept": c,
                                                "difficulty_level": 5}))
        questions.append(qid)
    tokens = []
    for i in range(learners):
        profile = await profiles.ensure(db, scope, f"bench-learner-{i}")
        await db.run(scope.insert("learning_sessions", {"id": profiles.new_id(), "learner_id": profile["id"],
                                                        "course_context": "course-1"}))
        tokens.append(mint_session_token(host.env, tenant_id=TENANT_ID, lti_user_id=f"bench-learner-{i}",
                                         context_id="course-1", roles=[
                                             "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]))

    timing = {"cpu": 0.0, "on": False}
    trips = {"n": 0}
    real = host.env.D1_PRIMARY

    class Counted:
        """A prepared statement that counts a round trip when it runs on its own."""

        def __init__(self, stmt):
            self.stmt = stmt

        def bind(self, *values):
            return Counted(self.stmt.bind(*values))

        def __getattr__(self, name):
            attr = getattr(self.stmt, name)
            if name in ("all", "run", "first", "raw"):
                trips["n"] += 1
            return attr

    class CountingD1:
        def prepare(self, sql):
            return Counted(real.prepare(sql))

        async def batch(self, statements):
            trips["n"] += 1  # one round trip for the whole batch
            return await real.batch([s.stmt for s in statements])

    host.env.D1_PRIMARY = CountingD1()

    async def timed_app(scope_, receive, send):
        if not timing["on"]:
            await host(scope_, receive, send)
            return
        cpu0 = time.process_time()
        await host(scope_, receive, send)
        timing["cpu"] = time.process_time() - cpu0

    counter = {"i": 0}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=timed_app), base_url="http://bench") as client:
            async def one(timed: bool) -> tuple[float, int]:
                i = counter["i"]
                counter["i"] += 1
                headers = {"Authorization": f"Bearer {tokens[i % learners]}", "Idempotency-Key": secrets.token_hex(8)}
                body = {"question_id": questions[(i // learners) % 3], "correct": (i * 7) % 10 < 7,
                        "response_time_ms": 15000}
                timing["on"] = timed
                before = trips["n"]
                try:
                    r = await client.post("/api/responses", json=body, headers=headers)
                finally:
                    timing["on"] = False
                if r.status_code != 201:
                    raise RuntimeError(f"answer failed: HTTP {r.status_code}: {r.text[:300]}")
                return timing["cpu"], trips["n"] - before

            for _ in range(learners * 2):
                await one(False)
            cpu50, cpu99, round_trips = [], [], []
            for _ in range(reps):
                cpu = []
                settle()
                for _ in range(per_rep):
                    c, n = await one(True)
                    cpu.append(c * 1e3)
                    round_trips.append(n)
                cpu50.append(percentile(cpu, 50))
                cpu99.append(percentile(cpu, 99))
    finally:
        host.env.D1_PRIMARY = real
        await host.aclose()
    run.log(f"POST /api/responses: {reps} reps of {per_rep} answers by {learners} learners; cpu cap {cpu_cap} ms")
    p99 = median(cpu99)
    return [("responses_cpu_p50_ms", median(cpu50)), ("responses_cpu_p99_ms", p99),
            ("responses_d1_round_trips", median(round_trips)),
            ("responses_cpu_budget_ratio_at_10x", p99 * PYODIDE_SLOWDOWN / cpu_cap)]


def eval_throughput(run: BenchRun) -> list[tuple[str, float]]:
    from tools.learner_model import data, report

    source = _data_file(run.root)
    if source is None:
        run.log("learner eval: the shipped ASSISTments file is not beside the repo; skipped")
        return []
    rows = data.read_rows(source, limit=run.pick(None, 20_000))
    train_path, test_path = run.tmpdir("learner-eval") / "train.csv", run.tmpdir("learner-eval") / "test.csv"
    subset = run.tmpdir("learner-eval") / "all.csv"
    with subset.open("w") as f:
        f.write("user_id,skill_name,correct\n")
        for r in rows:
            f.write(f"{r.learner},{r.concept},{int(r.credit)}\n")
    report.split_file(str(subset), str(train_path), str(test_path), 0.2)
    train, test = data.read_rows(train_path), data.read_rows(test_path)
    total = len(train) + len(test)
    started = time.perf_counter()
    lines = dict(report.evaluate(train, test, log=run.log))
    ours = total / (time.perf_counter() - started)
    out = [("learner_eval_rows", total), ("learner_eval_rows_per_s", ours), ("learner_eval_auc", float(lines["auc"]))]
    try:
        import pyBKT  # noqa: F401
    except ImportError:
        base, name = _plain_python_loop(train, test), "plain_python_bkt"
    else:
        started = time.perf_counter()
        ref = report.pybkt_reference(train, test, run.log)
        base, name = total / (time.perf_counter() - started), "pybkt"
        out.append(("pybkt_eval_auc", ref["auc"]))
    out += [(f"{name}_fit_eval_rows_per_s", base), (f"learner_eval_vs_{name}_ratio", ratio(ours, base))]
    return out


def _plain_python_loop(train, test) -> float:
    """Rows/s of the simplest per-row BKT predict-and-update loop with fixed parameters."""
    started = time.perf_counter()
    state: dict = {}
    for r in [*train, *test]:
        p = state.get((r.learner, r.concept), 0.3)
        pc = p * 0.9 + (1 - p) * 0.2
        post = p * 0.9 / pc if r.credit >= 0.5 else p * 0.1 / (1 - pc)
        state[(r.learner, r.concept)] = post + (1 - post) * 0.1
    return (len(train) + len(test)) / (time.perf_counter() - started)


@group("learner")
async def learner(run: BenchRun) -> list[tuple[str, float]]:
    out = update_cpu(run)
    out += await responses_cpu(run)
    out += eval_throughput(run)
    return out
