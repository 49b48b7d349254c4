"""The holes an outside probe found, one test per attack: each is refused with a clear
answer, and nothing is written."""

import re
import sqlite3
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from devhost.demo_lms import INSTRUCTOR, LEARNER, LTI, DemoLMS, serve
from tests.conftest import DEV_VARS, TENANT_A, LoopbackServer, auth, token
from tests.lti.conftest import page_config

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person"


def rows(host, table: str, binding: str = "D1_PRIMARY") -> list:
    conn = sqlite3.connect(host.d1[binding].path)
    try:
        return conn.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        conn.close()


# -- 1. dynamic registration links are single use ---------------------------------------

@pytest.fixture
def second_platform():
    p = DemoLMS(client_id="20000000000002", deployment_id="2:def")
    with serve(p, LoopbackServer) as server:
        p.server = server
        yield p


def _link(tool_url: str, **body) -> dict:
    r = httpx.post(tool_url + "/admin/registration-links", headers=ADMIN, json={"tenant_name": "Dyn U", **body})
    assert r.status_code == 201, r.text
    return r.json()


def _open_link(url: str, platform: DemoLMS, token_value: str = "reg-token-1") -> httpx.Response:
    return _get(url, openid_configuration=platform.url + "/.well-known/openid-configuration",
                registration_token=token_value)


def _get(url: str, **params) -> httpx.Response:
    """GET the link with the platform's parameters added to its own query (the code)."""
    return httpx.get(url + "&" + urlencode(params))


def _confirm(tool_url: str, page: httpx.Response, origin: str | None = None) -> httpx.Response:
    attempt = re.search(r'name="attempt" value="([^"]+)"', page.text).group(1)
    return httpx.post(tool_url + "/lti/register", data={"attempt": attempt}, headers={"Origin": origin or tool_url})


def test_dynamic_registration_registers_the_platform_once(http_host, platform):
    platform.tool_url = http_host.url
    link = _link(http_host.url)
    page = _open_link(link["registration_url"], platform)
    assert page.status_code == 200 and 'id="register-confirm"' in page.text and "Dyn U" in page.text
    done = _confirm(http_host.url, page)
    assert done.status_code == 200 and page_config(done.text)["closeRegistration"] is True
    sent = platform.registrations[-1]
    assert sent["initiate_login_uri"] == http_host.url + "/lti/login"
    assert sent["jwks_uri"] == http_host.url + "/.well-known/jwks.json"
    (platform_row,) = rows(http_host.host, "lti_platforms")
    assert platform_row[1] == link["tenant_id"]
    login = httpx.get(http_host.url + "/lti/login", params={
        "iss": platform.issuer, "login_hint": "h", "target_link_uri": http_host.url + "/lti/launch",
        "client_id": "dyn-client-1", "lti_deployment_id": "dyn-deployment-1"})
    assert login.status_code == 302


def test_reused_registration_link_cannot_register_a_second_platform(http_host, platform, second_platform):
    for p in (platform, second_platform):
        p.tool_url = http_host.url
    link = _link(http_host.url)
    assert _confirm(http_host.url, _open_link(link["registration_url"], platform)).status_code == 200
    again = _open_link(link["registration_url"], second_platform)
    assert again.status_code == 409 and "already used" in again.text
    assert again.headers["content-type"].startswith("text/html")
    assert second_platform.registrations == [] and len(rows(http_host.host, "lti_platforms")) == 1


def test_a_registration_link_cannot_be_claimed_twice_at_once(http_host, platform, second_platform):
    for p in (platform, second_platform):
        p.tool_url = http_host.url
    link = _link(http_host.url)
    first = _open_link(link["registration_url"], platform)  # claimed, awaiting confirmation
    second = _open_link(link["registration_url"], second_platform)
    assert first.status_code == 200 and second.status_code == 409
    assert _confirm(http_host.url, first).status_code == 200
    assert len(rows(http_host.host, "lti_platforms")) == 1


def test_a_failed_registration_gives_the_link_back(http_host, platform):
    platform.tool_url = http_host.url
    link = _link(http_host.url)
    refused = _confirm(http_host.url, _open_link(link["registration_url"], platform, token_value="wrong-token"))
    assert refused.status_code == 502 and 'id="correlation-id"' in refused.text
    assert rows(http_host.host, "lti_platforms") == []
    ok = _confirm(http_host.url, _open_link(link["registration_url"], platform))
    assert ok.status_code == 200 and len(rows(http_host.host, "lti_platforms")) == 1


def test_an_expired_registration_link_is_refused(http_host, platform):
    platform.tool_url = http_host.url
    link = _link(http_host.url, valid_hours=1)
    http_host.host.clock.advance(3601)
    r = _open_link(link["registration_url"], platform)
    assert r.status_code == 400 and "expired" in r.text and rows(http_host.host, "lti_platforms") == []


def test_a_registration_confirmed_from_another_site_is_refused(http_host, platform):
    platform.tool_url = http_host.url
    page = _open_link(_link(http_host.url)["registration_url"], platform)
    r = _confirm(http_host.url, page, origin="https://evil.example")
    assert r.status_code == 400 and rows(http_host.host, "lti_platforms") == [] and platform.registrations == []


def test_the_registration_code_never_reaches_the_access_log():
    import logging

    from devhost.__main__ import _PathOnlyAccessLog

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/lti/register?reg_code=SECRET&x=1", "1.1", 200), None)
    assert _PathOnlyAccessLog().filter(record) and "SECRET" not in record.getMessage()


# -- 2. institution and system roles are not course authority --------------------------

@pytest.mark.parametrize("extra", [f"{INSTITUTION}#Instructor", f"{SYSTEM}#Administrator",
                                   f"{INSTITUTION}#Administrator"])
def test_institution_or_system_role_does_not_make_a_learner_an_instructor(lti, extra):
    lti.platform.next_user = {"sub": "user-9", "roles": [LEARNER, extra], "message_type": "LtiResourceLinkRequest"}
    page = lti.launch()
    assert 'data-role="learner"' in page.text
    headers = {"Authorization": f"Bearer {lti.session_token(page.text)}"}
    r = httpx.get(lti.tool.url + "/api/courses/course-1/profiles", headers=headers)
    assert r.status_code == 403


async def test_a_token_with_only_institution_roles_reads_no_profiles(host, client):
    h = auth(host, user="u", roles=[f"{INSTITUTION}#Instructor", f"{SYSTEM}#Administrator"])
    assert (await client.get("/api/courses/course-1/profiles", headers=h)).status_code == 403


# -- 3. the state cookie check cannot be bypassed (login CSRF) -------------------------

def test_storage_state_is_refused_when_the_login_offered_no_platform_storage(lti):
    state, nonce, _cookie = lti.started()
    r = lti.post_launch(lti.platform.sign(lti.platform.claims(nonce)), state, None, origin=lti.tool.url,
                        lti_storage_state=state)
    assert r.status_code == 400 and "state cookie is missing" in r.text
    assert lti.count("learner_profiles") == 0 and lti.count("learning_sessions") == 0


def _storage_login(lti):
    r = lti.login(lti_storage_target="_parent")
    put = page_config(r.text)["storage"]
    auth_page = httpx.get(put["auth_url"])
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', auth_page.text))
    return put, fields


def test_a_forged_cross_site_post_with_the_storage_secret_is_refused(lti):
    put, fields = _storage_login(lti)
    forged = lti.post_launch(fields["id_token"], fields["state"], None, origin="https://attacker.example",
                             lti_storage_state=put["value"])
    assert forged.status_code == 400 and "own page" in forged.text
    assert lti.count("learner_profiles") == 0


def test_the_state_itself_is_not_the_storage_secret(lti):
    put, fields = _storage_login(lti)
    r = lti.post_launch(fields["id_token"], fields["state"], None, origin=lti.tool.url,
                        lti_storage_state=fields["state"])
    assert r.status_code == 400 and "does not match" in r.text and lti.count("learner_profiles") == 0


# -- 4. consent is honoured ------------------------------------------------------------

async def _learner_hides(client, host, user: str):
    h = auth(host, user=user)
    etag = (await client.get("/api/profile", headers=h)).headers["etag"]
    r = await client.patch("/api/profile", headers={**h, "If-Match": etag},
                           json={"privacy_settings": {"consent": {"instructor_visibility": False}}})
    assert r.status_code == 200, r.text


async def test_a_learner_who_hides_from_instructors_is_not_listed_or_readable(host, client):
    from tests.api.helpers import seed_learner

    hidden = await seed_learner(host, TENANT_A, "learner-1")
    await seed_learner(host, TENANT_A, "learner-2")
    await _learner_hides(client, host, "learner-1")
    teacher = auth(host, user="teacher", roles=[INSTRUCTOR])
    listing = await client.get("/api/courses/course-1/profiles", headers=teacher)
    assert [p["lti_user_id"] for p in listing.json()["profiles"]] == ["learner-2"]
    assert listing.json()["hidden_by_consent"] == 1
    direct = await client.get(f"/api/courses/course-1/profiles/{hidden['id']}", headers=teacher)
    assert direct.status_code == 404


def test_instructors_and_tas_are_not_listed_as_learners_unless_asked(lti):
    lti.launch()  # user-1, a learner
    lti.platform.next_user = {"sub": "ta-1", "roles": [
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
        "message_type": "LtiResourceLinkRequest"}
    lti.launch()
    lti.platform.next_user = {"sub": "teacher-1", "roles": [INSTRUCTOR], "message_type": "LtiResourceLinkRequest"}
    headers = {"Authorization": f"Bearer {lti.session_token(lti.launch().text)}"}
    learners = httpx.get(lti.tool.url + "/api/courses/course-1/profiles", headers=headers).json()
    assert [p["lti_user_id"] for p in learners["profiles"]] == ["user-1"]
    everyone = httpx.get(lti.tool.url + "/api/courses/course-1/profiles", params={"include": "everyone"},
                         headers=headers).json()
    assert sorted(p["lti_user_id"] for p in everyone["profiles"]) == ["ta-1", "teacher-1", "user-1"]


# -- 5. re-registering never moves a tenant's data --------------------------------------

def test_reregistering_a_platform_does_not_move_the_tenants_database(http_host, platform):
    platform.tool_url = http_host.url
    body = {"tenant_name": "Pinned U", "issuer": platform.issuer, "client_id": platform.client_id,
            "deployment_ids": [platform.deployment_id], **{k: v for k, v in platform.endpoints().items()
                                                           if k != "issuer"}}
    first = httpx.post(http_host.url + "/admin/platforms", headers=ADMIN, json={**body, "d1_binding": "D1_DEDICATED_A"})
    assert first.status_code == 201 and first.json()["d1_binding"] == "D1_DEDICATED_A"
    tenant = first.json()["tenant_id"]
    rig_page = _launch_as(http_host, platform)
    assert rig_page.status_code == 200
    again = httpx.post(http_host.url + "/admin/platforms", headers=ADMIN, json={**body, "tenant_name": "Pinned U2"})
    assert again.status_code == 201 and again.json()["d1_binding"] == "D1_DEDICATED_A"
    moved = httpx.post(http_host.url + "/admin/platforms", headers=ADMIN, json={**body, "d1_binding": "D1_PRIMARY"})
    assert moved.status_code == 409 and "does not move" in moved.json()["detail"]
    # The learner's profile is still where the tenant's data lives, and still readable.
    me = httpx.get(http_host.url + "/api/profile",
                   headers={"Authorization": f"Bearer {token(http_host.host, tenant=tenant, user='user-1')}"})
    assert me.status_code == 200
    assert len(rows(http_host.host, "learner_profiles", "D1_DEDICATED_A")) == 1
    assert rows(http_host.host, "learner_profiles") == []
    (tenant_row,) = [r for r in rows(http_host.host, "tenants") if r[0] == tenant]
    assert tenant_row[1] == "Pinned U2" and tenant_row[2] == "D1_DEDICATED_A"


def _launch_as(http_host, platform):
    login = httpx.get(http_host.url + "/lti/login", params={
        "iss": platform.issuer, "login_hint": "h", "target_link_uri": http_host.url + "/lti/launch",
        "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id})
    assert login.status_code == 302, login.text
    cookie = login.headers["set-cookie"].split(";")[0]
    auth_page = httpx.get(login.headers["location"])
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', auth_page.text))
    landed = httpx.post(http_host.url + "/lti/launch", data=fields, headers={"Cookie": cookie})
    return httpx.get(landed.headers["location"]) if landed.status_code == 303 else landed


def test_a_platform_of_one_tenant_cannot_be_registered_into_another(http_host, platform):
    platform.tool_url = http_host.url
    body = {"tenant_name": "A", "issuer": platform.issuer, "client_id": platform.client_id,
            "deployment_ids": [platform.deployment_id], **{k: v for k, v in platform.endpoints().items()
                                                           if k != "issuer"}}
    first = httpx.post(http_host.url + "/admin/platforms", headers=ADMIN, json=body)
    other = httpx.post(http_host.url + "/admin/platforms", headers=ADMIN,
                       json={**body, "tenant_id": "cccccccc-cccc-4ccc-8ccc-cccccccccccc"})
    assert first.status_code == 201 and other.status_code == 409
    assert {r[1] for r in rows(http_host.host, "lti_platforms")} == {first.json()["tenant_id"]}


# -- 6. launch input the database would refuse is refused first -------------------------

@pytest.mark.parametrize("overrides,claim", [
    ({LTI + "context": {"id": "c" * 300, "title": "Too long"}}, "context"),
    ({"sub": "s" * 300}, "sub"),
    ({LTI + "resource_link": {"id": "r" * 300}}, "resource_link"),
    ({LTI + "roles": [LEARNER] * 101}, "roles"),
    ({LTI + "roles": ["x" * 300]}, "roles"),
    ({"name": "n" * 1001}, "name"),
    ({LTI + "custom": {f"k{i}": "v" for i in range(51)}}, "custom"),
    ({LTI + "custom": "not-an-object"}, "custom"),
    ({"https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {"lineitems": "ftp://x"}}, "ags endpoint"),
    ({LTI + "launch_presentation": {"return_url": "javascript:alert(1)"}}, "launch_presentation"),
], ids=["long-context", "long-sub", "long-resource-link", "101-roles", "long-role", "long-name", "many-custom",
        "custom-not-object", "ags-not-http", "return-url-not-http"])
def test_launch_claim_the_database_would_refuse_is_refused_before_any_write(lti, overrides, claim):
    state, nonce, cookie = lti.started()
    r = lti.post_launch(lti.platform.sign(lti.platform.claims(nonce, **overrides)), state, cookie)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert f'<code id="error-claim">{claim}</code>' in r.text
    assert lti.count("learner_profiles") == 0 and lti.count("learning_sessions") == 0


def test_fifty_context_roles_and_more_give_a_working_session(lti):
    many = [f"http://purl.imsglobal.org/vocab/lis/v2/institution/person#Role{i}" for i in range(90)] + [LEARNER]
    lti.platform.next_user = {"sub": "user-1", "roles": many, "message_type": "LtiResourceLinkRequest"}
    page = lti.launch()
    r = httpx.get(lti.tool.url + "/api/profile", headers={"Authorization": f"Bearer {lti.session_token(page.text)}"})
    assert r.status_code == 200


# -- 7. a Durable Object or KV failure in a browser flow is a readable page -------------

@pytest.mark.parametrize("binding", ["OIDC_STATE", "LTI_PLATFORMS"])
def test_a_binding_failure_during_login_is_a_page_with_a_correlation_id(lti, binding):
    httpx.post(lti.tool.url + "/__devhost/faults", json={"binding": binding, "mode": "unavailable"})
    r = lti.login()
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert 'id="correlation-id"' in r.text and "Traceback" not in r.text and "retry-after" in r.headers


def test_a_durable_object_failure_during_launch_is_a_page_and_writes_nothing(lti):
    state, nonce, cookie = lti.started()
    httpx.post(lti.tool.url + "/__devhost/faults", json={"binding": "OIDC_STATE", "mode": "unavailable"})
    r = lti.post_launch(lti.platform.sign(lti.platform.claims(nonce)), state, cookie)
    assert r.status_code == 503 and 'id="correlation-id"' in r.text
    assert lti.count("learner_profiles") == 0


async def test_an_unexpected_error_on_a_page_is_html_and_on_the_api_is_problem_json(host, client, monkeypatch):
    from db import profiles

    async def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(profiles, "course_learners", broken)
    monkeypatch.setattr(profiles, "get_by_user", broken)
    teacher = token(host, user="t", roles=[INSTRUCTOR])
    page = await client.get("/app", params={"ltik": teacher})
    api = await client.get("/api/profile", headers=auth(host))
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html") and "boom" not in page.text
    assert api.status_code == 500 and api.headers["content-type"] == "application/problem+json"


# -- 8. admin auth ---------------------------------------------------------------------

def test_a_non_ascii_admin_bearer_is_401_not_500(http_host):
    r = httpx.post(http_host.url + "/admin/platforms", headers={"Authorization": "Bearer ñøpé".encode()},
                   content=b"{}")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_an_unauthenticated_admin_call_is_401_before_its_body_is_looked_at(http_host):
    for body in (b"{not json", b'{"tenant_name": 5}', b"x" * 100):
        r = httpx.post(http_host.url + "/admin/platforms", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 401 and "errors" not in r.json()


# -- 9. dynamic registration does not echo internals and checks URLs properly ----------

def test_dynamic_registration_error_is_generic_with_a_correlation_id(http_host):
    link = _link(http_host.url)
    r = _get(link["registration_url"], openid_configuration="http://127.0.0.1:9/.well-known/x")
    assert r.status_code == 502 and 'id="correlation-id"' in r.text
    assert "127.0.0.1:9" not in r.text and "refused" not in r.text.lower() and "connect" not in r.text.lower()


@pytest.mark.parametrize("url", ["http://localhost.evil.example/cfg", "http://127.0.0.1.nip.io/cfg",
                                 "http://evil.example/cfg", "ftp://127.0.0.1/cfg", "https://user:pw@evil.example/",
                                 "not a url"])
def test_openid_configuration_url_is_checked_on_the_parsed_host(http_host, url):
    link = _link(http_host.url)
    r = _get(link["registration_url"], openid_configuration=url)
    assert r.status_code == 400 and "openid_configuration" in r.text
    # The link was not spent by a refused request.
    status = rows(http_host.host, "registration_links")[0][4]
    assert status == "open"


def test_plain_http_loopback_is_refused_unless_the_tool_runs_locally(tmp_path):
    from lti.urls import UrlPolicyError, check_platform_url

    with pytest.raises(UrlPolicyError, match="only when the tool runs locally"):
        check_platform_url("http://127.0.0.1:8000/cfg", allow_http_loopback=False)
    assert check_platform_url("http://127.0.0.1:8000/cfg", allow_http_loopback=True)
    assert check_platform_url("https://canvas.example.edu/x", allow_http_loopback=False)


# -- 10. target_link_uri is compared as a URL ------------------------------------------

@pytest.mark.parametrize("target", ["{tool}/lti/launchEVIL", "{tool}/lti/launch/../admin", "{tool}.evil.example/lti/launch",
                                    "{tool}@evil.example/lti/launch"])
def test_target_link_uri_that_only_starts_like_the_launch_url_is_refused(lti, target):
    r = lti.login(target_link_uri=target.format(tool=lti.tool.url))
    assert r.status_code == 400 and "target_link_uri" in r.text


def test_target_link_uri_with_a_query_is_accepted(lti):
    r = lti.login(target_link_uri=lti.tool.url + "/lti/launch?placement=course_navigation")
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["location"]).query)["redirect_uri"][0].endswith("placement=course_navigation")


def test_an_error_the_platform_posts_back_is_shown_escaped(lti):
    state, _nonce, cookie = lti.started()
    r = lti.post_launch(None, state, cookie, error="login_required", error_description="<b>x</b>")
    assert r.status_code == 400 and "<b>x</b>" not in r.text and "&lt;b&gt;x&lt;/b&gt;" in r.text
    assert lti.count("learner_profiles") == 0
