"""The tool on loopback HTTP, the test platform on loopback HTTP, registered together."""

import json
import re
import sqlite3
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import DEV_VARS, LoopbackServer
from devhost.demo_lms import DemoLMS as Platform, serve


@pytest.fixture
def platform():
    p = Platform()
    with serve(p, LoopbackServer) as server:
        p.server = server
        yield p


@pytest.fixture
def lti(http_host, platform):
    platform.tool_url = http_host.url
    r = httpx.post(f"{http_host.url}/admin/platforms", headers={"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"},
                   json={"tenant_name": "Platform U", "issuer": platform.issuer, "client_id": platform.client_id,
                         "deployment_ids": [platform.deployment_id],
                         "auth_login_url": platform.url + "/api/lti/authorize_redirect",
                         "auth_token_url": platform.url + "/login/oauth2/token",
                         "key_set_url": platform.url + "/api/lti/security/jwks"})
    assert r.status_code == 201, r.text
    return LtiRig(http_host, platform, r.json()["tenant_id"])


class LtiRig:
    def __init__(self, tool, platform, tenant_id):
        self.tool = tool
        self.platform = platform
        self.tenant_id = tenant_id
        self.host = tool.host

    def login_params(self, **over):
        params = {"iss": self.platform.issuer, "login_hint": "hint-1", "target_link_uri": self.tool.url + "/lti/launch",
                  "client_id": self.platform.client_id, "lti_deployment_id": self.platform.deployment_id,
                  "lti_message_hint": "msg-1"}
        params.update(over)
        return {k: v for k, v in params.items() if v is not None}

    def login(self, method="GET", **over) -> httpx.Response:
        params = self.login_params(**over)
        if method == "GET":
            return httpx.get(self.tool.url + "/lti/login", params=params)
        return httpx.post(self.tool.url + "/lti/login", data=params)

    def started(self, **over) -> tuple[str, str, str]:
        """A successful login: (state, nonce, cookie header value)."""
        r = self.login(**over)
        assert r.status_code == 302, r.text
        q = parse_qs(urlsplit(r.headers["location"]).query)
        cookie = r.headers["set-cookie"].split(";")[0]
        return q["state"][0], q["nonce"][0], cookie

    def post_launch(self, id_token: str | None, state: str | None, cookie: str | None, origin: str | None = None,
                    **extra) -> httpx.Response:
        data = {k: v for k, v in {"id_token": id_token, "state": state, **extra}.items() if v is not None}
        headers = {"Cookie": cookie} if cookie else {}
        if origin:
            headers["Origin"] = origin
        return httpx.post(self.tool.url + "/lti/launch", data=data, headers=headers)

    def launch(self, follow: bool = True, **claim_overrides) -> httpx.Response:
        """The whole flow: login -> the platform's authorize endpoint (following the tool's
        redirect over real HTTP) -> the auto-posted launch -> (follow) the page it leads to."""
        r = self.login()
        assert r.status_code == 302, r.text
        cookie = r.headers["set-cookie"].split(";")[0]
        self.platform.claim_overrides = claim_overrides
        auth = httpx.get(r.headers["location"])
        assert auth.status_code == 200, auth.text
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text))
        landed = self.post_launch(unescape(fields["id_token"]), unescape(fields["state"]), cookie)
        if follow and landed.status_code == 303:
            return httpx.get(landed.headers["location"])
        return landed

    def count(self, table: str) -> int:
        conn = sqlite3.connect(self.host.d1["D1_PRIMARY"].path)
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()

    @staticmethod
    def session_token(page: str) -> str:
        """The session token a page gives its scripts (in its JSON config)."""
        return re.search(r'"token":"([^"]+)"', page).group(1)


def page_config(page: str) -> dict:
    """The JSON config a page of the tool hands its scripts."""
    return json.loads(re.search(r'<script type="application/json" id="ag-config">(.*?)</script>', page,
                                re.S).group(1))
