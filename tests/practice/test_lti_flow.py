"""Activities through the LTI flow against the test platform (a Canvas stand-in on
loopback HTTP): deep linking creates the activity and its gradebook column, the first
launch of the placed link binds it, learners practise, and grades reach the gradebook
once per change, retried on failure, in the activity's own column."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from devhost.demo_lms import INSTRUCTOR, LEARNER, LTI
from tests.lti.conftest import page_config


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _as(lti, sub, role, message_type="LtiResourceLinkRequest"):
    lti.platform.next_user = {"sub": sub, "name": sub.title(), "roles": [role], "message_type": message_type}


def _idle(lti):
    r = httpx.post(lti.tool.url + "/__devhost/alarms-idle", timeout=60)
    assert r.status_code == 200


def _deep_link(lti, **fields):
    """The instructor adds a practice activity through deep linking; returns the form
    response and the selection page."""
    _as(lti, "teacher-1", INSTRUCTOR, "LtiDeepLinkingRequest")
    page = lti.launch()
    assert page.status_code == 200, page.text
    dl = re.search(r'name="dl" value="([^"]+)"', page.text).group(1)
    ltik = re.search(r'name="ltik" value="([^"]+)"', page.text).group(1)
    form = {"dl": dl, "ltik": ltik, "item": "practice", "title": "Fractions practice", "type": "fill_blank",
            "new_concepts": "Fractions\nDecimals", "mastery_threshold": "80", "grading_schema": "mastery",
            "graded": "1", "typo_tolerance": "1", "engagement_target": "20", **fields}
    return httpx.post(lti.tool.url + "/lti/deep-link/respond", data=form), page


def _return_to_platform(lti, back):
    action = re.search(r'action="([^"]+)"', back.text).group(1)
    token = re.search(r'name="JWT" value="([^"]+)"', back.text).group(1)
    assert httpx.post(unescape(action), data={"JWT": token}).status_code == 200
    return lti.platform.deep_link_returns[-1][
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]


def _placed_activity(lti):
    back, _page = _deep_link(lti)
    assert back.status_code == 200, back.text
    (item,) = _return_to_platform(lti, back)
    module = lti.platform.modules[-1]
    return item, module


def _instructor_token(lti):
    _as(lti, "teacher-1", INSTRUCTOR)
    return lti.session_token(lti.launch().text)


def _learner_launch(lti, module, sub="student-1", follow=False, **overrides):
    _as(lti, sub, LEARNER)
    return lti.launch(follow=follow, resource_link=module["resource_link_id"], custom=module["custom"], **overrides)


def _import(lti, teacher, concepts):
    items = [{"format": "fill_blank", "concept": concepts[0], "prompt": "One half as a decimal is ___.",
              "answers": ["0.5"], "hints": ["Divide 1 by 2."]},
             {"format": "fill_blank", "concept": concepts[1], "prompt": "0.25 as a fraction is ___.",
              "answers": ["1/4"]}]
    r = httpx.post(lti.tool.url + "/api/question-bank/import", json={"items": items}, headers=_bearer(teacher))
    assert r.status_code == 201, r.text


def _practise(lti, token, activity_id, until=lambda p: p["mastered"], after_each=None, limit=40):
    progress = None
    for n in range(limit):
        item = httpx.get(f"{lti.tool.url}/api/activities/{activity_id}/next", headers=_bearer(token)).json()["item"]
        right = "0.5" if "One half" in item["prompt"] else "1/4"
        r = httpx.post(f"{lti.tool.url}/api/activities/{activity_id}/answers", json={"item_id": item["item_id"],
                       "response": right}, headers={**_bearer(token), "Idempotency-Key": f"{activity_id}-{n}"})
        assert r.status_code == 201, r.text
        progress = r.json()["progress"]
        if after_each:
            after_each()
        if until(progress):
            return progress
    raise AssertionError(f"not done after {limit} answers: {progress}")


def test_deep_linking_creates_the_activity_and_its_graded_content_item(lti):
    item, module = _placed_activity(lti)
    activity_id = item["custom"]["activity_id"]
    assert item["title"] == "Fractions practice" and item["url"] == lti.tool.url + "/lti/launch"
    assert item["lineItem"] == {"scoreMaximum": 100, "label": "Fractions practice", "resourceId": activity_id,
                                "tag": "atomic-guide-activity"}
    (row,) = _rows(lti, "SELECT resource_link_id, assessment_type, grading_schema, mastery_threshold, graded, "
                        "course_context, concepts FROM assessment_configs")
    assert row[0] == f"pending:{activity_id}" and row[1:6] == ("fill_blank", "mastery", 80.0, 1, "course-1")
    assert len(eval(row[6])) == 2
    names = {r[0] for r in _rows(lti, "SELECT concept_name FROM knowledge_graph")}
    assert names == {"Fractions", "Decimals"}
    (column,) = lti.platform.line_items.values()
    assert column["resourceLinkId"] == module["resource_link_id"] and column["tag"] == "atomic-guide-activity"


def _rows(lti, sql, params=()):
    import sqlite3

    conn = sqlite3.connect(lti.host.d1["D1_PRIMARY"].path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_the_first_launch_binds_the_activity_and_every_launch_opens_it(lti):
    item, module = _placed_activity(lti)
    activity_id = item["custom"]["activity_id"]
    landed = _learner_launch(lti, module)
    assert landed.status_code == 303
    assert urlsplit(landed.headers["location"]).path == "/app/practice"
    assert _rows(lti, "SELECT resource_link_id FROM assessment_configs") == [(module["resource_link_id"],)]
    page = httpx.get(landed.headers["location"])
    assert page.status_code == 200 and "Fractions practice" in page.text
    assert page_config(page.text)["activityId"] == activity_id
    _as(lti, "teacher-1", INSTRUCTOR)
    teacher = lti.launch(follow=False, resource_link=module["resource_link_id"], custom=module["custom"])
    assert urlsplit(teacher.headers["location"]).path == f"/app/activities/{activity_id}"
    again = _learner_launch(lti, module, sub="student-2")
    assert urlsplit(again.headers["location"]).path == "/app/practice"
    assert _rows(lti, "SELECT count(*) FROM assessment_configs") == [(1,)]


def test_a_copied_course_gets_its_own_copy_of_the_activity(lti):
    item, module = _placed_activity(lti)
    _learner_launch(lti, module)
    copy = _learner_launch(lti, {**module, "resource_link_id": "rl-in-copy"},
                           **{LTI + "context": {"id": "course-copy", "title": "Copy"}})
    assert urlsplit(copy.headers["location"]).path == "/app/practice"
    rows = sorted(_rows(lti, "SELECT resource_link_id, course_context, origin_id FROM assessment_configs"))
    assert rows == sorted([(module["resource_link_id"], "course-1", None),
                           ("rl-in-copy", "course-copy", item["custom"]["activity_id"])])


def test_a_link_to_a_missing_activity_says_so(lti):
    _as(lti, "student-1", LEARNER)
    landed = lti.launch(follow=False, resource_link="rl-x", custom={"activity_id": "gone"})
    assert landed.headers["location"].split("?")[0].endswith("/app")
    assert parse_qs(urlsplit(landed.headers["location"]).query)["notice"] == ["activity-missing"]
    page = httpx.get(landed.headers["location"])
    assert 'id="activity-missing-note"' in page.text


def test_a_guide_conversation_sends_the_learner_to_the_guide_activity_page(lti):
    back, _ = _deep_link(lti, type="chat", title="Talk it through")
    (item,) = _return_to_platform(lti, back)
    landed = _learner_launch(lti, lti.platform.modules[-1])
    assert landed.status_code == 303
    assert urlsplit(landed.headers["location"]).path == f"/app/guide/{item['custom']['activity_id']}"
    # and the Guide's page is that activity's, on the concepts the instructor chose (by name)
    page = httpx.get(landed.headers["location"])
    assert page.status_code == 200 and "Talk it through" in page.text, page.text[-2000:]
    assert re.search(r"<li>Fractions</li>\s*<li>Decimals</li>", page.text), page.text[-3000:]
    assert "ltik" in parse_qs(urlsplit(landed.headers["location"]).query)


def test_a_guide_conversations_grade_reaches_the_gradebook_through_grade_sync(lti):
    # given a Guide conversation on Fractions added by deep linking and opened by a learner
    back, _ = _deep_link(lti, type="chat", title="Talk it through", new_concepts="Fractions")
    (item,) = _return_to_platform(lti, back)
    activity_id = item["custom"]["activity_id"]
    page = httpx.get(_learner_launch(lti, lti.platform.modules[-1]).headers["location"])
    token = lti.session_token(page.text)
    conversation = httpx.post(lti.tool.url + "/api/chat/conversations", json={"activity_id": activity_id},
                              headers=_bearer(token))
    assert conversation.status_code in (200, 201), conversation.text

    # when the learner explains the concept well enough for the Guide's judge
    turn = httpx.post(f"{lti.tool.url}/api/chat/conversations/{conversation.json()['id']}/messages",
                      json={"content": "Fractions are parts of a whole: the denominator says into how many equal "
                                       "parts the whole is cut and the numerator how many of them we take."},
                      headers=_bearer(token), timeout=60)
    assert turn.status_code == 200, turn.text
    graded = turn.json()["graded"]
    assert graded["grade_outcome"] == "queued" and graded["grade_sent"] == graded["grade"]
    _idle(lti)

    # then the grade went the way of every activity's: activity_progress, GradeSync, the column
    assert _rows(lti, "SELECT score, sync_status, sent_score FROM activity_progress") == [
        (graded["grade"], "sent", graded["grade"])]
    assert [s["scoreGiven"] for s in lti.platform.scores] == [graded["grade"]]
    assert lti.platform.scores[-1]["userId"] == "student-1"


def test_grades_reach_the_activitys_column_once_per_change(lti):
    item, module = _placed_activity(lti)
    activity_id = item["custom"]["activity_id"]
    teacher = _instructor_token(lti)
    concepts = [c[0] for c in _rows(lti, "SELECT concept_id FROM knowledge_graph ORDER BY concept_name DESC")]
    _import(lti, teacher, concepts)
    page = httpx.get(_learner_launch(lti, module).headers["location"])
    token = lti.session_token(page.text)
    progress = _practise(lti, token, activity_id, after_each=lambda: _idle(lti))
    assert progress["score"] == 100.0
    sent = [s["scoreGiven"] for s in lti.platform.scores]
    versions = _rows(lti, "SELECT score_version, sent_version, sync_status FROM activity_progress")
    assert sent == [50.0, 100.0] and versions == [(2, 2, "sent")]
    assert {s["line_item"] for s in lti.platform.scores} == {"1"} and len(lti.platform.line_items) == 1
    last = lti.platform.scores[-1]
    assert last["userId"] == "student-1" and last["activityProgress"] == "Completed"
    assert "2 of 2 concept(s) mastered" in last["comment"]
    # The learner page says the activity is mastered and the grade has gone to the gradebook.
    page = httpx.get(f"{lti.tool.url}/app/practice", params={"ltik": token})
    assert 'id="mastered-note"' in page.text and "has been sent to the gradebook" in page.text
    # The instructor sees what was sent and when.
    report = httpx.get(f"{lti.tool.url}/api/activities/{activity_id}", headers=_bearer(teacher)).json()
    (learner,) = report["learners"]
    assert learner["grade"]["sent_score"] == 100.0 and learner["grade"]["sent_at"] and report["learners_mastered"] == 1


def test_a_failed_send_is_retried_by_the_alarm_and_shown_to_the_instructor_meanwhile(lti):
    item, module = _placed_activity(lti)
    activity_id = item["custom"]["activity_id"]
    teacher = _instructor_token(lti)
    concepts = [c[0] for c in _rows(lti, "SELECT concept_id FROM knowledge_graph ORDER BY concept_name DESC")]
    _import(lti, teacher, concepts)
    token = lti.session_token(httpx.get(_learner_launch(lti, module).headers["location"]).text)
    lti.platform.fail_scores_first = 4  # every attempt of the first send is refused (429)
    _practise(lti, token, activity_id, until=lambda p: p["score"] > 0)
    _idle(lti)
    assert lti.platform.scores == []
    report = httpx.get(f"{lti.tool.url}/api/activities/{activity_id}", headers=_bearer(teacher)).json()
    grade = report["learners"][0]["grade"]
    assert grade["status"] == "retrying" and "HTTP 429" in grade["error"] and grade["next_attempt_at"]
    page = httpx.get(f"{lti.tool.url}/app/activities/{activity_id}", params={"ltik": teacher})
    assert "Failed; retrying" in page.text and "HTTP 429" in page.text
    lti.host.clock.advance(31)  # past the first backoff: the alarm sends again
    _idle(lti)
    assert [s["scoreGiven"] for s in lti.platform.scores] == [50.0]
    assert _rows(lti, "SELECT sync_status, sync_attempts, sync_error FROM activity_progress") == [("sent", 0, None)]


def test_a_platform_that_grants_no_score_scope_fails_the_grade_for_good(lti):
    item, module = _placed_activity(lti)
    activity_id = item["custom"]["activity_id"]
    teacher = _instructor_token(lti)
    concepts = [c[0] for c in _rows(lti, "SELECT concept_id FROM knowledge_graph ORDER BY concept_name DESC")]
    _import(lti, teacher, concepts)
    ags = {"scope": [], "lineitems": lti.platform.url + "/api/lti/courses/1/line_items"}
    landed = _learner_launch(lti, module, **{"https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": ags})
    token = lti.session_token(httpx.get(landed.headers["location"]).text)
    _practise(lti, token, activity_id, until=lambda p: p["score"] > 0)
    _idle(lti)
    assert lti.platform.scores == []
    ((status, error),) = _rows(lti, "SELECT sync_status, sync_error FROM activity_progress")
    assert status == "failed" and "did not grant grade passback" in error


def test_the_selection_form_names_what_to_fix_and_stores_nothing(lti):
    back, _page = _deep_link(lti, title="", new_concepts="", mastery_threshold="180", typo_tolerance="x")
    assert back.status_code == 422
    assert 'id="dl-errors"' in back.text and "Title" in back.text and "Mastery threshold" in back.text
    assert "choose at least one concept" in back.text
    assert _rows(lti, "SELECT count(*) FROM assessment_configs") == [(0,)]
    assert lti.platform.deep_link_returns == []


def test_practice_activities_are_created_by_the_courses_instructors_only(lti):
    _as(lti, "student-1", LEARNER, "LtiDeepLinkingRequest")
    page = lti.launch()
    assert page.status_code == 200 and 'name="ltik"' not in page.text and 'value="practice"' not in page.text
    back, page = _deep_link(lti, ltik="forged")
    assert back.status_code == 403 and "instructors" in back.text
    assert _rows(lti, "SELECT count(*) FROM assessment_configs") == [(0,)]


def test_the_selection_page_lists_the_courses_concepts(lti):
    teacher = _instructor_token(lti)
    r = httpx.post(lti.tool.url + "/api/knowledge-graph", headers=_bearer(teacher),
                   json={"concepts": [{"id": "x-ratios", "name": "Ratios"}]})
    assert r.status_code == 201
    back, page = _deep_link(lti, concept="x-ratios", new_concepts="")
    assert 'value="x-ratios"' in page.text and ">Ratios<" in page.text
    assert back.status_code == 200
    assert _rows(lti, "SELECT concepts FROM assessment_configs") == [('["x-ratios"]',)]
