"""Names on the insight pages come from the course roster (NRPS), cached per course: an
instructor's launch refreshes the copy; when the platform refuses, the page still renders,
with LTI user ids, and says why; an old copy is refreshed by the page."""

import sqlite3

import httpx

from devhost.demo_lms import INSTRUCTOR
from tests.insights.conftest import launch
from tests.insights.helpers import row_labels


def _roster(host, tenant_id: str) -> dict[str, str]:
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    try:
        return dict(conn.execute("SELECT lti_user_id, name FROM course_roster WHERE tenant_id = ?", (tenant_id,)))
    finally:
        conn.close()


def _overview(http_host, course, home: str) -> str:
    token = home.split("ltik=")[1]
    return httpx.get(f"{http_host.url}/app/courses/{course.course_id}/overview", params={"ltik": token},
                     timeout=30).text


def test_an_instructor_launch_refreshes_the_roster_copy_and_pages_show_names(http_host, course):
    home = launch(http_host, course, {"sub": "teacher-1", "name": "Grace Hopper", "roles": [INSTRUCTOR]})
    page = _overview(http_host, course, home)
    names = {l["user_id"]: l["name"] for l in course.seeded.learners}
    stored = _roster(http_host.host, course.tenant_id)
    assert {u: stored[u] for u in names} == names and stored["teacher-1"] == "Grace Hopper"
    assert sorted(row_labels(page)) == sorted(names.values()) and 'id="roster-note"' not in page


def test_when_the_roster_service_fails_the_page_shows_ids_and_says_why(http_host, course):
    course.nrps_status = 403
    home = launch(http_host, course, {"sub": "teacher-1", "name": "Grace Hopper", "roles": [INSTRUCTOR]})
    page = _overview(http_host, course, home)
    assert 'id="roster-note"' in page and "roster service failed" in page and "HTTP 403" in page
    assert sorted(row_labels(page)) == sorted(l["user_id"] for l in course.seeded.learners)
    assert _roster(http_host.host, course.tenant_id) == {}
    course.nrps_status = 200  # the platform is back: the next view refreshes the missing copy
    page = _overview(http_host, course, home)
    assert 'id="roster-note"' not in page and course.seeded.learners[0]["name"] in page
