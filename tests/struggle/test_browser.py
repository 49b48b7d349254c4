"""End to end in headless Chromium: a scripted learner on the learner home idles and gets
answers wrong (reported server-side, as the responses route will) until the page offers
help; accepting it with the keyboard is recorded. Time is not waited for: the host runs
on a manual clock and the page on Playwright's clock, both moved forward together."""

import asyncio
import shutil
from datetime import UTC, datetime

import pytest
import uvicorn

from auth.session import session_from_token
from devhost.clock import ManualClock
from struggle import service
from tests.conftest import bound_socket, make_host
from tests.lti.test_browser import ARGS, CHROMIUM
from tests.struggle.conftest import add_learner, d1_rows, settled

pytestmark = pytest.mark.browser

ROUND_S = 30  # the page reports idleness every 30 s of it


async def test_a_learner_who_idles_and_errs_is_offered_help_and_accepting_it_is_recorded(tmp_path):
    from playwright.async_api import async_playwright

    assert shutil.which(CHROMIUM), "Debian's chromium is not installed (scripts/test installs it)"
    host = await make_host(tmp_path / "state", clock=ManualClock())
    learner = await add_learner(host, user="ada")
    session = await session_from_token(host.env, learner.token)
    sock = bound_socket()
    port = sock.getsockname()[1]
    # Served on this test's own loop, so the test can report answers to the same objects.
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
                await page.goto(f"http://127.0.0.1:{port}/app?ltik={learner.token}")
                await page.locator("#landing").wait_for()

                offer = None
                for _ in range(8):  # idle a while and get one wrong, until help is offered
                    host.clock.advance(ROUND_S)
                    await service.report_answer(host.env, session, {"concept_id": "fractions", "credit": 0.0,
                                                                    "response_time_s": 45.0, "typical_time_s": 60.0})
                    async with page.expect_response(lambda r: r.url.endswith("/api/signals")) as answered:
                        await page.clock.run_for(ROUND_S * 1000)
                    body = await (await answered.value).json()
                    if body["intervention"]:
                        offer = body["intervention"]
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
                await settled(learner.detector, lambda s: s["counters"]["signals_total"] > before and not s["pending"])
            finally:
                await browser.close()
        assert d1_rows(host, "SELECT intervention_type, outcome FROM intervention_logs") == [("hint", "accepted")]
    finally:
        server.should_exit = True
        await serving
        await host.aclose()
