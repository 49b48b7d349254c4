"""The StruggleDetector Durable Object on the local host: its state survives a restart
(the decision after it equals the one without), its flush to D1 is batched, timed by
alarms and idempotent (a replay after a crash between D1's commit and the outbox cleanup
duplicates nothing), and a D1 outage only delays it."""

import json

import httpx
import pytest

from auth.session import session_from_token
from devhost.bindings._common import Fault, HostCrashed
from devhost.clock import ManualClock
from struggle import service
from tests.conftest import make_host
from tests.struggle.conftest import add_learner, d1_rows, dwell, idle, settled


async def post(client, learner, signals, final=False):
    return await client.post("/api/signals", headers=learner.headers, json={"signals": signals, "final": final})


async def answer(host, learner, credit: float, concept: str = "c1", **extra):
    session = await session_from_token(host.env, learner.token)
    return await service.report_answer(host.env, session, {"concept_id": concept, "credit": credit,
                                                           "response_time_s": 30.0, **extra})


def client_for(host):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=host, raise_app_exceptions=False),
                             base_url="http://testserver")


def decision(result: dict) -> dict:
    """What a decision says, without the ids and times that differ between two runs."""
    offer = result["intervention"]
    return {"assessment": result["assessment"],
            "offer": None if offer is None else {k: offer[k] for k in ("kind", "reason", "why", "concept_id")}}


# -- eviction and restart -----------------------------------------------------------------------

async def test_the_decision_after_a_restart_equals_the_one_without(tmp_path):
    start = 1_790_000_000.0
    runs = {}
    for name, restart in (("continuous", False), ("restarted", True)):
        clock = ManualClock(start=start)
        host = await make_host(tmp_path / name, clock=clock)
        learner = await add_learner(host)
        seen = []
        async with client_for(host) as client:
            # first batch: two wrong answers, a long idle (an offer: the Guide chat), revisits
            seen.append(decision(await answer(host, learner, 0.0)))
            seen.append(decision(await answer(host, learner, 0.0)))
            r = await post(client, learner, [idle(learner, 200_000), {"type": "revisit", "t": learner.now_ms(),
                                                                      "target": "s1"}])
            seen.append(decision(r.json()))
            offer_id = r.json()["intervention"]["id"]
            await client.post(f"/api/interventions/{offer_id}/reaction", headers=learner.headers,
                              json={"outcome": "dismissed"})
        clock.advance(90)
        if restart:
            await host.aclose()  # the host stops; the object's memory is gone, its storage is not
            host = await make_host(tmp_path / name, clock=clock)
        async with client_for(host) as client:
            # second batch: only the stored window makes these decisions (a third error in a
            # row, a third revisit, the chat in its cool-down so the next remedy comes)
            r = await post(client, learner, [idle(learner, 200_000),
                                             {"type": "revisit", "t": learner.now_ms(), "target": "s1"},
                                             {"type": "revisit", "t": learner.now_ms(), "target": "s1"}])
            seen.append(decision(r.json()))
            clock.advance(90)
            seen.append(decision(await answer(host, learner, 0.0)))
        runs[name] = seen
        await host.aclose()
    assert runs["restarted"] == runs["continuous"]
    later = runs["continuous"]
    assert later[3]["offer"]["kind"] == "break_suggestion"             # the chat was cooling down
    assert [r["code"] for r in later[3]["assessment"]["reasons"]] == ["idle", "revisiting"]
    assert later[4]["assessment"]["reasons"][0]["code"] == "repeated_error"


# -- flushing to D1 ------------------------------------------------------------------------------

async def test_rows_reach_d1_within_the_flush_interval_not_before(shost, sclient):
    learner = await add_learner(shost)
    assert (await post(sclient, learner, [idle(learner, 200_000)])).status_code == 200
    shost.clock.advance(29.9)
    stats = await settled(learner.detector, lambda s: s["pending"] > 0)
    assert d1_rows(shost, "SELECT count(*) FROM struggle_events") == [(0,)]
    shost.clock.advance(0.1)
    await settled(learner.detector, lambda s: s["pending"] == 0)
    assert d1_rows(shost, "SELECT id FROM struggle_events") == [(e,) for e in stats["events"]]
    assert len(d1_rows(shost, "SELECT id FROM intervention_logs")) == len(stats["offers"]) == 1
    summary = json.loads(d1_rows(shost, "SELECT behavioral_signals FROM learning_sessions WHERE id = ?",
                                 learner.session_id)[0][0])
    assert summary["signals_total"] == 1 and summary["struggle"]["events"] == 1


async def test_a_full_outbox_is_flushed_at_once(shost, sclient):
    from db.database import Database
    from db.system import set_struggle_rules

    await Database(shost.env).run(set_struggle_rules(learner_tenant := "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
                                                     json.dumps({"flush_events": 3})))
    learner = await add_learner(shost, tenant=learner_tenant)
    await post(sclient, learner, [idle(learner, 200_000)])  # event + offer + session summary: 3 rows
    await settled(learner.detector, lambda s: s["pending"] == 0)  # no time passed
    assert d1_rows(shost, "SELECT count(*) FROM intervention_logs") == [(1,)]


async def test_a_replayed_flush_duplicates_nothing(tmp_path):
    """The host dies after D1 committed a flush and before the object cleaned its outbox;
    the alarm left in place replays the flush after the restart."""
    clock = ManualClock()
    host = await make_host(tmp_path / "state", clock=clock)
    learner = await add_learner(host)
    async with client_for(host) as client:
        r = await post(client, learner, [idle(learner, 200_000)])
        await client.post(f"/api/interventions/{r.json()['intervention']['id']}/reaction", headers=learner.headers,
                          json={"outcome": "accepted"})
    before = await learner.detector.stats()
    assert before["pending"] == 4 and before["alarm"] is not None  # event, offer, outcome, summary

    real = host.env.D1_PRIMARY

    class DiesAfterCommit:
        def prepare(self, sql):
            return real.prepare(sql)

        async def batch(self, statements):
            result = await real.batch(statements)
            raise HostCrashed("killed after D1 committed the flush")

    host.env.D1_PRIMARY = DiesAfterCommit()
    with pytest.raises(HostCrashed):
        await learner.detector.flush_now()
    host.env.D1_PRIMARY = real
    assert d1_rows(host, "SELECT count(*) FROM struggle_events") == [(1,)]  # committed...
    assert (await learner.detector.stats())["pending"] == 4                 # ...but not acknowledged
    await host.aclose()

    host = await make_host(tmp_path / "state", clock=clock)
    learner.host = host
    assert (await learner.detector.stats())["alarm"] is not None
    clock.advance(60)  # the alarm comes back and flushes the same rows again
    await settled(learner.detector, lambda s: s["pending"] == 0)
    assert d1_rows(host, "SELECT id FROM struggle_events") == [(before["events"][0],)]
    assert d1_rows(host, "SELECT id, outcome FROM intervention_logs") == [(before["offers"][0]["id"], "accepted")]
    await host.aclose()


async def test_a_d1_outage_delays_the_flush_and_loses_nothing(tmp_path):
    clock = ManualClock()
    host = await make_host(tmp_path / "state", extra_vars={"D1_BREAKER_FAILURES": "1"}, clock=clock)
    learner = await add_learner(host)
    async with client_for(host) as client:
        assert (await post(client, learner, [dwell(learner)])).status_code == 200  # caches tenant and profile in KV
        host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
        r = await post(client, learner, [idle(learner, 200_000)], final=True)  # the page is left mid-outage
        assert r.status_code == 200 and r.json()["intervention"]["kind"] == "chat_prompt"
        stats = await learner.detector.stats()
        assert stats["pending"] > 0 and stats["alarm"] is not None
        assert (await learner.detector.flush_now())["status"] == "unavailable"  # the breaker is open: no D1 call
        host.faults.clear()
        assert d1_rows(host, "SELECT count(*) FROM struggle_events") == [(0,)]
        clock.advance(60)  # past the breaker's cool-down and the flush's backoff
        await settled(learner.detector, lambda s: s["pending"] == 0)
    assert d1_rows(host, "SELECT id FROM struggle_events") == [(e,) for e in stats["events"]]
    assert d1_rows(host, "SELECT count(*) FROM intervention_logs") == [(1,)]
    await host.aclose()


async def test_rows_d1_refuses_for_good_are_dropped_and_counted(shost, sclient):
    learner = await add_learner(shost)
    await post(sclient, learner, [idle(learner, 200_000)])
    # the learner's rows vanish under the object (erased by another route meanwhile)
    import sqlite3

    conn = sqlite3.connect(shost.d1["D1_PRIMARY"].path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM learner_profiles WHERE id = ?", (learner.profile_id,))
    conn.commit()
    conn.close()
    assert (await learner.detector.flush_now()) == {"status": "ok", "pending": 0}
    assert d1_rows(shost, "SELECT count(*) FROM struggle_events") == [(0,)]
    assert d1_rows(shost, "SELECT value FROM metrics WHERE name = 'struggle.flush_dropped'") == [(2.0,)]


async def test_a_known_concept_is_linked_and_an_unknown_one_kept_in_the_signals(shost):
    from db.database import Database
    from db.system import system_scope

    scope = system_scope({"id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "d1_binding": "D1_PRIMARY"}, "test")
    await Database(shost.env).run(scope.insert("knowledge_graph", {"concept_id": "fractions",
                                                                   "concept_name": "Fractions"}))
    learner = await add_learner(shost)
    for concept in ("fractions", "unknown-concept"):
        for _ in range(3):
            await answer(shost, learner, 0.0, concept=concept, hints_used=1)  # asked for help: no avoidance
        shost.clock.advance(61)
    await learner.detector.flush_now()
    rows = d1_rows(shost, "SELECT concept_id, json_extract(signals, '$.concept'), event_type FROM struggle_events "
                          "ORDER BY detected_at")
    assert rows == [("fractions", "fractions", "repeated_error"), (None, "unknown-concept", "repeated_error")]


# -- time: offers time out, sessions end, objects clean up -------------------------------------------

async def test_an_offer_left_alone_is_ignored_after_its_timeout(shost, sclient):
    learner = await add_learner(shost)
    offer_id = (await post(sclient, learner, [idle(learner, 200_000)])).json()["intervention"]["id"]
    shost.clock.advance(599)
    stats = await settled(learner.detector, lambda s: s["pending"] == 0)  # the flush alarm ran meanwhile
    assert stats["offers"][0]["outcome"] is None
    shost.clock.advance(1)
    await settled(learner.detector, lambda s: s["offers"][0]["outcome"] == "ignored")
    r = await sclient.post(f"/api/interventions/{offer_id}/reaction", headers=learner.headers,
                           json={"outcome": "accepted"})
    assert r.status_code == 409 and r.json()["outcome"] == "ignored"
    await learner.detector.flush_now()
    assert d1_rows(shost, "SELECT outcome FROM intervention_logs") == [("ignored",)]


async def test_a_session_ends_after_thirty_idle_minutes_and_its_object_clears_a_day_later(shost, sclient):
    learner = await add_learner(shost)
    await post(sclient, learner, [dwell(learner)])
    shost.clock.advance(1800)
    await settled(learner.detector, lambda s: s["ended"])
    shost.clock.advance(60)
    await settled(learner.detector, lambda s: s["pending"] == 0)
    (end,) = d1_rows(shost, "SELECT session_end FROM learning_sessions WHERE id = ?", learner.session_id)[0]
    assert end is not None
    shost.clock.advance(24 * 3600)
    await settled(learner.detector, lambda s: not s["bound"])


async def test_a_learner_who_comes_back_reopens_the_session(shost, sclient):
    learner = await add_learner(shost)
    await post(sclient, learner, [dwell(learner)])
    shost.clock.advance(1800)
    await settled(learner.detector, lambda s: s["ended"])
    await post(sclient, learner, [dwell(learner)], final=True)
    assert not (await learner.detector.stats())["ended"]
    assert d1_rows(shost, "SELECT session_end FROM learning_sessions WHERE id = ?", learner.session_id) == [(None,)]


# -- the exact limit ----------------------------------------------------------------------------------

async def test_sixty_signals_a_minute_per_session_then_429_with_retry_after(shost, sclient):
    learner = await add_learner(shost)
    for _ in range(6):
        r = await post(sclient, learner, [dwell(learner) for _ in range(10)])
        assert r.status_code == 200
    assert r.json()["session_signals"] == 60
    refused = await post(sclient, learner, [dwell(learner)])
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.headers["content-type"] == "application/problem+json"
    stats = await learner.detector.stats()
    assert stats["counters"]["signals_total"] == 60 and stats["signals_held"] == 60
    shost.clock.advance(59)
    assert (await post(sclient, learner, [dwell(learner)])).headers["retry-after"] == "1"
    shost.clock.advance(1)
    assert (await post(sclient, learner, [dwell(learner)])).status_code == 200
    other = await add_learner(shost, user="learner-2")  # another session has its own minute
    assert (await post(sclient, other, [dwell(other)])).status_code == 200


async def test_local_transaction_sync_commits_all_or_nothing(shost):
    storage = shost.env.STRUGGLE_DETECTOR._object(shost.env.STRUGGLE_DETECTOR.idFromName("t")).state.storage
    storage.sql.exec("CREATE TABLE t (a INTEGER)")

    def fails():
        storage.sql.exec("INSERT INTO t VALUES (1)")
        raise ValueError("no")

    with pytest.raises(ValueError):
        storage.transactionSync(fails)
    assert storage.transactionSync(lambda: storage.sql.exec("INSERT INTO t VALUES (2)").rowsWritten) == 1
    assert storage.sql.exec("SELECT a FROM t").toArray() == [{"a": 2}]

    async def not_sync():
        return 1

    with pytest.raises(TypeError, match="synchronous"):
        storage.transactionSync(not_sync)


async def test_local_durable_object_sql_binds_at_most_100_values_like_cloudflare(shost):
    storage = shost.env.STRUGGLE_DETECTOR._object(shost.env.STRUGGLE_DETECTOR.idFromName("t")).state.storage
    assert storage.sql.exec(f"SELECT {', '.join(['?'] * 100)}", *range(100)).raw() == [list(range(100))]
    with pytest.raises(RuntimeError, match="too many SQL variables"):
        storage.sql.exec(f"SELECT {', '.join(['?'] * 101)}", *range(101))
