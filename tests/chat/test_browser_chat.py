"""The Guide in headless Chromium (Debian's package), after a real LTI launch: the chat
panel on the learner home streams the reply as it is written, is keyboard usable,
escapes what it shows, survives a reload mid-reply without a second model call, and
shows a budget limit as a message in the chat; the Guide-conversation activity page
keeps a mastery score and the grade reaches the platform's gradebook."""

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devhost.bindings._common import Fault
from tests.chat.helpers import ADMIN, seed_bank
from tests.conftest import INSTRUCTOR, token
from tests.lti.conftest import lti, platform  # noqa: F401  (fixtures)
from tests.browser import PHONE, chromium

pytestmark = pytest.mark.browser


def _admin(lti) -> dict:
    return {"Authorization": "Bearer " + token(lti.host, tenant=lti.tenant_id, user="admin-1", roles=[ADMIN])}


def _learner_page(lti) -> str:
    landed = lti.launch(follow=False)
    assert landed.status_code == 303, landed.text
    return landed.headers["location"]


RECORD_LENGTHS = """() => {
  window.__lengths = [];
  const log = document.getElementById('guide-log');
  new MutationObserver(() => {
    const bodies = log.querySelectorAll('.chat-guide .body');
    if (bodies.length) window.__lengths.push(bodies[bodies.length - 1].textContent.length);
  }).observe(log, {subtree: true, childList: true, characterData: true});
}"""
REPLIED = "() => document.getElementById('guide-status').textContent === 'The Guide replied.'"


def test_the_learner_home_chat_streams_the_reply_and_is_keyboard_usable(lti):
    host = lti.host
    r = httpx.put(lti.tool.url + "/api/institution/chat/settings", json={"provider": "workers-ai"}, headers=_admin(lti))
    assert r.status_code == 200
    host.faults.set("AI", Fault(mode="latency", latency_ms=25, ops=("stream",)))
    url = _learner_page(lti)
    ltik = parse_qs(urlsplit(url).query)["ltik"][0]
    learner = {"Authorization": f"Bearer {ltik}"}
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)  # Canvas's narrowest iframe
        page.goto(url)
        log = page.locator("#guide-log")
        assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
        page.evaluate(RECORD_LENGTHS)
        box = page.get_by_label("Your message")
        box.focus()
        page.keyboard.type("<img src=x onerror=alert(1)> How do vectors add?")
        page.keyboard.press("Enter")  # Enter sends
        page.wait_for_function(REPLIED, timeout=30_000)
        assert page.locator("#guide-log img").count() == 0  # shown as text, never as markup
        assert "<img src=x" in page.locator(".chat-user .body").first.inner_text()
        shown = page.locator(".chat-guide .body").last.inner_text()
        lengths = page.evaluate("window.__lengths")
        partial = sorted({n for n in lengths if 0 < n < len(shown)})
        assert len(partial) >= 3, lengths  # it grew piece by piece before it was complete
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > 376)
            .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, wide
        page.screenshot(path=str(host.state_root.parent / "guide-panel.png"), full_page=True)

        conversations = httpx.get(lti.tool.url + "/api/chat/conversations", headers=learner).json()
        cid = conversations["conversations"][0]["id"]
        stored = httpx.get(f"{lti.tool.url}/api/chat/conversations/{cid}", headers=learner).json()
        assert stored["messages"][-1]["content"] == shown

        # Closing the page mid-reply and coming back shows the whole reply, generated once.
        host.faults.set("AI", Fault(mode="latency", latency_ms=60, ops=("stream",)))
        calls = len(host.env.AI.calls)
        box.fill("And what about subtracting them?")
        page.get_by_role("button", name="Send").click()
        page.wait_for_function("() => document.querySelector('.chat-guide[aria-busy] .body')"
                               " && document.querySelector('.chat-guide[aria-busy] .body').textContent.length > 5",
                               timeout=30_000)
        page.reload()
        page.select_option("#guide-conversations", cid)
        page.wait_for_function(REPLIED, timeout=30_000)
        shown = page.locator(".chat-guide .body").last.inner_text()
        stored = httpx.get(f"{lti.tool.url}/api/chat/conversations/{cid}", headers=learner).json()
        assert stored["messages"][-1]["content"] == shown and stored["messages"][-1]["status"] == "complete"
        assert len(host.env.AI.calls) == calls + 1
        host.faults.clear()

        # A budget reached is a message in the chat, not an error page.
        profile_id = httpx.get(lti.tool.url + "/api/profile", headers=learner).json()["id"]
        r = httpx.put(f"{lti.tool.url}/api/institution/chat/budgets/learners/{profile_id}",
                      json={"learner_daily_tokens": 0}, headers=_admin(lti))
        assert r.status_code == 200
        box.fill("One more?")
        box.press("Enter")
        notice = page.locator(".chat-notice .body").last
        notice.wait_for(timeout=30_000)
        assert "You have used today's Guide budget" in notice.inner_text()
        assert page.locator("h1").first.inner_text().startswith("Hi ")  # still the same page

        # Taking struggle detection's offer of the Guide opens the panel on that concept.
        page.locator("#guide-new").focus()
        page.evaluate("""() => document.dispatchEvent(new CustomEvent('atomicguide:offer', {detail: {
            outcome: 'accepted', offer: {id: 'o-1', kind: 'chat_prompt', concept_id: 'Vectors'}}}))""")
        assert page.evaluate("document.activeElement.id") == "guide-input"
        assert page.locator("#guide-log .chat-msg").count() == 0  # a new conversation about it


def test_the_guide_conversation_activity_keeps_a_mastery_score_and_grades_to_the_platform(lti):
    host = lti.host
    asyncio.run(seed_bank(host, tenant=lti.tenant_id))  # the server is idle meanwhile
    teacher = {"Authorization": "Bearer " + token(host, tenant=lti.tenant_id, user="teacher-1", context="course-1",
                                                  roles=[INSTRUCTOR])}
    r = httpx.post(lti.tool.url + "/api/courses/course-1/guide-activities", headers=teacher,
                   json={"title": "Explain photosynthesis", "concepts": ["Photosynthesis"], "mastery_threshold": 70})
    assert r.status_code == 201, r.text
    activity = r.json()
    url = _learner_page(lti)
    ltik = parse_qs(urlsplit(url).query)["ltik"][0]
    home = httpx.get(url).text
    assert f'/app/guide/{activity["id"]}' in home  # the learner home links to it
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{lti.tool.url}/app/guide/{activity['id']}?ltik={ltik}")
        assert page.locator("#activity-title").inner_text() == "Explain photosynthesis"
        assert page.locator("#mastery-value").inner_text() == "0 / 100"
        assert "graded" in page.locator("#guide-notices").inner_text()
        opening = page.locator(".chat-guide .body").first
        opening.wait_for(timeout=30_000)  # the Guide asks first
        assert opening.inner_text().startswith("Let's begin with Photosynthesis.")
        box = page.get_by_label("Your message")
        box.fill("Chlorophyll absorbs light energy and the plant makes glucose from carbon dioxide and water.")
        box.press("Enter")
        page.wait_for_function("() => document.getElementById('mastery-value').textContent === '100 / 100'",
                               timeout=30_000)
        assert "every concept" in page.locator("#mastery-status").inner_text()
        page.wait_for_function(REPLIED, timeout=30_000)
        page.screenshot(path=str(host.state_root.parent / "guide-activity.png"), full_page=True)
    # the grade goes through the activity's GradeSync object (its alarm is awaited, not slept on)
    assert httpx.post(lti.tool.url + "/__devhost/alarms-idle", timeout=60).status_code == 200
    scores = [s for s in lti.platform.scores if s["userId"] == "user-1"]
    assert scores and scores[-1]["scoreGiven"] == 100.0 and scores[-1]["activityProgress"] == "Completed"
    items = [i for i in lti.platform.line_items.values() if i.get("tag") == "atomic-guide-activity"]
    assert len(items) == 1 and items[0]["label"] == "Explain photosynthesis"
