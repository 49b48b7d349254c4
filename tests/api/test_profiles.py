"""The learner-profile API: reads, optimistic updates, instructor views, export, erasure."""

import sqlite3

import pytest

from tests.api.helpers import fingerprint, seed_learner
from tests.conftest import INSTRUCTOR, TENANT_A, TENANT_B, auth, token


async def test_learner_reads_own_profile_with_an_etag(host, client):
    row = await seed_learner(host, TENANT_A, "learner-1")
    r = await client.get("/api/profile", headers=auth(host))
    assert r.status_code == 200
    assert r.json()["id"] == row["id"] and r.json()["cognitive_profile"] == {}
    assert r.headers["etag"] == f'"{row["id"]}.v1"'


async def test_update_with_current_etag_succeeds_and_stale_etag_gets_412(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    etag = (await client.get("/api/profile", headers=auth(host))).headers["etag"]
    body = {"cognitive_profile": {"learning_velocity": 2.5, "preferred_modality": "visual",
                                  "memory_patterns": {"fractions": 0.4},
                                  "forgetting_curve": {"initial_retention": 0.9, "decay_rate": 0.2},
                                  "optimal_difficulty": 6},
            "privacy_settings": {"consent": {"analytics": True}, "data_sharing": "none"}}
    r = await client.patch("/api/profile", json=body, headers={**auth(host), "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["cognitive_profile"]["learning_velocity"] == 2.5
    assert r.json()["privacy_settings"]["consent"]["analytics"] is True
    assert r.json()["version"] == 2 and r.headers["etag"] != etag
    stale = await client.patch("/api/profile", json=body, headers={**auth(host), "If-Match": etag})
    assert stale.status_code == 412 and stale.json()["type"] == "/problems/stale-write"
    assert stale.json()["current_etag"] == r.headers["etag"]
    again = await client.get("/api/profile", headers=auth(host))
    assert again.json()["version"] == 2


async def test_update_without_if_match_is_428(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    r = await client.patch("/api/profile", json={"privacy_settings": {}}, headers=auth(host))
    assert r.status_code == 428


async def test_instructor_reads_profiles_of_its_own_course_only(host, client):
    a1 = await seed_learner(host, TENANT_A, "learner-1", course="course-1")
    await seed_learner(host, TENANT_A, "learner-2", course="course-2")
    teacher = auth(host, user="teacher", context="course-1", roles=[INSTRUCTOR])
    r = await client.get("/api/courses/course-1/profiles", headers=teacher)
    assert r.status_code == 200
    assert [p["lti_user_id"] for p in r.json()["profiles"]] == ["learner-1"]
    assert (await client.get(f"/api/courses/course-1/profiles/{a1['id']}", headers=teacher)).status_code == 200
    # Another course than the launch context: indistinguishable from a missing one.
    assert (await client.get("/api/courses/course-2/profiles", headers=teacher)).status_code == 404
    # A learner is not an instructor.
    assert (await client.get("/api/courses/course-1/profiles", headers=auth(host))).status_code == 403


async def test_instructor_cannot_read_a_learner_outside_its_course_or_tenant(host, client):
    other_course = await seed_learner(host, TENANT_A, "learner-2", course="course-2")
    other_tenant = await seed_learner(host, TENANT_B, "learner-1", course="course-1")
    teacher = auth(host, user="teacher", context="course-1", roles=[INSTRUCTOR])
    for pid in (other_course["id"], other_tenant["id"], "00000000-0000-4000-8000-000000000000"):
        r = await client.get(f"/api/courses/course-1/profiles/{pid}", headers=teacher)
        assert r.status_code == 404 and r.json()["detail"] == "No such learner profile."


async def test_export_returns_every_row_about_the_caller_across_tables(host, client):
    row = await seed_learner(host, TENANT_A, "learner-1", extra_rows=True)
    await seed_learner(host, TENANT_A, "learner-2", extra_rows=True)
    r = await client.get("/api/profile/export", headers=auth(host))
    assert r.status_code == 200
    tables = r.json()["tables"]
    assert tables["learner_profiles"][0]["id"] == row["id"]
    for name in ("learning_sessions", "chat_conversations", "chat_messages", "struggle_events", "knowledge_state"):
        assert len(tables[name]) == 1, name
        assert all(t.get("learner_id", row["id"]) == row["id"] for t in tables[name])


async def test_erasure_removes_the_callers_rows_everywhere_and_audits_without_personal_data(host, client):
    row = await seed_learner(host, TENANT_A, "learner-1", extra_rows=True)
    keep = await seed_learner(host, TENANT_A, "learner-2", extra_rows=True)
    r = await client.delete("/api/profile", headers=auth(host))
    assert r.status_code == 200
    erased = r.json()  # what was erased, per table, as the learner's page shows it
    assert erased["rows_deleted"]["chat_messages"] == 1 and erased["rows_deleted"]["learner_profiles"] == 1
    assert erased["total"] == sum(erased["rows_deleted"].values()) >= 6
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    for table in ("learner_profiles", "learning_sessions", "chat_conversations", "chat_messages",
                  "struggle_events", "knowledge_state"):
        column = "id" if table == "learner_profiles" else "learner_id"
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (row["id"],)).fetchone()[0] == 0
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (keep["id"],)).fetchone()[0] >= 1
    (detail,) = conn.execute("SELECT detail FROM audit_log WHERE action = 'erasure'").fetchone()
    assert "learner-1" not in detail and row["id"] not in detail
    assert '"chat_messages":1' in detail.replace(" ", "")
    conn.close()
    assert (await client.get("/api/profile", headers=auth(host))).status_code == 404


BAD_PATCHES = [
    ({"cognitive_profile": {"learning_velocity": "fast"}}, 422),          # wrong type
    ({"cognitive_profile": {"optimal_difficulty": 11}}, 422),             # seed range 1..10
    ({"cognitive_profile": {"memory_patterns": {"x": 1.5}}}, 422),        # 0..1
    ({"cognitive_profile": {"preferred_modality": "telepathy"}}, 422),
    ({"cognitive_profile": {"surprise": 1}}, 422),                        # unknown field
    ({"privacy_settings": {"consent": {"analytics": "yes"}}}, 422),
    ({"privacy_settings": {"data_sharing": "everyone"}}, 422),
    ({}, 422),                                                            # nothing to change
    ([1, 2, 3], 422),                                                     # not an object
    ("just a string", 422),
]


@pytest.mark.parametrize("body,status", BAD_PATCHES)
async def test_bad_profile_updates_are_refused_and_change_nothing(host, client, body, status):
    await seed_learner(host, TENANT_A, "learner-1")
    etag = (await client.get("/api/profile", headers=auth(host))).headers["etag"]
    before = fingerprint(host)
    r = await client.patch("/api/profile", json=body, headers={**auth(host), "If-Match": etag})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert fingerprint(host) == before


@pytest.mark.parametrize("raw,ctype,status", [
    (b"{not json", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
    (b"x" * (64 * 1024 + 10), "application/json", 413),
])
async def test_malformed_or_oversize_bodies_are_refused_and_change_nothing(host, client, raw, ctype, status):
    await seed_learner(host, TENANT_A, "learner-1")
    etag = (await client.get("/api/profile", headers=auth(host))).headers["etag"]
    before = fingerprint(host)
    r = await client.patch("/api/profile", content=raw, headers={**auth(host), "If-Match": etag,
                                                                 "content-type": ctype})
    assert r.status_code == status
    assert fingerprint(host) == before


async def test_bad_tokens_are_refused_with_specific_401s(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    import jwt

    cases = {
        "missing": ({}, "Authorization: Bearer"),
        "not a jwt": ({"Authorization": "Bearer abc"}, "well-formed"),
        "forged": ({"Authorization": "Bearer " + jwt.encode(
            {"iss": "atomic-guide", "aud": "atomic-guide-api", "sub": "learner-1", "tid": TENANT_A, "ctx": "c",
             "roles": [], "iat": 1, "exp": 4102444800, "jti": "x"}, "not-the-key" * 4, algorithm="HS256")},
                   "signature"),
        "expired": ({"Authorization": f"Bearer {token(host, ttl_s=-3600)}"}, "expired"),
        "unknown tenant": ({"Authorization": f"Bearer {token(host, tenant='cccccccc-cccc-4ccc-8ccc-cccccccccccc')}"},
                           "tenant"),
        "alg none": ({"Authorization": "Bearer " + jwt.encode(
            {"iss": "atomic-guide", "aud": "atomic-guide-api", "sub": "u", "tid": TENANT_A}, None, algorithm="none")},
                     "algorithm"),
    }
    before = fingerprint(host)
    for name, (headers, fragment) in cases.items():
        r = await client.get("/api/profile", headers=headers)
        assert r.status_code == 401, name
        assert fragment in r.json()["detail"], (name, r.json()["detail"])
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert fingerprint(host) == before
