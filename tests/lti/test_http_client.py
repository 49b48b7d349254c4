"""The tool's one outbound HTTP client: timeouts and transport errors become HttpError,
and 429/5xx are retried with backoff (Retry-After honoured) before the last answer is
returned or the last error raised."""

import asyncio

import pytest

from lti import http


@pytest.fixture
def transport():
    """Installs a scripted transport for one test, and puts the previous one back."""
    saved = http._transport
    script: list = []
    calls: list[tuple] = []

    async def scripted(method, url, headers, body, timeout_s):
        calls.append((method, url))
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        if step == "hang":
            await asyncio.sleep(10)
        return step

    http.install(scripted)
    yield script, calls
    http._transport = saved


async def test_without_a_transport_a_request_is_an_http_error():
    saved = http._transport
    http._transport = None
    try:
        with pytest.raises(http.HttpError, match="no HTTP transport"):
            await http.request("GET", "https://x.example/")
    finally:
        http._transport = saved


async def test_a_transport_failure_and_a_timeout_are_http_errors(transport):
    script, _ = transport
    script += [ConnectionError("refused"), "hang"]
    with pytest.raises(http.HttpError, match="failed: refused"):
        await http.request("GET", "https://x.example/a")
    with pytest.raises(http.HttpError, match="timed out"):
        await http.request("GET", "https://x.example/b", timeout_s=0.05)


async def test_retries_ride_out_429_and_5xx_and_transport_errors(transport):
    script, calls = transport
    script += [http.HttpResponse(429, {"retry-after": "0"}), http.HttpResponse(503), ConnectionError("reset"),
               http.HttpResponse(200, body=b"{}")]
    r = await http.with_retries(lambda: http.request("GET", "https://x.example/"), attempts=4, base_delay_s=0)
    assert r.status == 200 and len(calls) == 4


async def test_a_client_error_is_not_retried(transport):
    script, calls = transport
    script += [http.HttpResponse(404)]
    r = await http.with_retries(lambda: http.request("GET", "https://x.example/"), base_delay_s=0)
    assert r.status == 404 and len(calls) == 1


async def test_when_retries_run_out_the_last_answer_or_error_is_given(transport):
    script, _ = transport
    script += [http.HttpResponse(503)] * 3
    r = await http.with_retries(lambda: http.request("GET", "https://x.example/"), attempts=3, base_delay_s=0)
    assert r.status == 503
    script += [ConnectionError("down")] * 2
    with pytest.raises(http.HttpError, match="down"):
        await http.with_retries(lambda: http.request("GET", "https://x.example/"), attempts=2, base_delay_s=0)


def test_a_response_body_reads_as_json():
    assert http.HttpResponse(200, body=b'{"a": 1}').json() == {"a": 1}
