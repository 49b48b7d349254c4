"""What the browser-facing LTI flows share: reading a form post, the state cookie, the
same-origin check, and answering with a page (never JSON, never a stack trace) framed
only by the origins allowed for the platform at hand."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Awaitable, Callable, TypeVar
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

from lti import framing, pages
from lti.launch import LaunchError
from lti.tool_config import base_url
from problems import correlation_id
from web.page import Page, html_response

log = logging.getLogger("atomic_guide.lti")

STATE_COOKIE_PREFIX = "ag_state_"
MAX_FORM_BYTES = 32 * 1024
T = TypeVar("T")


def is_https(request: Request) -> bool:
    return urlsplit(base_url(request)).scheme == "https"


def tool_origin(request: Request) -> str:
    parts = urlsplit(base_url(request))
    return f"{parts.scheme}://{parts.netloc}"


def platform_origin(auth_login_url: str) -> str:
    """Where the platform's storage listens (its OIDC authorization origin)."""
    return framing.origin(auth_login_url) or auth_login_url


def render(request: Request, page: Page, frame_ancestors: list[str], status: int = 200,
           form_action: list[str] | tuple[str, ...] = (), headers: dict | None = None) -> HTMLResponse:
    return html_response(page, frame_ancestors=frame_ancestors, https=is_https(request), status=status,
                         form_action=form_action, headers=headers)


async def refuse(request: Request, err: LaunchError, frame_ancestors: list[str] | None = None) -> HTMLResponse:
    """The readable refusal page naming what failed; logged with the correlation id."""
    cid = correlation_id(request)
    log.info(json.dumps({"event": "lti_refused", "claim": err.claim, "reason": err.message, "correlation_id": cid}))
    if frame_ancestors is None:
        frame_ancestors = await framing.registered_union(request.scope["env"])
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after else None
    return render(request, pages.error("The launch could not be completed", err.message, err.claim, cid),
                  frame_ancestors, status=err.status, headers=headers)


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise LaunchError("form", "The form post is too large.", 413)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise LaunchError("form", "The form post is not UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def state_cookie(state: str) -> str:
    return STATE_COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:16]


def state_cookie_header(state: str, max_age: int) -> str:
    # Partitioned (CHIPS) so the cookie works inside Canvas's iframe where third-party
    # cookies are blocked; platform storage covers browsers that refuse it anyway.
    value = state if max_age > 0 else ""
    return (f"{state_cookie(state)}={value}; Path=/lti; Max-Age={max_age}; HttpOnly; Secure; SameSite=None; "
            "Partitioned")


def posted_from_this_tool(request: Request) -> bool:
    """A form post made by one of the tool's own pages (not a cross-site forgery)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == tool_origin(request)
    return request.headers.get("sec-fetch-site") == "same-origin"


async def binding(call: Callable[[], Awaitable[T]], what: str) -> T:
    """Runs a binding call of a browser flow; a failure of the platform's services (a
    Durable Object, KV) becomes a 503 refusal page instead of a 500."""
    try:
        return await call()
    except LaunchError:
        raise
    except Exception as exc:
        log.warning(json.dumps({"event": "lti_binding_failed", "what": what, "error": type(exc).__name__,
                                "message": str(exc)[:300]}))
        raise LaunchError("service", f"The {what} is unavailable right now; try again in a minute.", 503,
                          retry_after=30) from None
