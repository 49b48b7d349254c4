"""The struggle routes over HTTP (in process): what a learner's page may send and what is
refused with nothing stored, consent, reactions, the answers the server reports, the
instructor's view of the course, an institution's overrides, erasure and the pages."""

import json
import re

import pytest

from auth.session import session_from_token
from db.database import Database
from db.system import system_scope
from struggle import service
from tests.api.helpers import fingerprint
from tests.conftest import DEV_VARS, TENANT_A, TENANT_B, token
from tests.lti.conftest import page_config
from tests.struggle.conftest import add_learner, d1_rows, dwell, idle, instructor_headers

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}


async def post(client, learner, signals, final=False, **extra):
    return await client.post("/api/signals", headers=learner.headers,
                             json={"signals": signals, "final": final, **extra})


async def nothing_stored(host, learner, before: str) -> None:
    stats = await learner.detector.stats()
    assert not stats["bound"] and stats["signals_held"] == 0 and stats["pending"] == 0
    assert fingerprint(host) == before


# -- bad input: 4xx, nothing stored -------------------------------------------------------

def bad_batches(now: int) -> dict[str, tuple[int, dict]]:
    ok = {"type": "idle", "t": now, "ms": 1000}
    return {
        "unknown signal type": (422, {"signals": [{"type": "hover", "t": now, "ms": 10}]}),
        "negative duration": (422, {"signals": [{**ok, "ms": -5}]}),
        "zero duration": (422, {"signals": [{**ok, "ms": 0}]}),
        "duration over an hour": (422, {"signals": [{**ok, "ms": 3_600_001}]}),
        "scroll burst over a minute": (422, {"signals": [{"type": "scroll", "t": now, "dy_px": 10, "ms": 60_001}]}),
        "absurd scroll": (422, {"signals": [{"type": "scroll", "t": now, "dy_px": 1_000_001, "ms": 10}]}),
        "time far in the future": (422, {"signals": [{**ok, "t": now + 2 * 60_000 + 1}]}),
        "time far in the past": (422, {"signals": [ok, {**ok, "t": now - 15 * 60_000 - 1}]}),
        "time as text": (422, {"signals": [{**ok, "t": str(now)}]}),
        "batch over the limit": (422, {"signals": [ok] * 31}),
        "empty batch": (422, {"signals": []}),
        "another session named": (422, {"signals": [ok], "session_id": "someone-else"}),
        "another learner named": (422, {"signals": [{**ok, "learner_id": "x"}]}),
        "markup as target": (422, {"signals": [{"type": "revisit", "t": now, "target": "<script>"}]}),
        "unknown help kind": (422, {"signals": [{"type": "help_request", "t": now, "help": "answer"}]}),
        "not an object": (422, [ok]),
    }


@pytest.mark.parametrize("case", sorted(bad_batches(0)))
async def test_bad_signal_batches_get_a_4xx_and_nothing_is_stored(shost, sclient, case):
    learner = await add_learner(shost)
    before = fingerprint(shost)
    status, body = bad_batches(learner.now_ms())[case]
    r = await sclient.post("/api/signals", headers=learner.headers, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    await nothing_stored(shost, learner, before)


async def test_malformed_bodies_are_refused_before_anything_is_stored(shost, sclient):
    learner = await add_learner(shost)
    before = fingerprint(shost)
    r = await sclient.post("/api/signals", headers={**learner.headers, "content-type": "application/json"},
                           content=b"{not json")
    assert r.status_code == 400
    r = await sclient.post("/api/signals", headers={**learner.headers, "content-type": "text/plain"}, content=b"x")
    assert r.status_code == 415
    r = await sclient.post("/api/signals", headers={**learner.headers, "content-type": "application/json"},
                           content=b" " * (64 * 1024 + 1))
    assert r.status_code == 413
    assert (await sclient.post("/api/signals", json={"signals": []})).status_code == 401
    await nothing_stored(shost, learner, before)


async def test_the_boundaries_of_a_batch_are_accepted(shost, sclient):
    learner = await add_learner(shost)
    now = learner.now_ms()
    r = await post(sclient, learner, [{"type": "idle", "t": now - 15 * 60_000, "ms": 3_600_000}] +
                   [{"type": "dwell", "t": now + 2 * 60_000, "ms": 1, "target": "a.b:c/d#e-f_9"}] * 29)
    assert r.status_code == 200 and r.json()["accepted"] == 30


async def test_a_token_without_a_learning_session_gets_409(shost, sclient):
    await add_learner(shost)
    headers = {"Authorization": f"Bearer {token(shost)}"}
    r = await sclient.post("/api/signals", headers=headers, json={"signals": [{"type": "idle", "t": 0, "ms": 5}]})
    assert r.status_code == 409 and r.json()["type"] == "/problems/no-learning-session"


async def test_a_session_that_is_not_the_callers_answers_404_like_a_missing_one(shost, sclient):
    ada = await add_learner(shost, user="ada")
    bob = await add_learner(shost, user="bob")
    forged = token(shost, user="bob", learning_session_id=ada.session_id)  # bob's token naming ada's session
    before = fingerprint(shost)
    r = await sclient.post("/api/signals", headers={"Authorization": f"Bearer {forged}"},
                           json={"signals": [idle(bob, 200_000)]})
    assert r.status_code == 404
    missing = token(shost, user="bob", learning_session_id="00000000-0000-4000-8000-000000000000")
    r = await sclient.post("/api/signals", headers={"Authorization": f"Bearer {missing}"},
                           json={"signals": [idle(bob, 200_000)]})
    assert r.status_code == 404
    other_tenant = token(shost, tenant=TENANT_B, user="ada", learning_session_id=ada.session_id)
    r = await sclient.post("/api/signals", headers={"Authorization": f"Bearer {other_tenant}"},
                           json={"signals": [idle(bob, 200_000)]})
    assert r.status_code == 404
    assert fingerprint(shost) == before
    assert not (await ada.detector.stats())["bound"]


# -- consent ---------------------------------------------------------------------------------

async def test_with_analytics_off_no_signal_is_stored(shost, sclient):
    learner = await add_learner(shost, privacy={"consent": {"analytics": False}})
    before = fingerprint(shost)
    r = await post(sclient, learner, [idle(learner, 200_000)])
    assert r.status_code == 403 and r.json()["type"] == "/problems/analytics-consent-off"
    await nothing_stored(shost, learner, before)


async def test_turning_analytics_off_forgets_what_the_session_held(shost, sclient):
    learner = await add_learner(shost)
    assert (await post(sclient, learner, [dwell(learner)] * 3)).status_code == 200
    assert (await learner.detector.stats())["signals_held"] == 3
    etag = (await sclient.get("/api/profile", headers=learner.headers)).headers["etag"]
    r = await sclient.patch("/api/profile", headers={**learner.headers, "If-Match": etag},
                            json={"privacy_settings": {"consent": {"analytics": False}}})
    assert r.status_code == 200
    assert (await post(sclient, learner, [dwell(learner)])).status_code == 403
    assert (await learner.detector.stats())["signals_held"] == 0


# -- reactions ----------------------------------------------------------------------------------

async def test_a_reaction_is_recorded_once(shost, sclient):
    learner = await add_learner(shost)
    offer = (await post(sclient, learner, [idle(learner, 200_000)])).json()["intervention"]
    url = f"/api/interventions/{offer['id']}/reaction"
    r = await sclient.post(url, headers=learner.headers, json={"outcome": "accepted"})
    assert r.status_code == 200 and r.json()["outcome"] == "accepted" and r.json()["kind"] == offer["kind"]
    again = await sclient.post(url, headers=learner.headers, json={"outcome": "accepted"})
    assert again.status_code == 200 and again.json() == r.json()
    changed = await sclient.post(url, headers=learner.headers, json={"outcome": "dismissed"})
    assert changed.status_code == 409 and changed.json()["outcome"] == "accepted"
    # the next batch no longer carries the offer
    assert (await post(sclient, learner, [dwell(learner)], final=True)).json()["intervention"] is None
    assert d1_rows(shost, "SELECT outcome FROM intervention_logs WHERE id = ?", offer["id"]) == [("accepted",)]


async def test_reactions_to_offers_that_are_not_the_callers_answer_404(shost, sclient):
    ada = await add_learner(shost, user="ada")
    bob = await add_learner(shost, user="bob")
    offer = (await post(sclient, ada, [idle(ada, 200_000)])).json()["intervention"]
    await post(sclient, bob, [dwell(bob)])
    for who, offer_id in ((bob, offer["id"]), (ada, "00000000-0000-4000-8000-000000000000"), (ada, "not-an-id")):
        r = await sclient.post(f"/api/interventions/{offer_id}/reaction", headers=who.headers,
                               json={"outcome": "accepted"})
        assert r.status_code == 404, offer_id
    fresh = await add_learner(shost, user="cy")  # no object yet
    r = await sclient.post(f"/api/interventions/{offer['id']}/reaction", headers=fresh.headers,
                           json={"outcome": "accepted"})
    assert r.status_code == 404
    bad = await sclient.post(f"/api/interventions/{offer['id']}/reaction", headers=ada.headers,
                             json={"outcome": "ignored"})  # only the object decides that
    assert bad.status_code == 422
    assert (await ada.detector.stats())["offers"][0]["outcome"] is None


# -- answers reported by the server (the responses route of the learner model) -------------------

async def session_of(host, learner):
    return await session_from_token(host.env, learner.token)


async def test_wrong_answers_in_a_row_bring_a_hint_with_why(shost):
    learner = await add_learner(shost)
    session = await session_of(shost, learner)
    report = {"concept_id": "fractions", "credit": 0.0, "response_time_s": 40.0, "typical_time_s": 60.0,
              "item_id": "q1", "hints_used": 0}
    first = await service.report_answer(shost.env, session, report)
    assert first["intervention"] is None and first["assessment"]["state"] == "indeterminate"
    await service.report_answer(shost.env, session, report)
    third = await service.report_answer(shost.env, session, report)
    assert third["assessment"]["state"] == "struggling"
    assert third["intervention"]["kind"] == "hint" and third["intervention"]["concept_id"] == "fractions"
    assert third["intervention"]["why"] == "3 wrong answers in a row on this concept."


async def test_struggle_on_a_concept_with_weak_prerequisites_offers_the_weakest_for_review(shost):
    learner = await add_learner(shost)
    session = await session_of(shost, learner)
    prerequisites = [{"concept_id": "division", "mastery": 0.8, "recall": 0.3},
                     {"concept_id": "multiplication", "mastery": 0.55, "recall": 0.9},
                     {"concept_id": "counting", "mastery": 0.99, "recall": 0.99}]
    for _ in range(3):
        result = await service.report_answer(shost.env, session, {
            "concept_id": "fractions", "credit": 0.0, "response_time_s": 40.0, "prerequisites": prerequisites})
    offer = result["intervention"]
    assert offer["kind"] == "review_prompt"
    assert offer["prerequisite"] == {"concept_id": "division", "mastery": 0.8, "recall": 0.3}
    await learner.detector.flush_now()
    content = json.loads(d1_rows(shost, "SELECT content FROM intervention_logs")[0][0])
    assert content["prerequisite"]["concept_id"] == "division"
    assert content["features"]["reasons"][0]["code"] == "repeated_error"  # why it was offered, kept with it


async def test_persistent_struggle_escalates_to_the_instructor_only_for_visible_learners(shost):
    for user, privacy, expected in (("seen", None, "instructor_note"),
                                    ("unseen", {"consent": {"instructor_visibility": False}}, "chat_prompt")):
        learner = await add_learner(shost, user=user, privacy=privacy)
        session = await session_of(shost, learner)
        kinds = []
        for _ in range(3):
            for _ in range(3):
                result = await service.report_answer(shost.env, session, {
                    "concept_id": "c1", "credit": 0.0, "response_time_s": 40.0, "hints_used": 1})
            offer = result["intervention"]
            kinds.append(offer["kind"])
            await service.react(shost.env, session, offer["id"], "dismissed")
            shost.clock.advance(61)
        assert kinds == ["hint", "explanation", expected], user


async def test_report_answer_without_a_detector_returns_none_and_never_fails(shost):
    from devhost.bindings._common import Fault

    learner = await add_learner(shost)
    no_session = await session_from_token(shost.env, token(shost))
    report = {"concept_id": "c1", "credit": 1.0, "response_time_s": 5.0}
    assert await service.report_answer(shost.env, no_session, report) is None
    shost.faults.set("STRUGGLE_DETECTOR", Fault(mode="unavailable"))
    assert await service.report_answer(shost.env, await session_of(shost, learner), report) is None
    shost.faults.clear()
    with pytest.raises(ValueError):
        await service.report_answer(shost.env, await session_of(shost, learner), {**report, "credit": 2})


async def test_answers_count_without_analytics_consent_behaviour_does_not(shost, sclient):
    learner = await add_learner(shost, privacy={"consent": {"analytics": False}})
    session = await session_of(shost, learner)
    result = None
    for _ in range(3):
        result = await service.report_answer(shost.env, session, {"concept_id": "c1", "credit": 0.0,
                                                                  "response_time_s": 40.0})
    assert result["intervention"]["kind"] == "hint"


async def test_signals_and_answers_share_one_window(shost, sclient):
    learner = await add_learner(shost)
    session = await session_of(shost, learner)
    for _ in range(2):
        await service.report_answer(shost.env, session, {"concept_id": "c1", "credit": 0.0, "response_time_s": 40.0})
    r = await post(sclient, learner, [idle(learner, 70_000)])  # tier 1 idle alone is not struggle
    reasons = [x["code"] for x in r.json()["assessment"]["reasons"]]
    assert reasons == ["idle"] and r.json()["assessment"]["state"] == "indeterminate"
    third = await service.report_answer(shost.env, session, {"concept_id": "c1", "credit": 0.0,
                                                             "response_time_s": 40.0})
    assert [x["code"] for x in third["assessment"]["reasons"]] == ["repeated_error", "idle"]
    assert third["assessment"]["score"] == pytest.approx(0.79)


# -- the instructor's view ----------------------------------------------------------------------

async def struggle_of(learner, sclient, shost, kind="idle"):
    if kind == "idle":
        await post(sclient, learner, [idle(learner, 200_000)])
    else:
        session = await session_of(shost, learner)
        for _ in range(3):
            await service.report_answer(shost.env, session, {"concept_id": "fractions", "credit": 0.0,
                                                             "response_time_s": 40.0})
    await learner.detector.flush_now()


async def test_instructors_see_who_struggled_why_and_the_help_taken(shost, sclient):
    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    await Database(shost.env).run(scope.insert("knowledge_graph", {"concept_id": "fractions",
                                                                   "concept_name": "Fractions"}))
    ada = await add_learner(shost, user="ada")
    bob = await add_learner(shost, user="bob")
    shy = await add_learner(shost, user="shy", privacy={"consent": {"instructor_visibility": False}})
    elsewhere = await add_learner(shost, user="eve", course="course-2")
    await struggle_of(ada, sclient, shost)
    offer = (await ada.detector.stats())["offers"][0]
    await sclient.post(f"/api/interventions/{offer['id']}/reaction", headers=ada.headers, json={"outcome": "accepted"})
    await ada.detector.flush_now()
    shost.clock.advance(1)  # bob struggled later
    await struggle_of(bob, sclient, shost, kind="answers")
    await struggle_of(shy, sclient, shost, kind="answers")
    await struggle_of(elsewhere, sclient, shost)
    r = await sclient.get("/api/courses/course-1/struggle", headers=instructor_headers(shost))
    assert r.status_code == 200
    body = r.json()
    assert [x["lti_user_id"] for x in body["learners"]] == ["bob", "ada"]
    assert body["hidden_by_consent"] == 1
    assert body["learners"][0]["reasons"] == [{"reason": "repeated_error", "count": 1}]
    assert body["learners"][0]["concepts"] == [{"concept_id": "fractions", "concept_name": "Fractions", "count": 1}]
    assert body["concepts"] == [{"concept_id": "fractions", "concept_name": "Fractions", "struggle_events": 1,
                                 "learners": 1}]  # shy's struggle is not counted
    kinds = {k["kind"]: k for k in body["interventions"]}
    assert kinds["chat_prompt"]["offered"] == 1 and kinds["chat_prompt"]["accepted"] == 1
    assert kinds["hint"]["offered"] == 1 and kinds["hint"]["pending"] == 1


async def test_the_instructor_view_is_for_instructors_of_the_launch_course(shost, sclient):
    learner = await add_learner(shost)
    assert (await sclient.get("/api/courses/course-1/struggle", headers=learner.headers)).status_code == 403
    headers = instructor_headers(shost)
    assert (await sclient.get("/api/courses/course-2/struggle", headers=headers)).status_code == 404
    assert (await sclient.get("/api/courses/course-1/struggle?days=0", headers=headers)).status_code == 422
    assert (await sclient.get("/api/courses/course-1/struggle?days=31", headers=headers)).status_code == 422
    other_tenant = instructor_headers(shost, tenant=TENANT_B)
    r = await sclient.get("/api/courses/course-1/struggle", headers=other_tenant)
    assert r.status_code == 200 and r.json()["learners"] == []


async def test_the_instructor_home_shows_who_is_struggling(shost, sclient):
    learner = await add_learner(shost, user="ada-lovelace")
    await struggle_of(learner, sclient, shost)
    tok = token(shost, user="teacher", roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",))
    page = (await sclient.get("/app", params={"ltik": tok})).text
    assert 'id="struggle-title">Struggling recently' in page
    table = re.search(r'<table id="struggle-learners">.*?</table>', page, re.S).group(0)
    assert "ada-lovelace" in table and "long idle" in table
    assert 'id="struggle-help"' in page
    empty = token(shost, user="teacher", context="course-9",
                  roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",))
    assert 'id="struggle-none"' in (await sclient.get("/app", params={"ltik": empty})).text


# -- the learner's page -----------------------------------------------------------------------------

async def test_the_learner_home_carries_the_script_and_follows_consent(shost, sclient):
    learner = await add_learner(shost)
    page = (await sclient.get("/app", params={"ltik": learner.token})).text
    script = re.search(r'<script src="(/static/struggle\.[0-9a-f]{12}\.js)"', page).group(1)
    config = page_config(page)["struggle"]
    assert config["collect"] is True and config["endpoint"] == "/api/signals" and config["perMinute"] == 50
    asset = await sclient.get(script)
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
    assert "keepalive" in asset.text and "sendBeacon cannot set the Authorization header" in asset.text
    shy = await add_learner(shost, user="shy", privacy={"consent": {"analytics": False}})
    assert page_config((await sclient.get("/app", params={"ltik": shy.token})).text)["struggle"]["collect"] is False
    no_session = token(shost, user="learner-1")
    assert page_config((await sclient.get("/app", params={"ltik": no_session})).text)["struggle"]["collect"] is False


# -- an institution's overrides (admin) ---------------------------------------------------------------

async def test_an_institution_overrides_thresholds_for_its_new_sessions(shost, sclient):
    url = f"/admin/tenants/{TENANT_A}/struggle-rules"
    r = await sclient.put(url, headers=ADMIN, json={"overrides": {"repeated_errors": 2, "cooldown_s": 120}})
    assert r.status_code == 200 and r.json()["effective"]["repeated_errors"] == 2
    got = await sclient.get(url, headers=ADMIN)
    assert got.json()["overrides"] == {"repeated_errors": 2, "cooldown_s": 120}
    assert got.json()["effective"]["cooldown_s"] == 120 and got.json()["effective"]["wheel_spin_attempts"] == 10
    learner = await add_learner(shost)
    session = await session_of(shost, learner)
    for _ in range(2):
        result = await service.report_answer(shost.env, session, {"concept_id": "c1", "credit": 0.0,
                                                                  "response_time_s": 40.0})
    assert result["intervention"]["kind"] == "hint"  # two wrong in a row are enough here
    other = await sclient.get(f"/admin/tenants/{TENANT_B}/struggle-rules", headers=ADMIN)
    assert other.json()["overrides"] == {}


async def test_bad_overrides_are_refused_naming_each_and_nothing_changes(shost, sclient):
    url = f"/admin/tenants/{TENANT_A}/struggle-rules"
    before = fingerprint(shost)
    r = await sclient.put(url, headers=ADMIN, json={"overrides": {"nope": 1, "daily_cap": -1}})
    assert r.status_code == 422 and sorted(p.split(":")[0] for p in r.json()["problems"]) == ["daily_cap", "nope"]
    assert (await sclient.put(url, headers=ADMIN, json={"rules": {}})).status_code == 422
    assert (await sclient.put(url, json={"overrides": {}})).status_code == 401
    missing = "/admin/tenants/cccccccc-cccc-4ccc-8ccc-cccccccccccc/struggle-rules"
    assert (await sclient.put(missing, headers=ADMIN, json={"overrides": {}})).status_code == 404
    assert (await sclient.get(missing, headers=ADMIN)).status_code == 404
    assert fingerprint(shost) == before


# -- erasure -------------------------------------------------------------------------------------------

async def test_erasing_a_profile_erases_what_its_detectors_hold(shost, sclient):
    learner = await add_learner(shost)
    await post(sclient, learner, [idle(learner, 200_000)])
    assert (await learner.detector.stats())["bound"]
    assert (await sclient.delete("/api/profile", headers=learner.headers)).status_code == 204
    stats = await learner.detector.stats()
    assert not stats["bound"] and stats["signals_held"] == 0 and stats["pending"] == 0 and stats["alarm"] is None
    assert d1_rows(shost, "SELECT count(*) FROM struggle_events") == [(0,)]


async def test_the_openapi_document_lists_the_struggle_routes_and_bodies(sclient):
    doc = (await sclient.get("/openapi.json")).json()
    signals = doc["paths"]["/api/signals"]["post"]
    assert {"403", "409", "422", "429", "503"} <= set(signals["responses"])
    assert signals["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SignalBatch")
    assert "SignalBatch" in doc["components"]["schemas"] and "ReactionIn" in doc["components"]["schemas"]
    assert "/api/courses/{context_id}/struggle" in doc["paths"]
    assert "/admin/tenants/{tenant_id}/struggle-rules" in doc["paths"]


async def test_a_d1_outage_answers_503_with_nothing_stored(shost, sclient):
    from devhost.bindings._common import Fault

    learner = await add_learner(shost)
    teacher = instructor_headers(shost)
    assert (await sclient.get("/api/courses/course-1/struggle", headers=teacher)).status_code == 200  # caches tenant
    url = f"/admin/tenants/{TENANT_A}/struggle-rules"
    shost.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    r = await sclient.get("/api/courses/course-1/struggle", headers=teacher)
    assert r.status_code == 503 and r.headers["retry-after"]
    assert (await sclient.get(url, headers=ADMIN)).status_code == 503
    assert (await sclient.put(url, headers=ADMIN, json={"overrides": {}})).status_code == 503
    # no copy of this learner's profile was ever cached: nothing can be decided about consent
    r = await post(sclient, learner, [idle(learner, 200_000)])
    assert r.status_code == 503 and r.json()["type"] == "/problems/d1-unavailable"
    page = (await sclient.get("/app", params={"ltik": teacher["Authorization"].split()[1]})).text
    assert 'id="struggle-unavailable"' in page
    shost.faults.clear()
    assert not (await learner.detector.stats())["bound"]
