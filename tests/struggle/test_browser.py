"""End to end in headless Chromium: a scripted learner on the learner home idles and gets
answers wrong (reported server-side, as the responses route will) until the page offers
help; accepting it with the keyboard is recorded. Time is not waited for: the host runs
on a manual clock and the page on Playwright's clock, both moved forward together."""

import asyncio
import contextlib
import shutil
from datetime import UTC, datetime

import pytest
import uvicorn

from auth.session import session_from_token
from devhost.clock import ManualClock
from struggle import service
from tests.conftest import bound_socket, make_host
from tests.browser import ARGS, CHROMIUM
from tests.struggle.conftest import add_learner, d1_rows, settled

pytestmark = pytest.mark.browser

ROUND_S = 30  # the page reports idleness every 30 s of it


@contextlib.asynccontextmanager
async def served(host):
    """The host over HTTP on this test's own loop (so the test reaches the same objects),
    and a headless Chromium page on Playwright's clock, paused at the host's time."""
    from playwright.async_api import async_playwright

    assert shutil.which(CHROMIUM), "Debian's chromium is not installed (scripts/test installs it)"
    sock = bound_socket()
    server = uvicorn.Server(uvicorn.Config(host, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 375, "height": 700})
                start = datetime.fromtimestamp(host.clock.now(), UTC)
                await page.clock.install(time=start)
                await page.clock.pause_at(start)
                page.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
                yield page
            finally:
                await browser.close()
    finally:
        server.should_exit = True
        await serving


async def test_a_learner_who_idles_and_errs_is_offered_help_and_accepting_it_is_recorded(tmp_path):
    host = await make_host(tmp_path / "state", clock=ManualClock())
    learner = await add_learner(host, user="ada")
    session = await session_from_token(host.env, learner.token)
    try:
        async with served(host) as page:
            await page.goto(f"{page.base}/app?ltik={learner.token}")
            await page.locator("#landing").wait_for()

            offer = None
            for _ in range(8):  # idle a while and get one wrong, until help is offered
                host.clock.advance(ROUND_S)
                result = await service.report_answer(host.env, session, {
                    "concept_id": "fractions", "credit": 0.0, "response_time_s": 45.0, "typical_time_s": 60.0})
                await page.clock.run_for(ROUND_S * 1000)  # the page reports the idleness
                if result["intervention"]:
                    offer = result["intervention"]
                    break
            assert offer is not None and offer["kind"] == "hint"
            assert offer["why"] == "3 wrong answers in a row on this concept."

            dock = page.locator("#ag-help")
            await page.locator("#ag-help-accept").wait_for(state="visible")
            assert await dock.get_attribute("aria-live") == "polite"
            assert await page.locator("#ag-help-title").inner_text() == "A little help?"
            assert offer["why"] in await page.locator("#ag-help-why").inner_text()
            assert not await page.evaluate("document.getElementById('ag-help').contains(document.activeElement)")
            for _ in range(12):  # the offer never took focus; Tab reaches it
                await page.keyboard.press("Tab")
                if await page.evaluate("document.activeElement.id") == "ag-help-accept":
                    break
            assert await page.evaluate("document.activeElement.id") == "ag-help-accept"
            async with page.expect_response(lambda r: "/reaction" in r.url) as reacted:
                await page.keyboard.press("Enter")
            assert (await reacted.value).status == 200
            await page.locator("#ag-help-done").wait_for()
            assert "Noted" in await page.locator("#ag-help-done").inner_text()
            stats = await learner.detector.stats()
            assert [(o["kind"], o["outcome"]) for o in stats["offers"]] == [("hint", "accepted")]

            # leaving the page sends what it still holds, with keepalive, and flushes to D1
            before = stats["counters"]["signals_total"]
            await page.close(run_before_unload=True)
            await settled(learner.detector, lambda s: s["counters"]["signals_total"] > before and not s["pending"],
                          attempts=4000)
        assert d1_rows(host, "SELECT intervention_type, outcome FROM intervention_logs") == [("hint", "accepted")]
    finally:
        await host.aclose()


async def test_the_page_stays_under_the_limit_and_within_the_apis_bounds(tmp_path):
    host = await make_host(tmp_path / "state", clock=ManualClock())
    learner = await add_learner(host, user="bea")
    try:
        async with served(host) as page:
            statuses = []
            page.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/api/signals") else None)
            await page.goto(f"{page.base}/app?ltik={learner.token}")
            await page.locator("#landing").wait_for()
            # 70 signals within one minute, durations and ids beyond what the API takes
            await page.evaluate("""() => { for (let i = 0; i < 70; i++)
                AtomicGuide.struggle.signal({type: "dwell", target: "x y<z>", ms: 99999999.5}); }""")
            answers = []
            for _ in range(8):  # batch after batch, as the page's timer would send them
                answers.append(await page.evaluate("AtomicGuide.struggle.flush()"))
            stats = await learner.detector.stats()
            assert stats["counters"]["signals_total"] == 50          # the page's budget: 10 below the limit
            assert stats["counters"]["dwell_ms"] == 50 * 3_600_000   # clamped to an hour
            # the first batch left as soon as 10 were queued; the rest in batches of 10, never refused
            assert [a["accepted"] for a in answers if a] == [10] * 4 and set(statuses) == {200}
    finally:
        await host.aclose()
