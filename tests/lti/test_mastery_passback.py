"""Mastery to the Canvas gradebook (the fake Canvas of tests/lti/platform.py): a course
score crossing the threshold is passed back by itself, and per-concept columns are found
or created once, each score with a comment stating the evidence."""

import sqlite3
import uuid

import httpx

from devhost.demo_lms import INSTRUCTOR


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _setup(lti, concept_columns: bool, threshold: float = 80):
    lti.platform.next_user = {"sub": "teacher-1", "roles": [INSTRUCTOR], "message_type": "LtiResourceLinkRequest"}
    teacher = _bearer(lti.session_token(lti.launch().text))
    r = httpx.post(lti.tool.url + "/api/knowledge-graph", headers=teacher, json={"concepts": [
        {"id": f"{lti.tenant_id[:8]}-fractions", "name": "Fractions"}]})
    assert r.status_code == 201, r.text
    r = httpx.put(lti.tool.url + "/api/courses/course-1/mastery-settings", headers=teacher,
                  json={"mastery_threshold": threshold, "concept_columns": concept_columns})
    assert r.status_code == 200
    question = str(uuid.uuid4())
    conn = sqlite3.connect(lti.host.d1["D1_PRIMARY"].path)
    conn.execute("INSERT INTO questions (id, tenant_id, question_text, question_type, subject, topic, concept,"
                 " difficulty_level) VALUES (?, ?, 'q', 'clarifying', 'math', 'fractions', ?, 5)",
                 (question, lti.tenant_id, f"{lti.tenant_id[:8]}-fractions"))
    conn.commit()
    conn.close()
    lti.platform.next_user = {"sub": "user-1", "roles": [lti.platform.next_user["roles"][0].replace(
        "Instructor", "Learner")], "message_type": "LtiResourceLinkRequest"}
    learner = _bearer(lti.session_token(lti.launch().text))
    return learner, question


def _answer(lti, learner, question, key, correct=1):
    return httpx.post(lti.tool.url + "/api/responses", headers={**learner, "Idempotency-Key": key},
                      json={"question_id": question, "correct": correct, "response_time_ms": 30_000})


def test_crossing_the_threshold_passes_the_course_score_back_once(lti):
    learner, question = _setup(lti, concept_columns=False)
    courses = []
    for i in range(6):
        r = _answer(lti, learner, question, f"k{i}")
        assert r.status_code == 201, r.text
        courses.append(r.json()["course"])
    reached = [c for c in courses if c["reached"]]
    assert len(reached) == 1 and reached[0]["gradebook"]["status"] == "sent"
    (score,) = lti.platform.scores
    assert score["userId"] == "user-1" and score["scoreGiven"] == reached[0]["score"] >= 80
    assert "threshold 80%" in score["comment"]
    # The replay of the crossing answer returns what was sent, and sends nothing again.
    key = f"k{courses.index(reached[0])}"
    assert _answer(lti, learner, question, key).json()["course"]["gradebook"]["status"] == "sent"
    assert len(lti.platform.scores) == 1


def test_sync_sends_per_concept_columns_found_or_created_once_with_evidence(lti):
    learner, question = _setup(lti, concept_columns=True, threshold=100)
    for i, correct in enumerate((0, 1, 1)):
        assert _answer(lti, learner, question, f"c{i}", correct).status_code == 201
    for _ in range(2):
        r = httpx.post(lti.tool.url + "/api/mastery/sync", headers=learner)
        assert r.status_code == 200, r.text
        (column,) = r.json()["concept_columns"]
        assert column["status"] == "sent"
    tags = sorted(i["tag"] for i in lti.platform.line_items.values())
    assert tags == ["atomic-guide-concept:" + f"{lti.tenant_id[:8]}-fractions", "atomic-guide-mastery"]
    concept_scores = [s for s in lti.platform.scores if s["line_item"] != "1"]
    assert len(concept_scores) == 2
    assert concept_scores[-1]["comment"].startswith("Fractions: mastery ")
    assert "from 3 attempt(s), 2 right" in concept_scores[-1]["comment"]
