"""End to end in headless Chromium: a Canvas-like course page on one site (localhost)
embeds the tool from another site (127.0.0.1) in an iframe, as Canvas does. The launch
completes inside the iframe with a partitioned state cookie; every page loads in a frame
of the registered platform and is refused in a frame of any other origin (CSP
frame-ancestors); the pages work by keyboard and at phone width."""

import httpx
import pytest

from devhost.demo_lms import INSTRUCTOR, DemoLMS, serve
from tests.browser import DESKTOP, PHONE, chromium
from tests.conftest import DEV_VARS, LoopbackServer

pytestmark = pytest.mark.browser


@pytest.fixture
def course(http_host):
    """The demo LMS on localhost (another site than the tool), registered as a platform."""
    platform = DemoLMS()
    with serve(platform, LoopbackServer, host="localhost") as server:
        platform.server = server
        platform.tool_url = http_host.url
        r = httpx.post(f"{http_host.url}/admin/platforms",
                       headers={"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"},
                       json={"tenant_name": "Browser U", "issuer": platform.issuer, "client_id": platform.client_id,
                             "deployment_ids": [platform.deployment_id],
                             **{k: v for k, v in platform.endpoints().items() if k != "issuer"}})
        assert r.status_code == 201, r.text
        yield platform


@pytest.fixture
def elsewhere():
    """Another origin (same host, other port) that is not a registered platform."""
    other = DemoLMS(client_id="unregistered")
    with serve(other, LoopbackServer, host="localhost"):
        yield other


def framed(platform, url: str) -> str:
    return str(httpx.URL(platform.url + "/canvas", params={"src": url}))


def login_url(http_host, platform) -> str:
    return str(httpx.URL(http_host.url + "/lti/login", params={
        "iss": platform.issuer, "login_hint": "hint", "target_link_uri": http_host.url + "/lti/launch",
        "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id}))


def test_launch_completes_inside_a_cross_site_iframe(http_host, course, tmp_path):
    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP)
        launch_cookies: list[str] = []
        login_cookies: list[str] = []
        page.on("request", lambda r: launch_cookies.append(r.all_headers().get("cookie", ""))
                if r.url == http_host.url + "/lti/launch" and r.method == "POST" else None)
        page.on("response", lambda r: login_cookies.append(r.all_headers().get("set-cookie", ""))
                if r.url.startswith(http_host.url + "/lti/login") else None)
        page.goto(framed(course, login_url(http_host, course)))
        heading = page.frame_locator("#tool").locator("#landing")
        heading.wait_for(timeout=20_000)
        assert heading.get_attribute("data-role") == "learner" and "Ada Lovelace" in heading.inner_text()
        # The state cookie was set partitioned, and the third-party iframe sent it back.
        assert login_cookies and all(a in login_cookies[0] for a in ("SameSite=None", "Secure", "Partitioned"))
        assert launch_cookies and "ag_state_" in launch_cookies[0]
        page.screenshot(path=str(tmp_path / "iframe-launch.png"))


def _session_pages(http_host, course) -> dict[str, tuple[str, str]]:
    """name -> (url, the element the page shows); /app pages come from real launches."""
    import re
    from html import unescape

    def launch_as(user: dict) -> str:
        course.next_user = user
        login = httpx.get(login_url(http_host, course))
        cookie = login.headers["set-cookie"].split(";")[0]
        auth = httpx.get(login.headers["location"])
        fields = {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text)}
        landed = httpx.post(http_host.url + "/lti/launch", data=fields, headers={"Cookie": cookie})
        assert landed.status_code == 303, landed.text
        return landed.headers["location"]

    learner = launch_as({"sub": "user-1", "name": "Ada Lovelace", "roles": [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"], "message_type": "LtiResourceLinkRequest"})
    teacher = launch_as({"sub": "teacher-1", "name": "Grace Hopper", "roles": [INSTRUCTOR],
                         "message_type": "LtiResourceLinkRequest"})
    return {
        "front door": (http_host.url + "/", "#index-title"),
        "launch help": (http_host.url + "/lti/launch", "#launch-help"),
        "refusal": (http_host.url + "/lti/login?iss=https://unknown.example", "#error-title"),
        "learner home": (learner, "#landing"),
        "instructor home": (teacher, "#overview-title"),
    }


def test_every_page_loads_in_the_platform_frame_and_is_refused_elsewhere(http_host, course, elsewhere):
    pages = _session_pages(http_host, course)
    with chromium() as browser:
        for name, (url, marker) in pages.items():
            page = browser.new_page(viewport=DESKTOP)
            page.goto(framed(course, url))
            page.frame_locator("#tool").locator(marker).wait_for(timeout=15_000)  # loads where registered

            refused = browser.new_page(viewport=DESKTOP)
            messages: list[str] = []
            refused.on("console", lambda m: messages.append(m.text))
            refused.goto(framed(elsewhere, url))
            refused.wait_for_timeout(300)
            frame = refused.frame(name="tool")
            for _ in range(40):  # until Chromium has reported the refusal
                if any("frame-ancestors" in m for m in messages):
                    break
                refused.wait_for_timeout(100)
            assert any("frame-ancestors" in m for m in messages), (name, messages)
            assert frame is None or frame.locator(marker).count() == 0, name
            page.close()
            refused.close()


def test_pages_work_by_keyboard_alone(http_host, course):
    learner, _marker = _session_pages(http_host, course)["learner home"]
    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP)
        page.goto(learner)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        # The deep-linking choice: tick by Space, send by Enter, and the platform gets it.
        course.next_user = {"sub": "teacher-1", "name": "Grace Hopper", "roles": [INSTRUCTOR],
                            "message_type": "LtiDeepLinkingRequest"}
        page.goto(framed(course, login_url(http_host, course)))
        frame = page.frame_locator("#tool")
        frame.locator("#dl-form").wait_for(timeout=15_000)
        boxes = frame.locator("input[name=item]")
        boxes.nth(1).focus()
        page.keyboard.press("Space")
        assert boxes.nth(0).is_checked() and boxes.nth(1).is_checked()
        # the practice activity (ticked first) needs a concept: typed into its field
        frame.locator("#dl-new-concepts").focus()
        page.keyboard.type("Fractions")
        frame.locator("#dl-submit").focus()
        page.keyboard.press("Enter")
        frame.locator("#dl-done").wait_for(timeout=15_000)
        items = course.deep_link_returns[-1]["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
        assert len(items) == 2 and items[0]["custom"]["activity_id"]


def test_pages_fit_a_phone_width_iframe(http_host, course, tmp_path):
    pages = _session_pages(http_host, course)
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        for name, (url, marker) in pages.items():
            page.goto(url)
            page.locator(marker).wait_for(timeout=15_000)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (name, overflow)
            page.screenshot(path=str(tmp_path / f"{name.replace(' ', '-')}-phone.png"), full_page=True)
