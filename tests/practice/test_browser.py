"""End to end in headless Chromium, the tool inside the test platform's course page (a
cross-site iframe, as Canvas frames it): the instructor deep links a practice activity
into a module and imports items; a learner opens the module item and, with the keyboard
only, answers until mastery; the score reaches the platform's gradebook. Screenshots at
desktop and phone width go to $SCREENSHOTS_DIR (docs/screenshots for the README) or to
the test's temporary directory."""

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from devhost.demo_lms import DemoLMS as Platform, serve
from tests.conftest import DEV_VARS, LoopbackServer
from tests.browser import ARGS, CHROMIUM

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


def _answer_for(prompt: str) -> str:
    return {"One half written as a decimal is": "0.5", "A quarter written as a fraction is": "1/4",
            "Three quarters as a decimal is": "0.75", "Two fifths as a decimal is": "0.4"}[prompt.split(" ___")[0]]


def _csv(fractions: str, decimals: str) -> str:
    return ("format,concept,prompt,answers,hints,misconceptions,difficulty\n"
            f"fill_blank,{fractions},One half written as a decimal is ___.,0.5|1/2|.5,Divide 1 by 2.,2 => 2 is the "
            "denominator.,3\n"
            f"fill_blank,{fractions},A quarter written as a fraction is ___.,1/4|0.25,,,4\n"
            f"fill_blank,{decimals},Three quarters as a decimal is ___.,0.75|3/4,,,4\n"
            f"fill_blank,{decimals},Two fifths as a decimal is ___.,0.4|2/5,,,5\n")


def _fits(frame) -> bool:
    return frame.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def _shoot(browser, url: str, ready: str, stem: Path) -> None:
    """The tool's page on its own at desktop and phone width (full page); at 375 px it must
    not scroll sideways."""
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browser.new_page(viewport=size)
        try:
            page.goto(url)
            page.locator(ready).wait_for(timeout=20_000)
            assert _fits(page.main_frame), f"{url.split('?')[0]} scrolls sideways at {size['width']} px"
            page.screenshot(path=f"{stem}-{name}.png", full_page=True)
        finally:
            page.close()


def test_deep_link_import_practise_to_mastery_and_the_score_reaches_the_gradebook(http_host, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    platform = Platform()
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
        assert shutil.which(CHROMIUM), "Debian's chromium is not installed (scripts/test installs it)"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                page = browser.new_page(viewport=DESKTOP)
                # 1. The instructor adds a practice activity to a module (deep linking).
                page.goto(platform.url + "/course?as=designer")
                tool = page.frame_locator("#tool")
                tool.locator("#dl-form").wait_for(timeout=20_000)
                tool.locator("#dl-activity-title").fill("Fractions and decimals")
                tool.locator("#type-fill_blank").check()
                tool.locator("#dl-new-concepts").fill("Fractions\nDecimals")
                tool.locator("#dl-threshold").fill("100")
                tool.locator("#dl-submit").click()
                tool.locator("#dl-done").wait_for(timeout=20_000)
                (module,) = platform.modules
                assert module["graded"] and module["custom"]["activity_id"]
                # 2. The instructor imports items on the question-bank page (the file is read by its script).
                page.goto(platform.url + "/course?as=instructor")
                tool.locator("#landing").wait_for(timeout=20_000)
                tool.get_by_role("link", name="Question bank").click()
                tool.locator("#import-form").wait_for()
                tool.locator("#course-concepts summary").click()
                ids = {li.split(" ", 1)[1]: li.split(" ", 1)[0]
                       for li in tool.locator("#course-concepts li").all_inner_texts()}
                csv_file = tmp_path / "items.csv"
                csv_file.write_text(_csv(ids["Fractions"], ids["Decimals"]))
                tool.locator("#import-file").set_input_files(str(csv_file))
                tool.locator("#import-file-note").filter(has_text="ready to import").wait_for()
                tool.locator("#import-button").click()
                tool.locator("#notice").wait_for()
                assert tool.locator("#bank-table tbody tr").count() == 4
                # 3. A learner opens the module item and practises with the keyboard only.
                page.goto(platform.url + f"/course?as=learner&link={module['resource_link_id']}")
                tool.locator("#practice-title").wait_for(timeout=20_000)
                assert tool.locator("#practice-title").inner_text() == "Fractions and decimals"
                page.screenshot(path=str(shots / "practice-learner-start-desktop.png"))
                frame = next(f for f in page.frames if f.url.startswith(http_host.url + "/app/practice"))
                frame.locator("#answer-input").focus()
                first = True
                for _ in range(40):
                    if frame.locator("#mastered-note").count():
                        break
                    prompt = frame.locator("#prompt").inner_text()
                    if first:  # a wrong answer first: feedback names the misconception or the expected answer
                        page.keyboard.type("7")
                        first = False
                    else:
                        page.keyboard.type(_answer_for(prompt))
                    frame.evaluate("(f => f && (f.dataset.old = '1'))(document.getElementById('feedback'))")
                    page.keyboard.press("Enter")
                    # The new feedback replaces the old, and focus follows the result.
                    frame.locator("#feedback:not([data-old])").wait_for()
                    assert frame.evaluate("document.activeElement.id") == "feedback"
                    if frame.locator("#mastered-note").count():
                        break
                    page.keyboard.press("Tab")  # from the feedback to the answer box
                    assert frame.evaluate("document.activeElement.id") == "answer-input"
                assert frame.locator("#mastered-note").count() == 1
                frame.locator("#grade-status").filter(has_text="has been sent to the gradebook").wait_for(
                    timeout=30_000)
                page.screenshot(path=str(shots / "practice-learner-in-course-desktop.png"))
                _shoot(browser, frame.url, "#practice-title", shots / "practice-learner")
                # 4. The score is in the platform's gradebook, in the activity's column.
                assert [s["scoreGiven"] for s in platform.scores][-1] == 100.0
                assert {s["line_item"] for s in platform.scores} == {"1"} and len(platform.line_items) == 1
                page.set_viewport_size(DESKTOP)
                page.goto(platform.url + "/grades")
                row = page.locator("tr", has_text="Ada Lovelace").inner_text()
                assert "100" in row
                # 5. The instructor's activity page: who reached mastery and what was sent.
                page.goto(platform.url + f"/course?as=instructor&link={module['resource_link_id']}")
                tool.locator("#activity-title").wait_for(timeout=20_000)
                assert re.search(r"1\s+of 1 learner", tool.locator("#mastery-count").inner_text())
                assert "Sent" in tool.locator("#grades-table").inner_text()
                page.screenshot(path=str(shots / "activity-instructor-in-course-desktop.png"))
                frame = next(f for f in page.frames if "/app/activities/" in f.url)
                _shoot(browser, frame.url, "#activity-title", shots / "activity-instructor")
                bank = frame.url.split("/app/activities/")[0] + "/app/question-bank?" + frame.url.split("?", 1)[1]
                _shoot(browser, bank, "#bank-title", shots / "question-bank")
            finally:
                browser.close()
