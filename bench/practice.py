"""practice: the cost of practice activities.

Selection: practice.selection.choose over 5,000 items on 50 concepts, with the concepts'
statuses (predicted success, due, readiness) computed from a learner state built by
replaying 10,000 responses through learner.model; CPU per choice (status building
included), p50/p99. Baseline in the same run: the naive choice (every item's predicted
success computed and all 5,000 sorted by distance to the target).

Answer check: practice.answers.check_fill_blank on a mix of responses (exact, another
writing of a number, a typo, a misconception, wrong) with misconceptions and typo
tolerance; CPU per check, p50/p99. Baseline: a plain casefolded string equality.

Round trip: POST /api/activities/{id}/answers through the app (in-process ASGI over
devhost LocalHost, process_time() around the app call only; local D1 is sqlite in this
process, so its CPU is counted: conservative), on a tenant whose bank holds 5,000 items and
whose activity has 10,000 earlier answers in D1; CPU and wall p50/p99, D1 round trips per
answer, and GET /api/activities/{id}/next the same way. Baseline: POST /api/responses (the
learner model's own answer route) on the same host, same run.
  *_budget_ratio_at_10x = p99 CPU ms x 10 (a conservative CPython -> Pyodide slowdown) /
  limits.cpu_ms (50 ms): < 1 is inside the cap."""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import time
import uuid

from bench import BenchRun, group
from bench.stats import median, percentile, ratio, settle

PYODIDE_SLOWDOWN = 10
DEFAULT_CPU_MS = 50
ITEMS = 5000
RESPONSES = 10_000
CONCEPTS = 50


def _learner_statuses(rng: random.Random, responses: int):
    """ConceptStatus per concept from `responses` answers replayed through the model."""
    from datetime import timedelta

    from learner import memory as mem
    from learner import model as lm
    from practice.selection import ConceptStatus

    bkt = lm.BKTParams()
    params = lm.ModelParams()
    states = {f"c{k}": lm.new_state(bkt) for k in range(CONCEPTS)}
    memories = {c: mem.Memory() for c in states}
    ability = lm.Ability()
    t = mem.from_epoch_ms(1_767_225_600_000)
    for n in range(responses):
        c = f"c{rng.randrange(CONCEPTS)}"
        out = lm.update(states[c], lm.Response(float(rng.random() < 0.7), 20.0), ability, 0.0, 100, bkt, params)
        ability = ability.plus(states[c], out.state)
        states[c] = out.state
        if n % 25 == 0:
            memories[c] = mem.review(memories[c], mem.rating_for(out.state.recent), t)
            t += timedelta(hours=3)
    return states, memories, ability, bkt, params, t


def selection_cpu(run: BenchRun) -> list[tuple[str, float]]:
    from learner import graph as kg
    from learner import memory as mem
    from learner import model as lm
    from practice.selection import TARGET, Candidate, ConceptStatus, choose, item_success

    rng = random.Random(10)
    states, memories, ability, bkt, params, now = _learner_statuses(rng, RESPONSES)
    graph = {c: kg.Concept(c, c, (f"c{int(c[1:]) - 1}",) if int(c[1:]) % 5 else ()) for c in states}
    items = [Candidate(f"item-{k:05d}", f"c{rng.randrange(CONCEPTS)}", rng.randint(1, 10)) for k in range(ITEMS)]
    recent = [items[rng.randrange(ITEMS)].item_id for _ in range(5)]

    def statuses():
        mastered = {c for c, s in states.items() if s.mastered}
        out = {}
        for c, s in states.items():
            p = lm.predict(s, ability, 0.0, bkt, params.weights).p_correct
            out[c] = ConceptStatus(c, p, s.mastered, mem.is_due(memories[c], s.mastered, now),
                                   mem.recall_probability(memories[c], now), kg.readiness(c, graph, mastered).missing,
                                   s.attempts, s.p_known)
        return out

    def naive(st):
        means = {}
        for i in items:
            means.setdefault(i.concept, []).append(i.difficulty)
        scored = sorted(items, key=lambda i: abs(item_success(st[i.concept].p_correct, i.difficulty,
                                                              sum(means[i.concept]) / len(means[i.concept])) - TARGET))
        return next(i for i in scored if i.item_id not in recent)

    reps, n = run.pick(5, 3), run.pick(60, 20)
    cpu = time.process_time_ns
    ours50, ours99, base50 = [], [], []
    for _ in range(reps):
        settle()
        lat, base = [], []
        for k in range(n):
            t0 = cpu()
            choose(items, statuses(), recent, salt=k)
            lat.append((cpu() - t0) / 1e3)
            t0 = cpu()
            naive(statuses())
            base.append((cpu() - t0) / 1e3)
        ours50.append(percentile(lat, 50))
        ours99.append(percentile(lat, 99))
        base50.append(percentile(base, 50))
    run.log(f"selection: {reps} reps of {n} choices over {ITEMS} items, {CONCEPTS} concepts, state from "
            f"{RESPONSES} responses")
    return [("practice_selection_5000_items_cpu_p50_us", median(ours50)),
            ("practice_selection_5000_items_cpu_p99_us", median(ours99)),
            ("practice_selection_naive_sort_cpu_p50_us", median(base50)),
            ("practice_selection_vs_naive_sort_ratio", ratio(median(ours50), median(base50)))]


def check_cpu(run: BenchRun) -> list[tuple[str, float]]:
    from practice.answers import Misconception, check_fill_blank

    cases = [("Photosynthesis", ["photosynthesis"]), ("photosynthsis", ["photosynthesis"]),
             ("½", ["0.5", "1/2"]), ("respiration", ["photosynthesis"]), ("the mitochondria.", ["mitochondria"]),
             ("chloroplast", ["chlorophyll", "chlorophyl"]), ("1 1/2", ["1.5"]), ("banana", ["photosynthesis"])]
    wrong = [Misconception("respiration", "Respiration releases energy."), Misconception("2", "That is the "
                                                                                              "denominator.")]
    reps, n = run.pick(7, 3), run.pick(20_000, 4000)
    cpu = time.process_time_ns
    ours50, ours99, base50 = [], [], []
    for _ in range(reps):
        settle()
        lat, base = [], []
        for k in range(n):
            response, accepted = cases[k % len(cases)]
            t0 = cpu()
            check_fill_blank(response, accepted, wrong, 1)
            lat.append((cpu() - t0) / 1e3)
            t0 = cpu()
            _ = response.strip().casefold() in [a.casefold() for a in accepted]
            base.append((cpu() - t0) / 1e3)
        ours50.append(percentile(lat, 50))
        ours99.append(percentile(lat, 99))
        base50.append(percentile(base, 50))
    run.log(f"answer check: {reps} reps of {n} checks over {len(cases)} kinds of response")
    return [("practice_answer_check_cpu_p50_us", median(ours50)),
            ("practice_answer_check_cpu_p99_us", median(ours99)),
            ("practice_answer_check_vs_plain_equality_ratio", ratio(median(ours50), median(base50)))]


def _seed(host, tenant_id: str, activity_id: str, learners: list[tuple[str, str]], rng: random.Random) -> list[str]:
    """5,000 items on 50 concepts and 10,000 earlier answers in the activity, written
    straight into the local D1 file (setup, not timed). Returns the item ids."""
    path = host.d1["D1_PRIMARY"].path
    conn = sqlite3.connect(path)
    items = []
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        with conn:
            rows = []
            for k in range(ITEMS):
                qid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                c = f"bp-c{k % CONCEPTS}"
                rows.append((qid, tenant_id, f"Item {k}: the answer is ___.", "clarifying", "general", "general", c,
                             rng.randint(1, 10), "fill_blank", json.dumps({"answers": [f"a{k}"]}), json.dumps([c]),
                             json.dumps([{"level": 1, "text": "A hint."}]), 1, 1))
                items.append(qid)
            conn.executemany(
                "INSERT INTO questions (id, tenant_id, question_text, question_type, subject, topic, concept, "
                "difficulty_level, item_format, answer_key, concepts, hints, is_active, is_validated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            sessions = {}
            for learner_id, _user in learners:
                sid = str(uuid.uuid4())
                sessions[learner_id] = sid
                conn.execute("INSERT INTO learning_sessions (id, tenant_id, learner_id, course_context, course_role) "
                             "VALUES (?, ?, ?, 'course-1', 'learner')", (sid, tenant_id, learner_id))
            responses = []
            for k in range(RESPONSES):
                learner_id, _user = learners[k % len(learners)]
                q = items[rng.randrange(ITEMS)]
                responses.append((str(uuid.uuid4()), tenant_id, learner_id, sessions[learner_id], q, "x", 20.0,
                                  rng.random() < 0.7, f"bp-c{rng.randrange(CONCEPTS)}", activity_id, f"seed-{k}"))
            conn.executemany(
                "INSERT INTO question_responses (id, tenant_id, learner_id, session_id, question_id, response_text, "
                "response_time_seconds, is_correct, concept, activity_id, idempotency_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", responses)
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return items


async def round_trip(run: BenchRun) -> list[tuple[str, float]]:
    import httpx

    from auth.session import mint_session_token
    from bench.fixture import TENANT_ID, make_host, quiet_data_layer_log
    from db import profiles
    from db.database import Database
    from db.system import insert_tenant, system_scope
    from learner import graph as kg
    from learner import service as learner
    from practice import service as practice
    from resilience.gateway import reset as gateway_reset

    reps, per_rep, n_learners = run.pick(5, 3), run.pick(60, 20), run.pick(20, 8)
    gateway_reset()
    quiet_data_layer_log()
    host = make_host(run.tmpdir("practice-state"))
    await host.start()
    cpu_cap = getattr(host.config, "cpu_ms", None) or DEFAULT_CPU_MS
    db = Database(host.env)
    await db.run(insert_tenant(TENANT_ID, "Bench University", "D1_PRIMARY"))
    scope = system_scope({"id": TENANT_ID, "d1_binding": "D1_PRIMARY"}, "bench")
    concept_ids = [f"bp-c{k}" for k in range(CONCEPTS)]
    plan = await learner.import_graph(db, scope, [kg.Concept(c, f"Concept {c}", (concept_ids[k - 1],) if k % 5 else (),
                                                             ("course-1",)) for k, c in enumerate(concept_ids)])
    assert not plan.problems
    row = await practice.create_activity(db, scope, "course-1", "bench", practice.ActivitySettings(
        "Bench", "fill_blank", tuple(concept_ids), graded=False))
    await db.run(scope.update("assessment_configs", {"resource_link_id": "rl-bench"}, {"id": row["id"]}))
    learners = []
    for i in range(n_learners):
        p = await profiles.ensure(db, scope, f"bench-learner-{i}")
        learners.append((p["id"], f"bench-learner-{i}"))
    rng = random.Random(11)
    items = _seed(host, TENANT_ID, row["id"], learners, rng)
    answers = {q: f"a{k}" for k, q in enumerate(items)}
    tokens = [mint_session_token(host.env, tenant_id=TENANT_ID, lti_user_id=u, context_id="course-1",
                                 roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
                                 resource_link_id="rl-bench") for _id, u in learners]

    timing = {"cpu": 0.0, "wall": 0.0, "on": False}
    trips = {"n": 0}
    real = host.env.D1_PRIMARY

    class Counted:
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
            trips["n"] += 1
            return await real.batch([s.stmt for s in statements])

    host.env.D1_PRIMARY = CountingD1()

    async def timed_app(scope_, receive, send):
        if not timing["on"]:
            await host(scope_, receive, send)
            return
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await host(scope_, receive, send)
        timing["cpu"], timing["wall"] = time.process_time() - cpu0, time.perf_counter() - wall0

    out: dict[str, list] = {k: [] for k in ("next_cpu50", "next_cpu99", "ans_cpu50", "ans_cpu99", "ans_wall50",
                                            "ans_wall99", "base_cpu50", "base_cpu99", "trips", "next_trips")}
    counter = {"i": 0}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=timed_app), base_url="http://bench") as client:
            async def once(timed: bool):
                i = counter["i"]
                counter["i"] += 1
                auth = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
                timing["on"] = timed
                before = trips["n"]
                r = await client.get(f"/api/activities/{row['id']}/next", headers=auth)
                next_cpu, next_trips = timing["cpu"], trips["n"] - before
                if r.status_code != 200 or r.json()["item"] is None:
                    raise RuntimeError(f"next failed: HTTP {r.status_code}: {r.text[:300]}")
                item = r.json()["item"]
                response = answers[item["item_id"]] if rng.random() < 0.7 else "wrong"
                before = trips["n"]
                r = await client.post(f"/api/activities/{row['id']}/answers", headers={
                    **auth, "Idempotency-Key": secrets.token_hex(8)}, json={"item_id": item["item_id"],
                                                                           "response": response})
                timing["on"] = False
                if r.status_code != 201:
                    raise RuntimeError(f"answer failed: HTTP {r.status_code}: {r.text[:300]}")
                return next_cpu, next_trips, timing["cpu"], timing["wall"], trips["n"] - before, item["item_id"]

            async def baseline(timed: bool, question_id: str):
                i = counter["i"]
                counter["i"] += 1
                timing["on"] = timed
                r = await client.post("/api/responses", headers={
                    "Authorization": f"Bearer {tokens[i % len(tokens)]}", "Idempotency-Key": secrets.token_hex(8)},
                    json={"question_id": question_id, "correct": rng.random() < 0.7, "response_time_ms": 15000})
                timing["on"] = False
                if r.status_code != 201:
                    raise RuntimeError(f"response failed: HTTP {r.status_code}: {r.text[:300]}")
                return timing["cpu"]

            last = items[0]
            for _ in range(n_learners * 2):
                last = (await once(False))[-1]
                await baseline(False, last)
            for _ in range(reps):
                settle()
                nxt, ans, wall, base = [], [], [], []
                for _ in range(per_rep):
                    nc, nt, ac, aw, at, last = await once(True)
                    nxt.append(nc * 1e3)
                    ans.append(ac * 1e3)
                    wall.append(aw * 1e3)
                    out["trips"].append(at)
                    out["next_trips"].append(nt)
                    base.append(await baseline(True, last) * 1e3)
                out["next_cpu50"].append(percentile(nxt, 50))
                out["next_cpu99"].append(percentile(nxt, 99))
                out["ans_cpu50"].append(percentile(ans, 50))
                out["ans_cpu99"].append(percentile(ans, 99))
                out["ans_wall50"].append(percentile(wall, 50))
                out["ans_wall99"].append(percentile(wall, 99))
                out["base_cpu50"].append(percentile(base, 50))
                out["base_cpu99"].append(percentile(base, 99))
    finally:
        host.env.D1_PRIMARY = real
        await host.aclose()
    run.log(f"round trip: {reps} reps of {per_rep} next+answer by {n_learners} learners; bank {ITEMS} items, "
            f"{RESPONSES} earlier answers; cpu cap {cpu_cap} ms")
    m = {k: median(v) for k, v in out.items()}
    return [("practice_next_item_cpu_p50_ms", m["next_cpu50"]), ("practice_next_item_cpu_p99_ms", m["next_cpu99"]),
            ("practice_next_item_d1_round_trips", m["next_trips"]),
            ("practice_answer_cpu_p50_ms", m["ans_cpu50"]), ("practice_answer_cpu_p99_ms", m["ans_cpu99"]),
            ("practice_answer_wall_p50_ms", m["ans_wall50"]), ("practice_answer_wall_p99_ms", m["ans_wall99"]),
            ("practice_answer_d1_round_trips", m["trips"]),
            ("practice_answer_vs_responses_route_cpu_ratio", ratio(m["ans_cpu50"], m["base_cpu50"])),
            ("practice_answer_cpu_budget_ratio_at_10x", m["ans_cpu99"] * PYODIDE_SLOWDOWN / cpu_cap),
            ("practice_next_item_cpu_budget_ratio_at_10x", m["next_cpu99"] * PYODIDE_SLOWDOWN / cpu_cap)]


@group("practice")
async def practice_group(run: BenchRun) -> list[tuple[str, float]]:
    out = selection_cpu(run)
    out += check_cpu(run)
    out += await round_trip(run)
    return out
