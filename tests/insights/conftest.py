"""A Canvas-like course on another site (localhost) registered as a platform, with a seeded
class of 30 learners x 12 concepts whose names its NRPS roster serves."""

import asyncio
import re
from html import unescape

import httpx
import pytest

from devhost import class_seed
from devhost.demo_lms import INSTRUCTOR, DemoLMS, serve
from tests.conftest import DEV_VARS, LoopbackServer


@pytest.fixture
def course(http_host):
    platform = DemoLMS(course_title="Algebra I")
    with serve(platform, LoopbackServer, host="localhost") as server:
        platform.server = server
        platform.tool_url = http_host.url
        platform.page_size = 10  # the roster comes in pages (Link rel=next)
        r = httpx.post(f"{http_host.url}/admin/platforms",
                       headers={"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"},
                       json={"tenant_name": "Insight U", "issuer": platform.issuer, "client_id": platform.client_id,
                             "deployment_ids": [platform.deployment_id],
                             **{k: v for k, v in platform.endpoints().items() if k != "issuer"}})
        assert r.status_code == 201, r.text
        platform.tenant_id = r.json()["tenant_id"]
        cls = asyncio.run(class_seed.seed(http_host.host.env, platform.tenant_id, platform.course_id, 30))
        platform.members = cls.members() + [{"user_id": "teacher-1", "name": "Grace Hopper", "roles": [INSTRUCTOR],
                                             "status": "Active"}]
        platform.seeded = cls
        yield platform


def launch(http_host, platform, user: dict) -> str:
    """A real launch (OIDC login, signed id_token); returns the session page it lands on."""
    platform.next_user = {**user, "message_type": "LtiResourceLinkRequest"}
    login = httpx.get(http_host.url + "/lti/login", params={
        "iss": platform.issuer, "login_hint": "hint", "target_link_uri": http_host.url + "/lti/launch",
        "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id})
    cookie = login.headers["set-cookie"].split(";")[0]
    auth = httpx.get(login.headers["location"])
    fields = {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text)}
    landed = httpx.post(http_host.url + "/lti/launch", data=fields, headers={"Cookie": cookie})
    assert landed.status_code == 303, landed.text
    return landed.headers["location"]
