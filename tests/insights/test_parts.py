"""The smaller parts around the insight pages: the nightly job's edges, roster names and
refusals, how flags are read, the activities' grade sync, a course too large to compute
on its first view."""

import json

import pytest

from db.system import system_scope
from insights import activities, job, roster, service, signals
from tests.conftest import TENANT_A
from tests.insights.helpers import seeded, teacher_token


class _Step:
    """The Workflow step surface, running each step at once."""

    def __init__(self):
        self.names = []

    def do(self, name, config=None):
        self.names.append(name)

        def wrap(fn):
            return fn
        return wrap


async def test_the_job_lists_active_courses_only_and_caps_them(host, monkeypatch):
    await seeded(host, learners=3, course="course-1")
    from devhost import class_seed

    await class_seed.seed(host.env, TENANT_A, "course-2", 2, prefix="b", concept_prefix="second")
    info = await job.list_courses(host.env, TENANT_A)
    assert info["courses"] == ["course-1", "course-2"] and info["truncated"] is False
    monkeypatch.setattr(job, "MAX_COURSES", 1)
    info = await job.list_courses(host.env, TENANT_A)
    assert info["courses"] == ["course-1"] and info["truncated"] is True
    step = _Step()
    out = await job.run_snapshots(host.env, {"payload": {"tenant_id": TENANT_A}}, step)
    assert out == {"status": "complete", "tenant_id": TENANT_A, "courses": 1, "learners": 3, "truncated": True}
    assert step.names == ["courses", "course 1"]


async def test_the_job_skips_an_unknown_tenant_and_refuses_a_run_without_one(host):
    out = await job.run_snapshots(host.env, {"payload": {"tenant_id": "no-such-tenant"}}, _Step())
    assert out["status"] == "skipped"
    with pytest.raises(job.Fatal):
        await job.run_snapshots(host.env, {"payload": {}}, _Step())
    assert job.instance_id("a b", "2026-01-05").startswith("insights-") and " " not in job.instance_id("a b", "2026-01-05")


def test_roster_names_and_freshness():
    assert roster.member_name({"name": "  Ada   Lovelace "}) == "Ada Lovelace"
    assert roster.member_name({"given_name": "Alan", "family_name": "Turing"}) == "Alan Turing"
    assert roster.member_name({"user_id": "x"}) is None
    assert roster.member_name({"name": "x" * 400}) == "x" * 300
    assert roster.is_stale(None, 0, 24)
    assert roster.is_stale("2026-01-01T00:00:00.000Z", 1_767_312_000.0, 1)       # a day later, TTL 1 h
    assert not roster.is_stale("2026-01-01T00:00:00.000Z", 1_767_225_600.0 + 60, 1)


def test_roster_ttl_comes_from_the_var_with_a_default():
    class Env:
        ROSTER_TTL_HOURS = "2"
    assert roster.ttl_hours(Env()) == 2.0
    Env.ROSTER_TTL_HOURS = "soon"
    assert roster.ttl_hours(Env()) == roster.DEFAULT_TTL_HOURS
    assert roster.ttl_hours(object()) == roster.DEFAULT_TTL_HOURS


async def test_a_roster_refresh_says_why_it_cannot_run(host):
    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    with pytest.raises(roster.RosterUnavailable, match="no launch"):
        await roster.refresh(host.env, scope, "course-9")
    from lti.launch_flow import course_services_key

    await host.env.LTI_PLATFORMS.put(course_services_key(TENANT_A, "course-9"), json.dumps(
        {"issuer": "https://x.example", "client_id": "c", "nrps": {}}))
    with pytest.raises(roster.RosterUnavailable, match="did not grant roster access"):
        await roster.refresh(host.env, scope, "course-9")
    await host.env.LTI_PLATFORMS.put(course_services_key(TENANT_A, "course-9"), json.dumps(
        {"issuer": "https://x.example", "client_id": "c", "nrps": {"context_memberships_url": "https://x.example/m"}}))
    with pytest.raises(roster.RosterUnavailable, match="registration is gone"):
        await roster.refresh(host.env, scope, "course-9")
    assert (await roster.refresh_quietly(host.env, scope, "course-9"))["status"] == "failed"

    class Broken:
        LTI_PLATFORMS = None
    out = await roster.refresh_quietly(Broken(), scope, "course-9")  # an unexpected error is contained too
    assert out["status"] == "failed"


def test_a_launch_without_an_execution_context_schedules_no_refresh():
    class Request:
        scope = {"env": object()}
    assert roster.refresh_after_launch(Request(), None, "c") is False


def test_flags_carry_the_evidence_of_the_rule_that_fired():
    row = {"learner_id": "L", "session_id": "S", "concept_id": None, "event_type": "rapid_guessing", "severity": 0.7,
           "detected_at": "2026-01-01T00:00:00.000Z",
           "signals": json.dumps({"concept": "frac", "reasons": [
               {"code": "idle", "evidence": {"idle_s": 1}},
               {"code": "rapid_guessing", "evidence": {"fast_answers": 4}}]})}
    e = signals.event(row)
    assert e["concept"] == "frac" and e["evidence"] == {"fast_answers": 4}
    old = {**row, "event_type": "idle", "signals": json.dumps({"idle_s": 300, "nested": {"x": 1}})}
    assert signals.event(old)["evidence"] == {"idle_s": 300}
    assert signals.event({**row, "signals": "not json"})["evidence"] == {}
    assert signals.reason_label("wheel_spinning") == "Wheel-spinning" and "Beck" in signals.reason_rule("wheel_spinning")
    assert signals.reason_label("brand_new_rule") == "Brand new rule" and signals.reason_rule("x")
    assert signals.help_label("instructor_note") == "Note to instructor" and signals.help_label("new_kind") == "New kind"


def test_grade_sync_of_the_course_mastery_column():
    a = activities.mastery_activity([
        {"average_mastery": 90, "passed_back_at": "2026-01-01T00:00:00.000Z"},
        {"average_mastery": 85, "passed_back_at": None},
        {"average_mastery": 20, "passed_back_at": None}], threshold=80)
    assert a["sync"] == {"sent": 1, "pending": 1, "failed": 0, "not_sent": 1}
    assert a["completed"] == 2 and a["mean_score"] == 65.0 and a["failed_recorded"] is False
    assert activities.mastery_activity([], 80)["mean_score"] is None


def test_grade_sync_of_a_practice_activity_counts_what_each_learner_row_keeps():
    config = {"id": "a1", "title": "Fractions", "assessment_type": "fill_blank", "mastery_threshold": 80}
    a = activities.practice_activity(config, [
        {"score": 100, "mastered": 1, "sync_status": "sent"}, {"score": 50, "mastered": 0, "sync_status": "retrying"},
        {"score": 60, "mastered": 0, "sync_status": "pending"}, {"score": 90, "mastered": 1, "sync_status": "failed"},
        {"score": 0, "mastered": 0, "sync_status": "idle"}, {"score": 10, "mastered": 0, "sync_status": "not_graded"}])
    assert a["sync"] == {"sent": 1, "pending": 2, "failed": 1, "not_sent": 2} and a["failed_recorded"] is True
    assert (a["learners"], a["completed"], a["mean_score"], a["threshold"], a["kind"]) == (6, 2, 51.67, 80.0,
                                                                                          "fill_blank")
    assert activities.practice_activity(config, [])["mean_score"] is None


async def test_a_course_too_large_for_a_first_view_waits_for_the_night(host, client, monkeypatch):
    await seeded(host, learners=3)
    monkeypatch.setattr(service, "ON_DEMAND_MAX_SESSIONS", 2)
    r = await client.get("/app/courses/course-1/overview", params={"ltik": teacher_token(host)})
    assert r.status_code == 200 and 'id="overview-pending"' in r.text
    api = await client.get("/api/courses/course-1/overview", headers={"Authorization": f"Bearer {teacher_token(host)}"})
    assert api.json()["pending"] is True and api.json()["summary"] is None


def test_the_minimum_group_comes_from_the_var():
    class Env:
        INSIGHTS_MIN_GROUP = "3"
    assert service.min_group(Env()) == 3
    Env.INSIGHTS_MIN_GROUP = "many"
    assert service.min_group(Env()) == 5
