"""The insight pages and their API through the app: the overview shows the seeded class's
cells, filters and details; CSV downloads carry every learner with formulas escaped;
consent and the minimum group size hold everywhere; bad input gets 403/404 pages that
leak nothing; the nightly cron stores snapshots and the same-day delta shows what changed
since."""

import csv
import io
import json
import sqlite3

from db.database import Database
from db.profiles import new_id
from db.system import system_scope
from devhost.bindings._common import Fault
from tests.conftest import INSTRUCTOR, TENANT_A, TENANT_B, auth, token
from tests.insights.helpers import heatmap_cells, row_labels, seeded, store_names, teacher_token


async def _overview(client, host, **params):
    return await client.get("/app/courses/course-1/overview", params={"ltik": teacher_token(host), **params})


async def test_the_heatmap_shows_every_learners_mastery_per_concept_in_prerequisite_order(host, client):
    cls = await seeded(host)
    r = await _overview(client, host)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    cells = heatmap_cells(r.text)
    ids = {l["user_id"]: l["id"] for l in cls.learners}
    assert len(cells) == 30 * 12
    for (user, concept), mastery in cls.cells.items():
        shown = cells[(ids[user], concept)]
        assert (shown == "") if mastery is None else abs(float(shown) - mastery) < 1e-4, (user, concept)
    columns = list(dict.fromkeys(c for _r, c in heatmap_cells(r.text)))
    for c in cls.concepts:
        assert all(columns.index(p) < columns.index(c["id"]) for p in c["prerequisites"])
    assert sorted(row_labels(r.text)) == sorted(l["name"] for l in cls.learners)  # names, not ids
    assert 'id="heatmap-title">Mastery heatmap</title>' in r.text and 'id="heatmap-table"' in r.text
    for section in ("struggle", "flags", "help", "activities", "trend", "concepts"):
        assert f'id="{section}-title"' in r.text and f'id="csv-{section}"' in r.text
    assert "style=" not in r.text.split("</head>")[1]  # the CSP forbids inline styles


async def test_the_attention_filter_lists_exactly_the_flagged_and_the_wheel_spinning(host, client):
    cls = await seeded(host)
    r = await _overview(client, host, show="attention")
    spinning = {u for (u, c), n in cls.attempts.items() if n >= 10 and (cls.cells[(u, c)] or 0) < 0.95}
    expected = set(cls.flagged) | spinning
    names = {l["user_id"]: l["name"] for l in cls.learners}
    assert sorted(row_labels(r.text)) == sorted(names[u] for u in expected)
    everyone = row_labels((await _overview(client, host)).text)
    assert everyone[:len(expected)] == row_labels(r.text)  # attention first in the full list too


async def test_a_learner_and_a_concept_open_in_detail(host, client):
    cls = await seeded(host)
    learner = cls.learners[3]   # flagged in the seed
    r = await client.get(f"/app/courses/course-1/learners/{learner['id']}", params={"ltik": teacher_token(host)})
    assert r.status_code == 200 and learner["name"] in r.text
    assert "Repeated errors" in r.text and "wrong in a row: 4" in r.text and "Prerequisite review" in r.text
    assert 'id="study-tiles"' in r.text
    concept = cls.concepts[5]
    r = await client.get(f"/app/courses/course-1/concepts/{concept['id']}", params={"ltik": teacher_token(host)})
    assert r.status_code == 200 and concept["name"] in r.text
    assert "held-out AUC 0.81" in r.text and 'id="concept-histogram"' in r.text
    for p in concept["prerequisites"]:
        assert f"/app/courses/course-1/concepts/{p}?" in r.text


async def test_csv_downloads_hold_every_learner_and_escape_formula_cells(host, client):
    cls = await seeded(host, names=False)
    evil = cls.learners[0]
    await store_names(host, TENANT_A, "course-1", {**{l["user_id"]: l["name"] for l in cls.learners},
                                                   evil["user_id"]: '=HYPERLINK("http://x","y")'})
    r = await client.get("/app/courses/course-1/overview/heatmap.csv", params={"ltik": teacher_token(host)})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert len(rows) == 31 and rows[0][:3] == ["learner", "lti_user_id", "course_mastery_percent"]
    by_user = {row[1]: row for row in rows[1:]}
    assert by_user[evil["user_id"]][0] == "'=HYPERLINK(\"http://x\",\"y\")"
    c01 = rows[0].index(f"Counting ({cls.concepts[0]['id']})")
    for l in cls.learners:
        m = cls.cells[(l["user_id"], cls.concepts[0]["id"])]
        assert by_user[l["user_id"]][c01].startswith(f"{round(100 * m, 1)} ")
    # the same table through the API, with the Bearer token
    api = await client.get("/api/courses/course-1/overview/heatmap.csv",
                           headers={"Authorization": f"Bearer {teacher_token(host)}"})
    assert api.status_code == 200 and api.text == r.text and api.headers["cache-control"] == "no-store"
    for table in ("concepts", "struggle", "flags", "help", "activities", "trend"):
        t = await client.get(f"/app/courses/course-1/overview/{table}.csv", params={"ltik": teacher_token(host)})
        assert t.status_code == 200 and len(list(csv.reader(io.StringIO(t.text)))) >= 2, table
    flags = list(csv.reader(io.StringIO((await client.get(
        "/app/courses/course-1/overview/flags.csv", params={"ltik": teacher_token(host)})).text)))
    assert {row[1] for row in flags[1:]} == set(cls.flagged)
    missing = await client.get("/app/courses/course-1/overview/nope.csv", params={"ltik": teacher_token(host)})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")


async def _hide(client, host, user: str, visible: bool = False):
    h = auth(host, user=user)
    etag = (await client.get("/api/profile", headers=h)).headers["etag"]
    r = await client.patch("/api/profile", headers={**h, "If-Match": etag},
                           json={"privacy_settings": {"consent": {"instructor_visibility": visible}}})
    assert r.status_code == 200


async def test_a_learner_who_hides_leaves_every_instructor_view_at_once(host, client):
    cls = await seeded(host)
    hidden = cls.learners[3]  # flagged, so also in the flags list
    before = await _overview(client, host)
    assert hidden["name"] in before.text
    await _hide(client, host, hidden["user_id"])
    after = await _overview(client, host)
    assert hidden["name"] not in after.text and hidden["id"] not in after.text and hidden["user_id"] not in after.text
    assert len(row_labels(after.text)) == 29
    detail = await client.get(f"/app/courses/course-1/learners/{hidden['id']}", params={"ltik": teacher_token(host)})
    assert detail.status_code == 404 and hidden["name"] not in detail.text
    for table in ("heatmap", "flags"):
        text = (await client.get(f"/app/courses/course-1/overview/{table}.csv",
                                 params={"ltik": teacher_token(host)})).text
        assert hidden["user_id"] not in text and hidden["name"] not in text
    api = (await client.get("/api/courses/course-1/overview", headers={"Authorization": f"Bearer {teacher_token(host)}"})).json()
    assert hidden["id"] not in json.dumps(api["rows"]) + json.dumps(api["summary"]["flags"])
    await _hide(client, host, hidden["user_id"], visible=True)  # and back, without waiting for a snapshot
    assert hidden["name"] in (await _overview(client, host)).text


async def test_hidden_learners_enter_class_figures_only_in_a_group_of_the_minimum_size(host, client):
    cls = await seeded(host, learners=12)
    for l in cls.learners[:4]:
        await _hide(client, host, l["user_id"])
    await client.get("/__scheduled", params={"cron": "0 3 * * *"})
    await host.workflows_idle()
    page = (await _overview(client, host)).text
    assert "fewer than 5 chose this" in page and 'id="hidden-note"' in page
    summary = (await client.get("/api/courses/course-1/overview",
                                headers={"Authorization": f"Bearer {teacher_token(host)}"})).json()["summary"]
    assert summary["learners"]["counted"] == 8 and summary["concepts"][0]["learners"] == 8
    await _hide(client, host, cls.learners[4]["user_id"])
    await client.get("/__scheduled", params={"cron": "0 3 * * *"})  # same night: the run is not repeated
    await host.workflows_idle()
    from insights import service
    from db.system import system_scope as sys_scope

    await service.compute_and_store(host.env, sys_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "t"),
                                    "course-1", int(host.clock.now() * 1000))
    summary = (await client.get("/api/courses/course-1/overview",
                                headers={"Authorization": f"Bearer {teacher_token(host)}"})).json()["summary"]
    assert summary["learners"]["hidden"] == 5 and summary["learners"]["counted"] == 12


async def test_bad_input_gets_403_or_404_pages_that_leak_nothing(host, client):
    cls = await seeded(host)
    other = await seeded(host, learners=3, tenant=TENANT_B, course="course-1", prefix="other")
    secrets_ = [l["name"] for l in cls.learners] + [l["user_id"] for l in cls.learners]
    cases = [
        ("/app/courses/course-2/overview", teacher_token(host), 404),                       # another course
        ("/app/courses/course-2/overview/heatmap.csv", teacher_token(host), 404),
        (f"/app/courses/course-1/learners/{other.learners[0]['id']}", teacher_token(host), 404),  # another tenant's
        ("/app/courses/course-1/learners/not-an-id", teacher_token(host), 404),
        ("/app/courses/course-1/concepts/nope", teacher_token(host), 404),
        (f"/app/courses/course-1/concepts/{other.concepts[0]['id']}", teacher_token(host), 404),
        ("/app/courses/course-1/overview", token(host, user=cls.learners[0]["user_id"]), 403),  # a learner
        ("/app/courses/course-1/overview/heatmap.csv", token(host, user=cls.learners[0]["user_id"]), 403),
        (f"/app/courses/course-1/learners/{cls.learners[1]['id']}", token(host, user=cls.learners[0]["user_id"]), 403),
    ]
    for path, ltik, status in cases:
        r = await client.get(path, params={"ltik": ltik})
        assert r.status_code == status, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert 'id="error-title"' in r.text
        for s in secrets_:
            assert s not in r.text, (path, s)
    # another tenant's instructor on "course-1" sees their own three learners, never tenant A's
    page = (await client.get("/app/courses/course-1/overview",
                             params={"ltik": teacher_token(host, tenant=TENANT_B)})).text
    assert sorted(row_labels(page)) == sorted(l["name"] for l in other.learners)
    assert not any(s in page for s in [l["user_id"] for l in cls.learners] + [l["id"] for l in cls.learners])
    api = await client.get("/api/courses/course-2/overview", headers={"Authorization": f"Bearer {teacher_token(host)}"})
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    api = await client.get("/api/courses/course-1/overview", headers=auth(host, user=cls.learners[0]["user_id"]))
    assert api.status_code == 403


async def test_the_nightly_cron_stores_one_snapshot_per_course_and_a_rerun_replaces_it(host, client):
    await seeded(host, learners=45)
    await client.get("/__scheduled", params={"cron": "0 3 * * *"})
    await host.workflows_idle()
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    kinds = dict(conn.execute("SELECT kind, count(*) FROM analytics_snapshots WHERE tenant_id = ? "
                              "AND course_context = 'course-1' GROUP BY kind", (TENANT_A,)).fetchall())
    assert kinds == {"course": 1, "activity": 1, "learners": 2}  # 45 learners: pages of 40
    conn.close()
    from insights import job

    inst = await host.env.INSIGHTS_WORKFLOW.get(job.instance_id(TENANT_A, host_day(host)))
    out = (await inst.status())["output"]
    assert out["status"] == "complete" and out["courses"] == 1 and out["learners"] == 45
    page2 = await _overview(client, host, page="2")
    assert len(row_labels(page2.text)) == 5 and 'id="page-select"' in page2.text


def host_day(host) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(host.clock.now()))


async def test_the_same_day_delta_shows_changes_since_the_snapshot(host, client):
    cls = await seeded(host)
    await _overview(client, host)  # computes the first snapshot
    learner = cls.learners[10]
    concept = cls.concepts[0]["id"]
    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    db = Database(host.env)
    later = "2999-01-01T00:00:00.000Z"
    await db.run(scope.update("knowledge_state", {"p_learned": 0.123, "mastery_level": 0.123, "updated_at": later},
                              {"learner_id": learner["id"], "concept": concept}))
    await db.run(scope.insert("struggle_events", {
        "id": new_id(), "learner_id": learner["id"], "session_id": learner["session_id"], "concept_id": concept,
        "event_type": "help_request", "severity": 0.4, "signals": "{}", "detected_at": later}))
    page = (await _overview(client, host)).text
    assert heatmap_cells(page)[(learner["id"], concept)] == "0.1230"
    assert "+1 since the snapshot" in page and '<span class="tag">live</span>' in page
    assert "Help requested" in page


async def test_the_overview_says_so_when_names_cannot_be_read_and_shows_ids(host, client):
    cls = await seeded(host, names=False)  # no roster copy, and no launch known to refresh it from
    page = (await _overview(client, host)).text
    assert 'id="roster-note"' in page and "LTI user id" in page
    assert sorted(row_labels(page)) == sorted(l["user_id"] for l in cls.learners)


async def test_the_api_overview_answers_one_page_with_live_rows(host, client):
    cls = await seeded(host)
    r = await client.get("/api/courses/course-1/overview", params={"show": "attention"},
                         headers={"Authorization": f"Bearer {teacher_token(host)}"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["summary"]["learners"]["total"] == 30 and body["pending"] is False
    assert all(row["a"] for row in body["rows"]) and body["names"]
    bad = await client.get("/api/courses/course-1/overview", params={"page": "0"},
                           headers={"Authorization": f"Bearer {teacher_token(host)}"})
    assert bad.status_code == 422


async def test_a_d1_outage_answers_503_pages_and_problems(host, client):
    await seeded(host, learners=3)
    assert (await _overview(client, host)).status_code == 200  # the tenant is now cached for sessions
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    try:
        page = await _overview(client, host)
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        api = await client.get("/api/courses/course-1/overview", headers={"Authorization": f"Bearer {teacher_token(host)}"})
        assert api.status_code == 503
        csv_ = await client.get("/app/courses/course-1/overview/heatmap.csv", params={"ltik": teacher_token(host)})
        assert csv_.status_code == 503
        mine = await client.get("/app/progress", params={"ltik": token(host, user="student-0001")})
        assert mine.status_code == 503
    finally:
        host.faults.clear()


async def test_my_progress_shows_mastery_unlocks_reviews_time_and_the_privacy_form(host, client):
    cls = await seeded(host)
    learner = cls.learners[3]
    r = await client.get("/app/progress", params={"ltik": token(host, user=learner["user_id"])})
    assert r.status_code == 200
    for marker in ('id="my-mastery-chart"', 'id="my-mastery-table"', 'id="study-tiles"', 'id="privacy-form"',
                   'id="consent-instructor_visibility"', 'id="export-data"', 'id="erase-start"', "Unlocks"):
        assert marker in r.text, marker
    assert '"etag":"\\"' in r.text  # the page's ETag for If-Match
    assert "Prerequisite review" in r.text  # the help this learner accepted
    empty = await client.get("/app/progress", params={"ltik": token(host, user="nobody")})
    assert empty.status_code == 200 and 'id="no-profile"' in empty.text
