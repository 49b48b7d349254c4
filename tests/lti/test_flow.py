"""The whole LTI flow against the demo LMS (a Canvas stand-in) over loopback HTTP."""

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

from devhost.demo_lms import INSTRUCTOR, LEARNER, LTI
from tests.conftest import DEV_VARS
from tests.lti.conftest import page_config


def test_login_redirects_to_the_platform_with_state_nonce_and_a_partitioned_cookie(lti):
    for method in ("GET", "POST"):
        r = lti.login(method=method)
        assert r.status_code == 302
        url = urlsplit(r.headers["location"])
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert f"{url.scheme}://{url.netloc}{url.path}" == lti.platform.url + "/api/lti/authorize_redirect"
        assert q["response_type"] == "id_token" and q["response_mode"] == "form_post" and q["prompt"] == "none"
        assert q["scope"] == "openid" and q["client_id"] == lti.platform.client_id
        assert q["redirect_uri"] == lti.tool.url + "/lti/launch" and q["lti_message_hint"] == "msg-1"
        assert len(q["state"]) >= 40 and len(q["nonce"]) >= 40
        cookie = r.headers["set-cookie"]
        for attr in ("SameSite=None", "Secure", "Partitioned", "HttpOnly", "Max-Age=600"):
            assert attr in cookie


def test_learner_launch_lands_on_the_session_page_and_creates_profile_and_session(lti):
    landed = lti.launch(follow=False)
    assert landed.status_code == 303
    location = urlsplit(landed.headers["location"])
    assert location.path == "/app" and "ltik" in parse_qs(location.query)
    # The launch forgets the state cookie it used.
    assert "Max-Age=0" in landed.headers["set-cookie"] and landed.headers["set-cookie"].startswith("ag_state_")
    assert lti.count("learner_profiles") == 1 and lti.count("learning_sessions") == 1
    page = httpx.get(landed.headers["location"])
    assert page.status_code == 200 and 'data-role="learner"' in page.text and "Ada Lovelace" in page.text
    token = lti.session_token(page.text)
    me = httpx.get(lti.tool.url + "/api/profile", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["lti_user_id"] == "user-1"
    claims = jwt.decode(token, DEV_VARS["SESSION_SIGNING_KEY"], algorithms=["HS256"], audience="atomic-guide-api")
    assert claims["tid"] == lti.tenant_id and claims["ctx"] == "course-1" and claims["sid"]
    assert claims["roles"] == [LEARNER]


def test_reloading_the_landing_page_shows_the_page_again(lti):
    landed = lti.launch(follow=False)
    first = httpx.get(landed.headers["location"])
    again = httpx.get(landed.headers["location"])  # a reload: GET of the same page, no re-posted launch
    assert first.status_code == again.status_code == 200 and 'data-role="learner"' in again.text
    assert "replayed" not in again.text


def test_second_launch_reuses_the_profile_and_opens_a_new_session(lti):
    assert lti.launch().status_code == 200
    assert lti.launch().status_code == 200
    assert lti.count("learner_profiles") == 1 and lti.count("learning_sessions") == 2


def test_instructor_launch_lands_on_the_instructor_page(lti):
    lti.platform.next_user = {"sub": "teacher-1", "roles": [INSTRUCTOR], "message_type": "LtiResourceLinkRequest"}
    r = lti.launch()
    assert r.status_code == 200 and 'data-role="instructor"' in r.text and "Class overview" in r.text


def test_platform_jwks_is_cached_by_kid(lti):
    lti.launch()
    lti.launch()
    assert lti.platform.jwks_fetches == 1
    lti.platform.jwks_mode = "slow"  # a slow platform does not slow a launch with a known kid
    assert lti.launch().status_code == 200


def test_platform_storage_launch_works_without_the_cookie(lti):
    r = lti.login(lti_storage_target="_parent")
    assert r.status_code == 200
    put = page_config(r.text)["storage"]
    state = parse_qs(urlsplit(put["auth_url"]).query)["state"][0]
    # Platform storage keeps a secret of its own, not the state (which travels in forms).
    assert put["mode"] == "put" and put["key"] == f"ag_state_{state}" and put["value"] != state
    auth = httpx.get(put["auth_url"])
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text))
    first = lti.post_launch(fields["id_token"], fields["state"], cookie=None)
    assert first.status_code == 200 and page_config(first.text)["storage"]["mode"] == "get"
    assert lti.count("learner_profiles") == 0
    done = lti.post_launch(fields["id_token"], fields["state"], cookie=None, lti_storage_state=put["value"],
                           origin=lti.tool.url)
    assert done.status_code == 303 and lti.count("learner_profiles") == 1


def test_deep_linking_round_trip_returns_a_signed_response_to_the_platform(lti):
    lti.platform.next_user = {"sub": "teacher-1", "roles": [INSTRUCTOR], "message_type": "LtiDeepLinkingRequest"}
    page = lti.launch()
    assert page.status_code == 200 and 'id="dl-form"' in page.text
    dl = re.search(r'name="dl" value="([^"]+)"', page.text).group(1)
    back = httpx.post(lti.tool.url + "/lti/deep-link/respond", data={"dl": dl, "item": ["guide", "mastery-check"]})
    assert back.status_code == 200
    # The page may post only to the platform's return URL (CSP form-action).
    assert lti.platform.url in back.headers["content-security-policy"].split("form-action")[1].split(";")[0]
    action = re.search(r'action="([^"]+)"', back.text).group(1)
    token = re.search(r'name="JWT" value="([^"]+)"', back.text).group(1)
    assert action == lti.platform.url + "/deep_link_return"
    done = httpx.post(action, data={"JWT": token})  # the platform verifies it with the tool's JWKS
    assert done.status_code == 200
    claims = lti.platform.deep_link_returns[-1]
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse" and claims[LTI + "version"] == "1.3.0"
    assert claims["iss"] == lti.platform.client_id and claims[LTI + "deployment_id"] == lti.platform.deployment_id
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [i["type"] for i in items] == ["ltiResourceLink", "ltiResourceLink"]
    assert items[1]["lineItem"]["scoreMaximum"] == 100
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"


def test_deep_link_respond_refuses_a_forged_or_missing_session(lti):
    r = httpx.post(lti.tool.url + "/lti/deep-link/respond", data={"dl": "forged", "item": "guide"})
    assert r.status_code == 400 and "deep linking session" in r.text


def _instructor(lti):
    lti.platform.next_user = {"sub": "teacher-1", "roles": [INSTRUCTOR], "message_type": "LtiResourceLinkRequest"}
    return {"Authorization": f"Bearer {lti.session_token(lti.launch().text)}"}


def test_instructor_score_reaches_the_gradebook_with_the_spec_fields(lti):
    headers = _instructor(lti)
    r = httpx.post(lti.tool.url + "/api/courses/course-1/scores", headers=headers,
                   json={"lti_user_id": "user-1", "score_given": 87.5, "score_maximum": 100})
    assert r.status_code == 200, r.text
    (score,) = lti.platform.scores
    assert score["userId"] == "user-1" and score["scoreGiven"] == 87.5 and score["scoreMaximum"] == 100
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", score["timestamp"])
    (item,) = lti.platform.line_items.values()
    assert item["tag"] == "atomic-guide-mastery" and item["resourceLinkId"] == "rl-1"
    # The second score reuses the line item and the cached service token.
    tokens = lti.platform.token_requests
    lti.platform.fail_scores_first = 2  # and rides out two 429s
    again = httpx.post(lti.tool.url + "/api/courses/course-1/scores", headers=headers,
                       json={"lti_user_id": "user-2", "score_given": 50.0, "score_maximum": 100})
    assert again.status_code == 200 and len(lti.platform.line_items) == 1
    assert lti.platform.token_requests == tokens and len(lti.platform.scores) == 2


def test_learner_mastery_sync_posts_the_average_mastery(lti):
    import sqlite3

    token = lti.session_token(lti.launch().text)
    conn = sqlite3.connect(lti.host.d1["D1_PRIMARY"].path)
    (learner_id,) = conn.execute("SELECT id FROM learner_profiles").fetchone()
    for concept, level in (("a", 0.5), ("b", 0.9)):
        conn.execute("INSERT INTO knowledge_state (id, tenant_id, learner_id, subject, topic, concept, mastery_level)"
                     " VALUES (?, ?, ?, 'math', 'algebra', ?, ?)", (concept, lti.tenant_id, learner_id, concept, level))
    conn.commit()
    conn.close()
    r = httpx.post(lti.tool.url + "/api/mastery/sync", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert lti.platform.scores[-1]["scoreGiven"] == 70.0 and lti.platform.scores[-1]["userId"] == "user-1"


def test_roster_follows_link_pagination(lti):
    r = httpx.get(lti.tool.url + "/api/courses/course-1/roster", headers=_instructor(lti))
    assert r.status_code == 200
    assert [m["user_id"] for m in r.json()["members"]] == [f"user-{i}" for i in range(7)]


def test_learners_cannot_post_scores_or_read_the_roster(lti):
    headers = {"Authorization": f"Bearer {lti.session_token(lti.launch().text)}"}
    assert httpx.get(lti.tool.url + "/api/courses/course-1/roster", headers=headers).status_code == 403
    r = httpx.post(lti.tool.url + "/api/courses/course-1/scores", headers=headers,
                   json={"lti_user_id": "user-1", "score_given": 1.0, "score_maximum": 1.0})
    assert r.status_code == 403 and lti.platform.scores == []


def test_admin_api_needs_the_admin_secret_and_canvas_presets_need_only_ids(http_host):
    body = {"tenant_name": "Canvas U", "preset": "canvas", "client_id": "170000000000042", "deployment_ids": ["9:xyz"]}
    assert httpx.post(http_host.url + "/admin/platforms", json=body).status_code == 401
    assert httpx.post(http_host.url + "/admin/platforms", json=body,
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = httpx.post(http_host.url + "/admin/platforms", json=body,
                   headers={"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"})
    assert r.status_code == 201
    assert r.json()["issuer"] == "https://canvas.instructure.com"
    assert r.json()["key_set_url"] == "https://sso.canvaslms.com/api/lti/security/jwks"
    bad = httpx.post(http_host.url + "/admin/platforms", json={"tenant_name": "X", "client_id": "1",
                                                                "deployment_ids": ["1"]},
                     headers={"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"})
    assert bad.status_code == 422


def test_cli_registers_a_canvas_platform_with_only_ids(tmp_path):
    import json
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("wrangler.jsonc", "src", "migrations", "devhost", ".dev.vars.example"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, proj / name)
    out = subprocess.run([sys.executable, "-m", "devhost", "register-platform", "--tenant-name", "CLI U",
                          "--preset", "canvas", "--client-id", "170000000000001", "--deployment-id", "1:a"],
                         cwd=proj, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    reg = json.loads(out.stdout)
    assert reg["issuer"] == "https://canvas.instructure.com" and reg["deployment_ids"] == ["1:a"]
    bad = subprocess.run([sys.executable, "-m", "devhost", "register-platform", "--tenant-name", "X",
                          "--client-id", "1", "--deployment-id", "1"], cwd=proj, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "without a preset" in bad.stderr
