"""The tool's one outbound HTTP client: transport failures become HttpError, and 429/5xx
and transport errors are retried (Retry-After honoured, capped)."""

import asyncio

import pytest

from lti import http


@pytest.fixture
def transport(monkeypatch):
    """Installs a scripted transport for one test (the module keeps one per isolate)."""
    calls = []

    def install(answers):
        async def send(method, url, headers, body, timeout_s):
            calls.append(method)
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if answer == "hang":
                await asyncio.sleep(10)
            return answer

        monkeypatch.setattr(http, "_transport", send)
        return calls

    return install


async def test_without_a_transport_nothing_is_sent(monkeypatch):
    monkeypatch.setattr(http, "_transport", None)
    with pytest.raises(http.HttpError, match="no HTTP transport"):
        await http.request("GET", "https://example.test/")


async def test_transport_failures_and_timeouts_are_http_errors(transport):
    transport([OSError("refused"), "hang", http.HttpError("already one")])
    with pytest.raises(http.HttpError, match="failed: refused"):
        await http.request("GET", "https://example.test/a")
    with pytest.raises(http.HttpError, match="timed out"):
        await http.request("GET", "https://example.test/b", timeout_s=0.01)
    with pytest.raises(http.HttpError, match="already one"):
        await http.request("GET", "https://example.test/c")


async def test_retries_honour_retry_after_and_return_the_first_usable_answer(transport):
    calls = transport([http.HttpResponse(503), http.HttpResponse(429, {"retry-after": "0"}),
                       http.HttpError("reset"), http.HttpResponse(200, body=b'{"ok": true}')])
    answer = await http.with_retries(lambda: http.request("GET", "https://example.test/"), base_delay_s=0.001)
    assert answer.status == 200 and answer.json() == {"ok": True} and len(calls) == 4


async def test_retries_give_up_with_the_last_answer_or_error(transport):
    transport([http.HttpResponse(500), http.HttpResponse(502)])
    last = await http.with_retries(lambda: http.request("GET", "https://example.test/"), attempts=2,
                                   base_delay_s=0.001)
    assert last.status == 502
    transport([http.HttpError("one"), http.HttpError("two")])
    with pytest.raises(http.HttpError, match="two"):
        await http.with_retries(lambda: http.request("GET", "https://example.test/"), attempts=2,
                                base_delay_s=0.001)
