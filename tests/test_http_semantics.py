"""HTTP semantics and headers: security headers on every page, no caching of personal
data, HSTS on https, If-Match per RFC 9110, HEAD and OPTIONS, 405 with Allow."""

import re

import httpx
import pytest

from tests.api.helpers import seed_learner
from tests.conftest import DEV_VARS, INSTRUCTOR, TENANT_A, auth, make_host, token

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}


def csp(r) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2]
            for d in r.headers["content-security-policy"].split(";") if d.strip()}


async def pages(host, client) -> dict[str, httpx.Response]:
    await seed_learner(host, TENANT_A, "learner-1")
    return {
        "index": await client.get("/"),
        "launch-help": await client.get("/lti/launch"),
        "refusal": await client.get("/lti/login", params={"iss": "https://nowhere.example"}),
        "learner-home": await client.get("/app", params={"ltik": token(host)}),
        "instructor-home": await client.get("/app", params={"ltik": token(host, user="t", roles=[INSTRUCTOR])}),
        "no-session": await client.get("/app"),
        "not-found-page": await client.get("/app/nothing-here", params={"ltik": token(host)}),
    }


async def test_every_page_carries_a_strict_content_security_policy(host, client):
    for name, r in (await pages(host, client)).items():
        assert r.headers["content-type"].startswith("text/html"), name
        policy = csp(r)
        script = policy["script-src"]
        assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, name
        nonce = re.search(r"'nonce-([^']+)'", script).group(1)
        # every script element of the page carries the nonce or is a data block
        for tag in re.findall(r"<script[^>]*>", r.text):
            assert f'nonce="{nonce}"' in tag or 'type="application/json"' in tag, (name, tag)
        assert " on" not in " ".join(re.findall(r"<[^>]+>", r.text)).replace(" one", "").lower().replace(
            " only", ""), name  # no inline event handlers
        assert "style=" not in r.text, name
        assert "frame-ancestors" in policy and policy["default-src"] == "'none'", name
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"


async def test_session_pages_are_framed_only_by_the_launching_platform(host, client):
    from auth.session import mint_session_token

    t = mint_session_token(host.env, tenant_id=TENANT_A, lti_user_id="learner-1", context_id="course-1",
                           roles=["Learner"], frame_origins=["https://school.instructure.com"])
    r = await client.get("/app", params={"ltik": t})
    assert csp(r)["frame-ancestors"] == "https://school.instructure.com"


async def test_pages_before_a_launch_allow_only_registered_platforms_to_frame_them(host, client):
    assert csp(await client.get("/"))["frame-ancestors"] == "'none'"  # nothing registered yet
    r = await client.post("/admin/platforms", headers=ADMIN, json={
        "tenant_name": "Canvas U", "preset": "canvas", "client_id": "1", "deployment_ids": ["1:a"],
        "frame_origins": ["https://canvas.example.edu"]})
    assert r.status_code == 201
    ancestors = csp(await client.get("/"))["frame-ancestors"].split()
    assert sorted(ancestors) == sorted(["https://*.instructure.com", "https://canvas.instructure.com",
                                        "https://canvas.example.edu", "https://sso.canvaslms.com"])


async def test_api_answers_are_never_cached(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    for r in (await client.get("/api/profile", headers=auth(host)),
              await client.get("/api/profile/export", headers=auth(host)),
              await client.get("/api/profile"),
              await client.get("/api/courses/course-1/profiles", headers=auth(host, roles=[INSTRUCTOR]))):
        assert r.headers["cache-control"] == "no-store"


async def test_hsts_is_sent_on_https_deployments_only(tmp_path, client):
    assert "strict-transport-security" not in (await client.get("/health")).headers
    host = await make_host(tmp_path / "https", extra_vars={"TOOL_BASE_URL": "https://tool.example"})
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="https://tool.example") as c:
            for path in ("/", "/health", "/lti/config.json"):
                assert (await c.get(path)).headers["strict-transport-security"].startswith("max-age=")
    finally:
        await host.aclose()


async def test_if_match_star_matches_any_current_profile(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    r = await client.patch("/api/profile", headers={**auth(host), "If-Match": "*"},
                           json={"privacy_settings": {"data_sharing": "none"}})
    assert r.status_code == 200 and r.json()["version"] == 2


async def test_if_match_among_several_tags_matches(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    etag = (await client.get("/api/profile", headers=auth(host))).headers["etag"]
    r = await client.patch("/api/profile", headers={**auth(host), "If-Match": f'"x.v9", {etag}'},
                           json={"privacy_settings": {}})
    assert r.status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b'{"nope": 1}', b"", b"[]"])
async def test_missing_if_match_is_428_whatever_the_body(host, client, body):
    await seed_learner(host, TENANT_A, "learner-1")
    r = await client.patch("/api/profile", content=body, headers={**auth(host), "content-type": "application/json"})
    assert r.status_code == 428 and r.json()["type"] == "/problems/if-match-required"


async def test_a_body_that_is_not_json_is_415(host, client):
    await seed_learner(host, TENANT_A, "learner-1")
    r = await client.patch("/api/profile", content=b"a=b", headers={**auth(host), "If-Match": "*",
                                                                     "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/lti/config.json", "/health", "/"])
async def test_head_answers_like_get_without_a_body(client, path):
    get, head = await client.get(path), await client.head(path)
    assert head.status_code == get.status_code and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


@pytest.mark.parametrize("path,methods", [
    ("/api/profile", {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}),
    ("/lti/login", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("/.well-known/jwks.json", {"GET", "HEAD", "OPTIONS"}),
])
async def test_options_lists_the_allowed_methods(client, path, methods):
    r = await client.options(path)
    assert r.status_code == 204 and set(r.headers["allow"].split(", ")) == methods


async def test_a_wrong_method_is_405_with_every_allowed_method(client):
    r = await client.put("/api/profile")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE",
                                                                            "OPTIONS"}
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("method", ["QUERY", "PROPFIND", "FOO"])
async def test_a_method_the_workers_bridge_cannot_carry_is_405_or_404_not_500(client, method):
    # The SDK's ASGI bridge only knows http.HTTPMethod; entry.py answers the rest itself.
    r = await client.request(method, "/api/profile")
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
    assert r.json()["instance"] == "/api/profile" and r.headers["x-correlation-id"]
    r = await client.request(method, "/nothing/here")
    assert r.status_code == 404 and r.json()["status"] == 404


async def test_static_assets_are_fingerprinted_and_cached_for_a_year(client):
    from web import assets

    r = await client.get(assets.path("app.js"))
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert (await client.get("/static/app.0000000000.js")).status_code == 404
    assert (await client.get("/static/nope.js")).status_code == 404
