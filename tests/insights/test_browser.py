"""The insight pages in headless Chromium, after real LTI launches from a Canvas-like
course of 30 learners x 12 concepts (names from its NRPS roster): the instructor sees the
heatmap with the right cells, filters it, opens a learner, downloads a CSV; a learner
hides from instructors on "My progress" and the instructor's view changes; a stale ETag
is explained; the export downloads a file; erasure asks first and shows what went.
Screenshots at desktop and phone width (set AG_SCREENSHOTS=docs/screenshots to refresh
the README's)."""

import csv
import json
import os
import re
from pathlib import Path

import httpx
import pytest

from devhost.demo_lms import INSTRUCTOR, LEARNER
from tests.browser import DESKTOP, PHONE, chromium
from tests.insights.conftest import launch
from tests.lti.conftest import page_config

pytestmark = pytest.mark.browser


def _ltik(url: str) -> str:
    return re.search(r"ltik=([^&]+)", url).group(1)


def _shots_dir(tmp_path: Path) -> Path:
    out = Path(os.environ.get("AG_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_instructor_reads_the_class_and_a_learner_hides_from_it(http_host, course, tmp_path):
    cls = course.seeded
    home = launch(http_host, course, {"sub": "teacher-1", "name": "Grace Hopper", "roles": [INSTRUCTOR]})
    overview = f"{http_host.url}/app/courses/{course.course_id}/overview?ltik={_ltik(home)}"
    names = {l["user_id"]: l["name"] for l in cls.learners}
    shots = _shots_dir(tmp_path)
    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP, accept_downloads=True)
        page.goto(home)
        page.locator("#open-overview").click()
        page.locator("#heatmap").wait_for(timeout=20_000)
        # the right cells: every learner x concept, with the seeded mastery
        cells = page.locator("#heatmap g.cell")
        assert cells.count() == 30 * 12
        ids = {l["id"]: l["user_id"] for l in cls.learners}
        values = page.evaluate("""() => Array.from(document.querySelectorAll('#heatmap g.cell')).map(
            g => [g.dataset.row, g.dataset.col, g.dataset.value, g.querySelector('text').textContent])""")
        for row, col, value, text in values:
            expected = cls.cells[(ids[row], col)]
            assert (text == "–") if expected is None else (text == str(round(100 * expected))), (row, col)
        # names from the course roster (NRPS, read at the instructor's launch), not ids
        labels = page.locator("#heatmap a").evaluate_all("els => els.map(a => a.getAttribute('aria-label'))")
        assert sum(1 for name in names.values() if f"{name}: learner detail" in labels) == 30
        page.screenshot(path=str(shots / "class-overview-desktop.png"))

        # filter: only those who need attention
        page.locator("#show-select").select_option("attention")
        page.locator("#heatmap-filters button").click()
        page.locator("#heatmap").wait_for()
        spinning = {u for (u, c), n in cls.attempts.items() if n >= 10 and (cls.cells[(u, c)] or 0) < 0.95}
        expected = set(cls.flagged) | spinning
        shown = page.locator("#heatmap a[aria-label$='learner detail']").count()
        assert shown == len(expected) and shown < 30

        # open a learner from the heatmap
        flagged = next(l for l in cls.learners if l["user_id"] in cls.flagged)
        page.locator(f"#heatmap a[aria-label='{flagged['name']}: learner detail']").click()
        page.locator("#learner-heading").wait_for()
        assert page.locator("#learner-heading").inner_text() == flagged["name"]
        assert "Repeated errors" in page.locator("#learner-flags-table").inner_text()
        page.locator("#back-to-overview").click()

        # download the heatmap as CSV and read it
        with page.expect_download() as info:
            page.locator("#csv-heatmap").click()
        rows = list(csv.reader(open(info.value.path(), newline="", encoding="utf-8")))
        assert len(rows) == 31 and rows[0][:2] == ["learner", "lti_user_id"]
        assert {r[1] for r in rows[1:]} == set(names) and {r[0] for r in rows[1:]} == set(names.values())
        page.close()

        # a learner hides from instructors on their own page
        hider = cls.learners[3]
        mine = launch(http_host, course, {"sub": hider["user_id"], "name": hider["name"], "roles": [LEARNER]})
        lp = browser.new_page(viewport=DESKTOP)
        lp.goto(mine)
        lp.locator("nav a", has_text="My progress").click()
        lp.locator("#privacy-form").wait_for()
        lp.screenshot(path=str(shots / "my-progress-desktop.png"))
        lp.locator("#consent-instructor_visibility").uncheck()
        lp.locator("#privacy-form button[type=submit]").click()
        lp.locator("#privacy-status", has_text="Saved").wait_for()

        tp = browser.new_page(viewport=DESKTOP)
        tp.goto(overview)
        tp.locator("#heatmap").wait_for()
        labels = tp.locator("#heatmap a").evaluate_all("els => els.map(a => a.getAttribute('aria-label'))")
        assert f"{hider['name']}: learner detail" not in labels and len(
            [a for a in labels if a.endswith("learner detail")]) == 29
        assert hider["user_id"] not in tp.content() and hider["id"] not in tp.content()
        tp.close()

        # a change made elsewhere since the page was read: 412, explained, current settings shown
        token = page_config(lp.content())["token"]
        h = {"Authorization": f"Bearer {token}"}
        current = httpx.get(http_host.url + "/api/profile", headers=h)
        httpx.patch(http_host.url + "/api/profile", headers={**h, "If-Match": current.headers["etag"]},
                    json={"privacy_settings": {"consent": {"instructor_visibility": False, "research": True}}})
        lp.locator("#consent-ai_chat").uncheck()
        lp.locator("#privacy-form button[type=submit]").click()
        lp.locator("#privacy-status", has_text="changed somewhere else").wait_for()
        assert lp.locator("#consent-research").is_checked()  # the current settings, reloaded
        lp.close()


def test_a_learner_exports_and_erases_their_data(http_host, course, tmp_path):
    learner = course.seeded.learners[5]
    mine = launch(http_host, course, {"sub": learner["user_id"], "name": learner["name"], "roles": [LEARNER]})
    progress = mine.replace("/app?", "/app/progress?")
    shots = _shots_dir(tmp_path)
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE, accept_downloads=True)
        page.goto(progress)
        page.locator("#my-mastery-chart").wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        page.screenshot(path=str(shots / "my-progress-phone.png"))
        with page.expect_download() as info:
            page.locator("#export-data").click()
        exported = json.loads(Path(info.value.path()).read_text())
        assert exported["subject"]["lti_user_id"] == learner["user_id"]
        assert len(exported["tables"]["knowledge_state"]) > 0
        page.locator("#export-status", has_text="Downloaded").wait_for()

        page.locator("#erase-start").click()
        assert page.locator("#erase-go").is_disabled()  # nothing goes before the confirmation
        page.locator("#erase-understood").check()
        page.locator("#erase-go").click()
        page.locator("#erase-result").wait_for()
        table = page.locator("#erase-table").inner_text()
        assert "knowledge_state" in table and "learner_profiles" in table
        assert int(page.locator("#erase-total").inner_text()) > 10
        assert page.locator("#privacy-form").is_hidden()
    token = _ltik(mine)
    assert httpx.get(http_host.url + "/api/profile", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_the_overview_fits_a_phone_width(http_host, course, tmp_path):
    home = launch(http_host, course, {"sub": "teacher-1", "name": "Grace Hopper", "roles": [INSTRUCTOR]})
    overview = f"{http_host.url}/app/courses/{course.course_id}/overview?ltik={_ltik(home)}"
    shots = _shots_dir(tmp_path)
    with chromium() as browser:
        page = browser.new_page(viewport=PHONE)
        page.goto(overview)
        page.locator("#heatmap").wait_for(timeout=20_000)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        page.screenshot(path=str(shots / "class-overview-phone.png"))
        # the heatmap scrolls inside its own region, reachable by keyboard
        region = page.locator(".chart-wrap").first
        assert region.get_attribute("tabindex") == "0"
        assert page.evaluate("(() => { const w = document.querySelector('.chart-wrap'); "
                             "return w.scrollWidth > w.clientWidth; })()")
        page.close()
