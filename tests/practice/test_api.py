"""The practice API: the question bank (import all-or-nothing with lines, list, edit,
approve, retire), a learner's way through an activity (next item without keys, hints,
answers checked on the server and recorded once, progress), the instructor's report and
settings, and the bad input the issue lists: 4xx naming the problem, nothing stored."""

import json

from tests.api.helpers import fingerprint
from tests.conftest import LEARNER, TENANT_A, TENANT_B, auth
from tests.practice.helpers import (activity, answer, card, course, fill_item, import_items, launch_learner,
                                    learner_headers, next_item, rows, teacher)


async def _ready(client, host, items=None, **kw):
    await course(client, host)
    a = await activity(host, **kw)
    await import_items(client, host, items or [fill_item(), fill_item("p-addition", "One and one make ___.",
                                                                       ["2", "two"], hints=["It is even.", "1+1"],
                                                                       misconceptions=[{"answer": "11",
                                                                                        "feedback": "That is 1 next "
                                                                                                    "to 1."}])])
    await launch_learner(host)
    return a


# -- the question bank --------------------------------------------------------------------------

async def test_import_stores_every_item_and_a_reimport_by_ref_updates_them(host, client):
    await course(client, host)
    first = await import_items(client, host, [fill_item(ref="q1"), card(ref="q2")])
    assert first == {"created": 2, "updated": 0, "items": 2}
    again = await import_items(client, host, [fill_item(ref="q1", answers=["4", "four", "IV"]), card(ref="q2")])
    assert again == {"created": 0, "updated": 2, "items": 2}
    listing = (await client.get("/api/question-bank", headers=teacher(host))).json()
    assert listing["total"] == 2
    q1 = next(i for i in listing["items"] if i.get("ref") == "q1")
    assert q1["answers"] == ["4", "four", "IV"] and q1["status"] == "approved"


async def test_a_csv_import_with_a_bad_row_stores_nothing_and_names_the_lines(host, client):
    await course(client, host)
    before = fingerprint(host)
    csv = ("format,concept,prompt,answers\n"
           "fill_blank,p-counting,Two and two is ___.,4\n"
           "fill_blank,p-counting,no gap here,4\n"
           "fill_blank,nowhere,x ___,y\n")
    r = await client.post("/api/question-bank/import", content=csv.encode(),
                          headers={**teacher(host), "content-type": "text/csv"})
    assert r.status_code == 422, r.text
    problems = r.json()["rows"]
    assert {(p["line"], p["field"]) for p in problems} == {(3, "prompt"), (4, "concept")}
    assert "nothing was stored" in r.json()["detail"]
    assert fingerprint(host) == before


async def test_items_for_another_tenants_concept_are_refused_like_missing_ones(host, client):
    await course(client, host)
    await course(client, host, concepts=[{"id": "b-secret", "name": "Secret"}], tenant=TENANT_B)
    before = fingerprint(host)
    r = await client.post("/api/question-bank/import", json=[fill_item("b-secret")], headers=teacher(host))
    missing = await client.post("/api/question-bank/import", json=[fill_item("never-seen")], headers=teacher(host))
    assert r.status_code == missing.status_code == 422
    assert r.json()["rows"][0]["problem"].replace("b-secret", "X") == \
        missing.json()["rows"][0]["problem"].replace("never-seen", "X")
    assert fingerprint(host) == before


async def test_malformed_oversize_and_mistyped_imports_are_refused(host, client):
    await course(client, host)
    before = fingerprint(host)
    bad_json = await client.post("/api/question-bank/import", content=b'{"items": [',
                                 headers={**teacher(host), "content-type": "application/json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["detail"]
    big = json.dumps([fill_item(prompt="x ___ " + "y" * 1500)] * 50).encode()
    assert len(big) > 64 * 1024
    too_big = await client.post("/api/question-bank/import", content=big,
                                headers={**teacher(host), "content-type": "application/json"})
    assert too_big.status_code == 413 and "64 KiB" in too_big.json()["detail"]
    xml = await client.post("/api/question-bank/import", content=b"<items/>",
                            headers={**teacher(host), "content-type": "application/xml"})
    assert xml.status_code == 415
    latin1 = await client.post("/api/question-bank/import", content="format,concept\nfill_blank,é".encode("latin-1"),
                               headers={**teacher(host), "content-type": "text/csv"})
    assert latin1.status_code == 400
    learner = await client.post("/api/question-bank/import", json=[fill_item()], headers=learner_headers(host))
    assert learner.status_code == 403
    assert fingerprint(host) == before


async def test_the_bank_is_edited_approved_and_retired_by_the_courses_instructor(host, client):
    await course(client, host)
    await import_items(client, host, [fill_item(approved=False)])
    item = (await client.get("/api/question-bank", headers=teacher(host))).json()["items"][0]
    assert item["status"] == "awaiting_approval"
    r = await client.patch(f"/api/question-bank/items/{item['id']}", json={"approved": True, "answers": ["4"]},
                           headers=teacher(host))
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["answers"] == ["4"]
    bad = await client.patch(f"/api/question-bank/items/{item['id']}", json={"prompt": "no gap"}, headers=teacher(host))
    assert bad.status_code == 422
    moved = await client.patch(f"/api/question-bank/items/{item['id']}", json={"concept": "nowhere"}, headers=teacher(host))
    assert moved.status_code == 422 and "not a concept of this course" in moved.text
    retired = await client.patch(f"/api/question-bank/items/{item['id']}", json={"status": "retired"},
                                 headers=teacher(host))
    assert retired.json()["status"] == "retired"
    assert (await client.get("/api/question-bank?status=retired", headers=teacher(host))).json()["total"] == 1
    assert (await client.get("/api/question-bank?status=approved", headers=teacher(host))).json()["total"] == 0
    other_course = await client.get(f"/api/question-bank/items/{item['id']}", headers=teacher(host, context="course-9"))
    assert other_course.status_code == 404
    other_tenant = await client.get(f"/api/question-bank/items/{item['id']}", headers=teacher(host, tenant=TENANT_B))
    assert other_tenant.status_code == 404


# -- a learner's activity -------------------------------------------------------------------------

async def test_the_next_item_carries_the_prompt_and_never_the_key(host, client):
    a = await _ready(client, host)
    r = await next_item(client, host, a["id"])
    assert r.status_code == 200
    item = r.json()["item"]
    assert set(item) >= {"item_id", "presentation_id", "prompt", "hints_available"}
    text = r.text
    for secret in ('"answers"', "four", '"two"', "That is 1 next", "misconceptions", "It is even"):
        assert secret not in text
    again = (await next_item(client, host, a["id"])).json()["item"]
    assert again["item_id"] == item["item_id"] and again["resumed"] is True  # where the learner left off


async def test_hints_come_one_level_at_a_time_and_count_against_the_answer(host, client):
    a = await _ready(client, host, items=[fill_item(hints=["Count on your fingers.", "It is 2 + 2.", "Four."])])
    item = (await next_item(client, host, a["id"])).json()["item"]
    for n in (1, 2, 3, 3):
        r = await client.post(f"/api/activities/{a['id']}/hints", json={"item_id": item["item_id"]},
                              headers=learner_headers(host))
        assert r.status_code == 200 and len(r.json()["item"]["hints"]) == n
    done = await answer(client, host, a["id"], item["item_id"], response="4")
    assert done.status_code == 201 and done.json()["hints_used"] == 3
    stored = rows(host, "SELECT hints_used, activity_id, is_correct FROM question_responses")
    assert stored == [(3, a["id"], 1)]


async def test_an_answer_is_checked_on_the_server_recorded_once_and_feeds_the_learner_model(host, client):
    a = await _ready(client, host)
    item = (await next_item(client, host, a["id"])).json()["item"]
    r = await answer(client, host, a["id"], item["item_id"], key="k1", response=" FOUR. ")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["correct"] and body["outcome"] == "alternative" and body["concept"]["attempts"] == 1
    assert body["progress"]["attempts"] == 1 and body["progress"]["correct"] == 1
    replay = await answer(client, host, a["id"], item["item_id"], key="k1", response=" FOUR. ")
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["replayed"] and replay.json()["progress"]["attempts"] == 1
    reused = await answer(client, host, a["id"], item["item_id"], key="k1", response="five")
    assert reused.status_code == 422
    assert rows(host, "SELECT count(*) FROM question_responses") == [(1,)]
    assert rows(host, "SELECT review_count FROM knowledge_state WHERE concept = 'p-counting'") == [(1,)]
    assert rows(host, "SELECT total_assessments FROM student_progress") == [(1,)]


async def test_a_misconception_answer_gets_its_feedback_and_the_expected_answer(host, client):
    a = await _ready(client, host, items=[fill_item("p-counting", "One and one make ___.", ["2"],
                                                    misconceptions=[{"answer": "11", "feedback": "That is 1 next to "
                                                                                                  "1, not 1 + 1."}])])
    item = (await next_item(client, host, a["id"])).json()["item"]
    body = (await answer(client, host, a["id"], item["item_id"], response="11")).json()
    assert (body["correct"], body["outcome"], body["expected"]) == (False, "misconception", "2")
    assert body["feedback"].startswith("That is 1 next to 1")
    assert rows(host, "SELECT misconceptions_detected, feedback_type FROM question_responses") == \
        [('["11"]', "corrective")]


async def test_flashcards_are_turned_then_graded_with_fsrs_grades(host, client):
    await course(client, host)
    a = await activity(host, type_="flashcards")
    await import_items(client, host, [card()])
    await launch_learner(host)
    item = (await next_item(client, host, a["id"])).json()["item"]
    assert item["front"] == "Ten" and item["back"] is None
    turned = await client.post(f"/api/activities/{a['id']}/reveal", json={"item_id": item["item_id"]},
                               headers=learner_headers(host))
    assert turned.json()["item"]["back"] == "The number after nine"
    no_grade = await answer(client, host, a["id"], item["item_id"], response="ten")
    assert no_grade.status_code == 422
    r = await answer(client, host, a["id"], item["item_id"], grade="hard")
    assert r.status_code == 201 and r.json()["credit"] == 0.75 and r.json()["expected"] == "The number after nine"
    assert rows(host, "SELECT response_text, partial_credit FROM question_responses") == [("hard", 0.75)]


async def test_answering_until_mastery_marks_the_activity_mastered_and_its_grade_pending(host, client):
    a = await _ready(client, host, items=[fill_item(), fill_item("p-addition", "One and one make ___.", ["2"])])
    progress = None
    for _ in range(30):
        item = (await next_item(client, host, a["id"])).json()["item"]
        right = "4" if "Two plus" in item["prompt"] else "2"
        progress = (await answer(client, host, a["id"], item["item_id"], response=right)).json()["progress"]
        if progress["mastered"]:
            break
    assert progress["mastered"] and progress["score"] == 100.0 and progress["concepts_mastered"] == 2
    assert progress["grade"]["status"] in ("pending", "retrying", "failed", "sent")
    report = (await client.get(f"/api/activities/{a['id']}", headers=teacher(host))).json()
    assert report["learners_mastered"] == 1 and report["learners"][0]["mastered"]


async def test_answers_for_items_not_in_the_activity_are_404_and_store_nothing(host, client):
    a = await _ready(client, host)
    await course(client, host, concepts=[{"id": "p-other", "name": "Other"}])
    await import_items(client, host, [fill_item("p-other"), card()])
    await course(client, host, concepts=[{"id": "b-c", "name": "B"}], tenant=TENANT_B)
    await import_items(client, host, [fill_item("b-c")], tenant=TENANT_B)
    others = dict(rows(host, "SELECT concept || ':' || item_format, id FROM questions"))
    before = fingerprint(host)
    for item_id in (others["p-other:fill_blank"], others["p-counting:flashcard"], others["b-c:fill_blank"],
                    "no-such-item"):
        r = await answer(client, host, a["id"], item_id, response="4")
        assert r.status_code == 404 and r.json()["detail"] == "No such item in this activity.", item_id
    assert fingerprint(host) == before


async def test_unapproved_and_retired_items_are_never_shown_or_answered(host, client):
    a = await _ready(client, host, items=[fill_item(approved=False, prompt="Secret draft ___.")])
    r = await next_item(client, host, a["id"])
    assert r.json()["item"] is None and "Secret draft" not in r.text
    hidden = rows(host, "SELECT id FROM questions")[0][0]
    assert (await answer(client, host, a["id"], hidden, response="4")).status_code == 404


async def test_answers_after_the_activity_closed_are_refused_and_store_nothing(host, client):
    a = await _ready(client, host)
    item = (await next_item(client, host, a["id"])).json()["item"]
    r = await client.patch(f"/api/activities/{a['id']}", json={"status": "closed"}, headers=teacher(host))
    assert r.status_code == 200 and r.json()["status"] == "closed"
    before = fingerprint(host)
    late = await answer(client, host, a["id"], item["item_id"], response="4")
    assert late.status_code == 409 and "closed" in late.json()["detail"]
    assert fingerprint(host) == before
    await client.patch(f"/api/activities/{a['id']}", json={"status": "open", "closes_at": "2000-01-01T00:00:00Z"},
                       headers=teacher(host))
    assert (await answer(client, host, a["id"], item["item_id"], response="4")).status_code == 409
    await client.patch(f"/api/activities/{a['id']}", json={"closes_at": None}, headers=teacher(host))
    assert (await answer(client, host, a["id"], item["item_id"], response="4")).status_code == 201


async def test_a_learner_reaches_only_the_activity_of_their_launch(host, client):
    a = await _ready(client, host)
    elsewhere = await activity(host, rl="rl-other")
    for call in (next_item(client, host, elsewhere["id"]),                          # another link's activity
                 next_item(client, host, a["id"], rl="rl-other"),                    # launched from another link
                 next_item(client, host, a["id"], context="course-2"),               # another course
                 next_item(client, host, a["id"], tenant=TENANT_B),                  # another tenant
                 client.get(f"/api/activities/{a['id']}/progress", headers=learner_headers(host, rl=None))):
        r = await call
        assert r.status_code == 404, r.text


async def test_blank_answers_and_stale_hints_are_refused(host, client):
    a = await _ready(client, host)
    item = (await next_item(client, host, a["id"])).json()["item"]
    before = fingerprint(host)
    blank = await answer(client, host, a["id"], item["item_id"], response="   ")
    assert blank.status_code == 422 and "Type an answer" in blank.json()["detail"]
    no_key = await client.post(f"/api/activities/{a['id']}/answers", json={"item_id": item["item_id"], "response": "4"},
                               headers=learner_headers(host))
    assert no_key.status_code == 400
    other = rows(host, "SELECT id FROM questions WHERE id != ?", (item["item_id"],))[0][0]
    stale = await client.post(f"/api/activities/{a['id']}/hints", json={"item_id": other},
                              headers=learner_headers(host))
    assert stale.status_code == 409
    assert fingerprint(host) == before


async def test_roles_are_kept_apart(host, client):
    a = await _ready(client, host)
    assert (await client.get(f"/api/activities/{a['id']}/next", headers=teacher(host))).status_code == 403
    for path in ("/api/activities", f"/api/activities/{a['id']}", "/api/question-bank"):
        assert (await client.get(path, headers=learner_headers(host))).status_code == 403
    assert (await client.get(f"/api/activities/{a['id']}", headers=teacher(host, context="course-2"))).status_code \
        == 404


async def test_the_instructor_changes_settings_with_their_rules(host, client):
    a = await _ready(client, host)
    ok = await client.patch(f"/api/activities/{a['id']}", json={"title": "Counting drill", "concepts": ["p-counting"],
                                                                 "grading_schema": "percentage", "typo_tolerance": 2},
                            headers=teacher(host))
    assert ok.status_code == 200 and ok.json()["concepts"] == ["p-counting"] and ok.json()["typo_tolerance"] == 2
    unknown = await client.patch(f"/api/activities/{a['id']}", json={"concepts": ["nope"]}, headers=teacher(host))
    assert unknown.status_code == 422 and unknown.json()["ids"] == ["nope"]
    listing = (await client.get("/api/activities", headers=teacher(host))).json()
    assert [x["title"] for x in listing["activities"]] == ["Counting drill"]


async def test_a_learner_who_hides_from_instructors_is_counted_not_listed(host, client):
    a = await _ready(client, host)
    item = (await next_item(client, host, a["id"])).json()["item"]
    await answer(client, host, a["id"], item["item_id"], response="4")
    headers = learner_headers(host)
    etag = (await client.get("/api/profile", headers=headers)).headers["etag"]
    await client.patch("/api/profile", json={"privacy_settings": {"consent": {"instructor_visibility": False}}},
                       headers={**headers, "If-Match": etag})
    report = (await client.get(f"/api/activities/{a['id']}", headers=teacher(host))).json()
    assert report["learners"] == [] and report["hidden_learners"] == 1 and report["learners_started"] == 1


async def test_a_failed_grade_is_queued_again_by_the_instructor(host, client):
    a = await _ready(client, host)
    rows_before = rows(host, "SELECT count(*) FROM activity_progress")
    assert rows_before == [(0,)]
    item = (await next_item(client, host, a["id"])).json()["item"]
    await answer(client, host, a["id"], item["item_id"], response="4")
    from db.database import Database
    from tests.practice.helpers import scope_of

    await Database(host.env).run(scope_of().update("activity_progress", {"sync_status": "failed",
                                                                         "sync_error": "HTTP 500"},
                                                   {"activity_id": a["id"]}))
    r = await client.post(f"/api/activities/{a['id']}/grades/retry", headers=teacher(host))
    assert r.status_code == 200 and r.json()["requeued"] == 1 and r.json()["scheduled"]
    # the activity's GradeSync object sends it again on its alarm (no waiting on a timer: the
    # alarm is awaited): its count starts over and the error is the new attempt's, not the old
    await host.alarms_idle()
    assert rows(host, "SELECT sync_status, sync_attempts, sync_error != 'HTTP 500' FROM activity_progress") == \
        [("failed", 1, 1)]


async def test_coming_back_days_later_puts_the_due_review_first(host, client):
    from tests.learner.helpers import use_clock

    clock = use_clock(host)
    a = await _ready(client, host, items=[fill_item(), fill_item(prompt="Three plus one is ___."),
                                          fill_item("p-addition", "One and one make ___.", ["2"])])
    first = (await next_item(client, host, a["id"])).json()["item"]
    assert first["concept"]["id"] == "p-counting"  # its prerequisite-free concept comes first
    await answer(client, host, a["id"], first["item_id"], response="4")
    shown = (await next_item(client, host, a["id"])).json()["item"]
    assert shown["item_id"] != first["item_id"]
    clock.advance(seconds=3600)
    assert (await next_item(client, host, a["id"])).json()["item"]["resumed"] is True  # where they left off
    clock.advance(days=5)  # the first concept's review fell due meanwhile
    later = (await next_item(client, host, a["id"])).json()["item"]
    assert later["reason"] == "review" and later["concept"]["id"] == first["concept"]["id"]


async def test_practice_answers_reach_the_sessions_struggle_detector_once(host, client):
    # given a learner in a learning session (as a launch opens one)
    from struggle.service import object_name

    a = await _ready(client, host)
    (session_id,) = rows(host, "SELECT id FROM learning_sessions")[-1]
    headers = auth(host, user="learner-1", context="course-1", roles=[LEARNER], resource_link_id="rl-practice",
                   learning_session_id=session_id)
    item = (await client.get(f"/api/activities/{a['id']}/next", headers=headers)).json()["item"]

    # when they answer wrongly, then send the same answer again (a retry)
    body = {"item_id": item["item_id"], "response": "nonsense"}
    first = await client.post(f"/api/activities/{a['id']}/answers", json=body,
                              headers={**headers, "Idempotency-Key": "k-struggle"})
    again = await client.post(f"/api/activities/{a['id']}/answers", json=body,
                              headers={**headers, "Idempotency-Key": "k-struggle"})

    # then the detector assessed the answer once, on the item's concept, and the replay says nothing new
    assert first.status_code == 201 and first.json()["struggle"]["assessment"]["concept_id"] == first.json()["concept"]["concept_id"]
    assert again.status_code == 201 and again.json()["struggle"] is None
    stats = await host.env.STRUGGLE_DETECTOR.getByName(object_name(TENANT_A, session_id)).stats()
    assert stats["counters"]["answers"] == 1 and stats["counters"]["wrong_answers"] == 1


async def test_the_class_overview_lists_practice_activities_with_their_grade_sync(host, client):
    # given a learner who answered right in a graded practice activity (a score to send)
    a = await _ready(client, host, grading_schema="percentage")
    item = (await next_item(client, host, a["id"])).json()["item"]
    assert (await answer(client, host, a["id"], item["item_id"], response="4")).status_code == 201
    await host.alarms_idle()  # the activity's GradeSync object has done what it will do
    (status, score), = rows(host, "SELECT sync_status, score FROM activity_progress")
    assert (status, score) == ("failed", 100.0)  # this rig's activity has no AGS grant: GradeSync gave up

    # when the instructor downloads the overview's activities table
    ltik = teacher(host)["Authorization"].split()[1]
    r = await client.get("/app/courses/course-1/overview/activities.csv", params={"ltik": ltik})

    # then the practice activity is a row with its learner, score and where its grade stands
    assert r.status_code == 200, r.text[-2000:]
    line = next(l for l in r.text.splitlines() if l.startswith(a["title"] + ","))
    cells = line.split(",")
    assert cells[1] == "1" and float(cells[3]) == 100.0, line
    assert (cells[5], cells[6], cells[7]) == ("0", "0", "1"), line  # sent, pending, failed


async def test_an_unreachable_struggle_detector_never_costs_the_learner_their_answer(host, client, monkeypatch):
    # given a learning session whose detector cannot be reached
    from struggle import service as struggle_service

    a = await _ready(client, host)
    (session_id,) = rows(host, "SELECT id FROM learning_sessions")[-1]
    headers = auth(host, user="learner-1", context="course-1", roles=[LEARNER], resource_link_id="rl-practice",
                   learning_session_id=session_id)

    async def unreachable(*args, **kwargs):
        raise ConnectionError("the detector's isolate is gone")

    monkeypatch.setattr(struggle_service, "report_answer", unreachable)
    item = (await client.get(f"/api/activities/{a['id']}/next", headers=headers)).json()["item"]

    # when the learner answers
    r = await client.post(f"/api/activities/{a['id']}/answers", json={"item_id": item["item_id"], "response": "4"},
                          headers={**headers, "Idempotency-Key": "k-unreachable"})

    # then the answer is recorded and answered as usual, without a struggle decision
    assert r.status_code == 201 and r.json()["struggle"] is None
    assert rows(host, "SELECT count(*) FROM question_responses WHERE activity_id = ?", (a["id"],)) == [(1,)]
