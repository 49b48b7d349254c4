"""One place that turns errors into responses: RFC 9457 problem details for the API,
a readable page for the browser routes (the LTI flows and the tool's pages), each with a
correlation id; never a stack trace to the client."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("atomic_guide")

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error meant for the client: status, a stable type slug, a human title/detail."""

    def __init__(self, status: int, title: str, detail: str = "", *, type_: str = "about:blank",
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = headers or {}
        self.extra = extra or {}


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every API error is answered (OpenAPI schema)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    instance: str
    correlation_id: str
    detail: str | None = None


def problem_responses(*statuses: int) -> dict[int, dict]:
    """OpenAPI `responses` for the problem statuses a route can answer."""
    return {s: {"model": ProblemDetails, "description": _TITLES.get(s, "Error"),
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
            for s in statuses}


def correlation_id(request: Request) -> str:
    return getattr(request.state, "correlation_id", None) or "-"


def is_browser_route(path: str) -> bool:
    """Routes a person opens in a browser (inside Canvas's iframe): they answer pages."""
    return path == "/" or path == "/app" or path.startswith(("/app/", "/lti/")) and path != "/lti/config.json"


async def error_page(request: Request, status: int, title: str, detail: str,
                     headers: dict[str, str] | None = None) -> Response:
    from lti import framing
    from web.page import Page, esc, html_response

    cid = correlation_id(request)
    body = (f'<h1 id="error-title">{esc(title)}</h1><p id="error-message">{esc(detail or title)}</p>'
            f'<p class="muted">Reference: <code id="correlation-id">{esc(cid)}</code>. Open Atomic Guide again '
            "from your course; if this keeps happening, give the reference to your Canvas administrator.</p>")
    https = request.url.scheme == "https" or str(getattr(request.scope.get("env"), "TOOL_BASE_URL", "")).startswith(
        "https://")
    return html_response(Page(title, body), frame_ancestors=await framing.registered_union(request.scope["env"]),
                         https=https, status=status, headers=headers)


async def respond(request: Request, status: int, title: str, detail: str = "", type_: str = "about:blank",
                  headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> Response:
    """A problem for the API, a page for a browser route."""
    if is_browser_route(request.url.path):
        return await error_page(request, status, title, detail, headers)
    return problem_response(request, status, title, detail, type_, headers, extra)


def problem_response(request: Request, status: int, title: str, detail: str = "",
                     type_: str = "about:blank", headers: dict[str, str] | None = None,
                     extra: dict[str, Any] | None = None) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "instance": request.url.path,
            "correlation_id": correlation_id(request)}
    if detail:
        body["detail"] = detail
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 411: "Length Required", 412: "Precondition Failed",
           413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
           428: "Precondition Required", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return await respond(request, exc.status, exc.title, exc.detail, exc.type, exc.headers, exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = _TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else ""
        if exc.status_code == 404 and not detail:
            detail = f"No route for {request.method} {request.url.path}"
        return await respond(request, exc.status_code, title, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(request, 400, "Bad Request", "The body is not valid JSON.",
                                    type_="/problems/malformed-json", extra={"errors": errors})
        return problem_response(request, 422, "Unprocessable Content",
                                "The request does not match the expected shape; see `errors`.",
                                type_="/problems/validation", extra={"errors": errors})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # Logged with the correlation id so an operator can find it; the client gets none of it.
        log.error(json.dumps({"event": "unhandled_error", "correlation_id": correlation_id(request),
                              "path": request.url.path, "error": type(exc).__name__, "message": str(exc)[:500]}))
        return await respond(request, 500, "Internal Server Error",
                             "Something went wrong on our side. Quote the correlation id when reporting it.")
