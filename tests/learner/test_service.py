"""The service over D1: the optimistic guard that keeps concurrent answers from losing an
update, a state's exact round trip through D1, and loading fitted parameters."""

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.database import Database
from db.profiles import new_id
from db.system import system_scope
from learner import memory as mem
from learner import model as lm
from learner import service
from tests.api.helpers import fingerprint, seed_learner
from tests.conftest import DEV_VARS, TENANT_A, make_host
from tests.learner.helpers import START, add_question, chain_graph, import_graph, rows, teacher

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}


def scope():
    return system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")


async def test_an_answer_prepared_on_a_stale_state_applies_nothing_and_is_retried(host, client):
    # Given two answers prepared on the same state (as two concurrent requests would),
    learner = await seed_learner(host, TENANT_A, "learner-1")
    await import_graph(client, host, chain_graph())
    q = await add_question(host, TENANT_A, "counting")
    db = Database(host.env)
    first = service.Answer(q, 1.0, 20.0)
    await service.record_answer(db, scope(), learner_id=learner["id"], context_id="course-1", session_id=None,
                                key="k0", answer=first, now_ms=int(START * 1000))
    args = dict(learner_id=learner["id"], context_id="course-1", session_id=None, now_ms=int(START * 1000))
    a = await service._prepare(db, scope(), rid=service.response_id(TENANT_A, learner["id"], "ka"), key="ka",
                               answer=first, fingerprint=first.fingerprint(), **args)
    b = await service._prepare(db, scope(), rid=service.response_id(TENANT_A, learner["id"], "kb"), key="kb",
                               answer=first, fingerprint=first.fingerprint(), **args)
    # when the first is written, the second's batch applies none of its statements,
    assert (await db.batch(a.statements, name="t"))[-1]["meta"]["changes"] == 1
    before = fingerprint(host)
    results = await db.batch(b.statements, name="t")
    assert [r["meta"]["changes"] for r in results] == [0] * len(results)
    assert fingerprint(host) == before
    # and recording it through the service reads the new state and counts it.
    await service.record_answer(db, scope(), key="kb", answer=first, **args)
    assert rows(host, "SELECT review_count, version FROM knowledge_state") == [(3, 3)]
    assert rows(host, "SELECT difficulty_count FROM concept_parameters WHERE concept_id='counting'") == [(3,)]


finite = st.floats(-50, 50, allow_nan=False)
unit = st.floats(0, 1, allow_nan=False)


@st.composite
def states(draw):
    attempts = draw(st.integers(0, 500))
    correct = draw(st.integers(0, attempts))
    state = lm.ConceptState(draw(unit), attempts, correct, attempts - correct, draw(unit), draw(finite),
                            draw(finite), draw(st.floats(0, 200, allow_nan=False)), draw(st.integers(0, 50)),
                            draw(st.integers(0, 20)))
    if draw(st.booleans()):
        last = mem.from_epoch_ms(int(START * 1000) + draw(st.integers(0, 10**10)))
        memory = mem.Memory(draw(st.floats(0.01, 36500)), draw(st.floats(1, 10)), draw(st.sampled_from([1, 2, 3])),
                            draw(st.none() | st.integers(0, 3)), last,
                            mem.from_epoch_ms(int(last.timestamp() * 1000) + draw(st.integers(0, 10**10))))
    else:
        memory = mem.Memory()
    return state, memory


def test_a_state_round_trips_through_d1_exactly(tmp_path):
    loop = asyncio.new_event_loop()
    host = loop.run_until_complete(make_host(tmp_path / "state"))
    try:
        learner = loop.run_until_complete(seed_learner(host, TENANT_A, "learner-1"))
        db = Database(host.env)
        bkt = lm.BKTParams()

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(states())
        def round_trip(pair):
            state, memory = pair
            sid = new_id()
            values = {"id": sid, "learner_id": learner["id"], "subject": "s", "topic": "t", "concept": sid,
                      **service.state_values(state, memory, bkt)}
            loop.run_until_complete(db.run(scope().insert("knowledge_state", values)))
            row = loop.run_until_complete(db.first(scope().select("knowledge_state", {"id": sid})))
            back_state, back_memory = service.state_from_row(row)
            assert back_state == state
            if memory.reviewed:
                assert back_memory == memory
            else:
                assert not back_memory.reviewed and back_memory.due == memory.due

        round_trip()
    finally:
        loop.run_until_complete(host.aclose())
        loop.close()


def _params_doc(**concepts):
    doc = lm.params_document(lm.ModelParams(lm.BKTParams(p_init=0.5)), concepts,
                             fit={"auc": 0.83, "calibration_error": 0.02}, source={"rows": 10})
    return json.loads(json.dumps(doc))


async def test_admin_loads_params_for_a_tenant_and_the_instructor_sees_the_fit(host, client):
    await import_graph(client, host, chain_graph())
    counting = {"p_init": 0.6, "p_transit": 0.2, "p_slip": 0.1, "p_guess": 0.2, "p_forget": 0.05,
                "difficulty": -1.5, "difficulty_count": 900, "fit": {"held_out": {"auc": 0.81, "rows": 300}}}
    url = f"/admin/tenants/{TENANT_A}/learner-model"
    assert (await client.put(url, content=json.dumps(_params_doc(counting=counting)))).status_code == 401
    r = await client.put(url, content=json.dumps(_params_doc(counting=counting)), headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["concepts_loaded"] == 1
    assert rows(host, "SELECT p_init, p_forget, difficulty, fitted FROM concept_parameters "
                      "WHERE concept_id='counting'") == [(0.6, 0.05, -1.5, 1)]
    view = (await client.get("/api/courses/course-1/mastery", headers=teacher(host))).json()
    counting_view = next(c for c in view["concepts"] if c["concept_id"] == "counting")
    assert counting_view["fitted"] is True and counting_view["fit"]["held_out"]["auc"] == 0.81
    assert view["model_fit"] == {"auc": 0.83, "calibration_error": 0.02}
    # A concept the graph does not know is refused by id, and nothing changes...
    before = fingerprint(host)
    r = await client.put(url, content=json.dumps(_params_doc(ghost=counting)), headers=ADMIN)
    assert r.status_code == 422 and r.json()["ids"] == ["ghost"]
    assert fingerprint(host) == before
    # ...unless asked to create it.
    r = await client.put(url + "?create_concepts=true", content=json.dumps(_params_doc(ghost=counting)),
                         headers=ADMIN)
    assert r.status_code == 200 and r.json()["concepts_created"] == 1


async def test_bad_params_documents_are_refused_naming_the_problem(host, client):
    await import_graph(client, host, chain_graph())
    url = f"/admin/tenants/{TENANT_A}/learner-model"
    before = fingerprint(host)
    cases = [
        ("not json", 400, "/problems/malformed-json"),
        ("[]", 422, "/problems/validation"),
        (json.dumps({"format": "other"}), 422, "/problems/params-format"),
        (json.dumps({**_params_doc(), "predictor": {"bias": "x"}}), 422, "/problems/params-invalid"),
        (json.dumps(_params_doc(counting={"p_guess": 0.8, "p_slip": 0.5})), 422, "/problems/params-invalid"),
    ]
    for body, status, kind in cases:
        r = await client.put(url, content=body, headers=ADMIN)
        assert (r.status_code, r.json()["type"]) == (status, kind), body
    assert fingerprint(host) == before
