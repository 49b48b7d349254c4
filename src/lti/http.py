"""The one outbound HTTP client of the tool (platform JWKS, token endpoint, AGS, NRPS).
The runtime's transport is installed by src/entry.py (workers.fetch); the local host
installs its own. Code here only sees `HttpResponse` values."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Awaitable, Callable


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json(self):
        return json.loads(self.body.decode("utf-8"))


Transport = Callable[[str, str, dict, bytes | None, float], Awaitable[HttpResponse]]
_transport: Transport | None = None


class HttpError(Exception):
    """The remote could not be reached, timed out, or answered in a way we cannot use."""


def install(transport: Transport) -> None:
    global _transport
    _transport = transport


async def request(method: str, url: str, headers: dict | None = None, body: bytes | None = None,
                  timeout_s: float = 5.0) -> HttpResponse:
    if _transport is None:
        raise HttpError("no HTTP transport installed")
    try:
        return await asyncio.wait_for(_transport(method, url, dict(headers or {}), body, timeout_s), timeout_s)
    except TimeoutError:
        raise HttpError(f"{method} {url} timed out after {timeout_s:.1f}s") from None
    except HttpError:
        raise
    except Exception as exc:
        raise HttpError(f"{method} {url} failed: {exc}") from None


async def with_retries(send: Callable[[], Awaitable[HttpResponse]], attempts: int = 4,
                       base_delay_s: float = 0.5) -> HttpResponse:
    """Retries 429 and 5xx (honouring Retry-After up to 10 s) and transport errors."""
    last: HttpResponse | Exception | None = None
    for attempt in range(attempts):
        try:
            response = await send()
        except HttpError as exc:
            last = exc
        else:
            if response.status != 429 and response.status < 500:
                return response
            last = response
        if attempt + 1 < attempts:
            delay = base_delay_s * (2**attempt)
            if isinstance(last, HttpResponse) and last.headers.get("retry-after", "").isdigit():
                delay = min(float(last.headers["retry-after"]), 10.0)
            await asyncio.sleep(delay)
    if isinstance(last, HttpResponse):
        return last
    raise last  # type: ignore[misc]
