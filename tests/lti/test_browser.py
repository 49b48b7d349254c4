"""End to end in headless Chromium (Debian's package): a Canvas-like course page on one
site embeds the tool from another site in an iframe; the launch completes inside the
iframe, the state cookie being a partitioned (CHIPS) third-party cookie."""

import shutil

import httpx
import pytest

from tests.conftest import DEV_VARS, LoopbackServer
from devhost.demo_lms import DemoLMS as Platform, serve

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def test_launch_completes_inside_a_cross_site_iframe(http_host):
    from playwright.sync_api import sync_playwright

    platform = Platform()
    # localhost and 127.0.0.1 are different sites: the tool's iframe is third-party.
    with serve(platform, LoopbackServer, host="localhost") as _server:
        platform.tool_url = http_host.url
        r = httpx.post(f"{http_host.url}/admin/platforms",
                       headers={"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"},
                       json={"tenant_name": "Browser U", "issuer": platform.issuer, "client_id": platform.client_id,
                             "deployment_ids": [platform.deployment_id],
                             "auth_login_url": platform.url + "/api/lti/authorize_redirect",
                             "auth_token_url": platform.url + "/login/oauth2/token",
                             "key_set_url": platform.url + "/api/lti/security/jwks"})
        assert r.status_code == 201, r.text
        login = httpx.URL(http_host.url + "/lti/login", params={
            "iss": platform.issuer, "login_hint": "hint", "target_link_uri": http_host.url + "/lti/launch",
            "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id})
        page_url = str(httpx.URL(platform.url + "/canvas", params={"src": str(login)}))
        assert CHROMIUM and shutil.which(CHROMIUM), "Debian's chromium is not installed (scripts/test installs it)"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                page = browser.new_page()
                launch_cookies: list[str] = []
                login_cookies: list[str] = []

                def seen(request):
                    headers = request.all_headers()
                    if request.url == http_host.url + "/lti/launch" and request.method == "POST":
                        launch_cookies.append(headers.get("cookie", ""))

                def answered(response):
                    if response.url.startswith(http_host.url + "/lti/login"):
                        login_cookies.append(response.all_headers().get("set-cookie", ""))

                page.on("request", seen)
                page.on("response", answered)
                page.goto(page_url)
                frame = page.frame_locator("#tool")
                heading = frame.locator("#landing")
                heading.wait_for(timeout=20_000)
                assert heading.get_attribute("data-role") == "learner"
                assert "Ada Lovelace" in heading.inner_text()
                # The state cookie was set partitioned, and the third-party iframe sent it back.
                assert login_cookies and all(a in login_cookies[0] for a in ("SameSite=None", "Secure", "Partitioned"))
                assert launch_cookies and "ag_state_" in launch_cookies[0]
                page.screenshot(path=str(http_host.host.state_root.parent / "iframe-launch.png"))
            finally:
                browser.close()
