"""The frame every page of a session shares: navigation for the person's role in the
course, the session token for the page's API calls (in the page's JSON config, read by
/static/app.js), and framing limited to the origins the launch allowed."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

from auth.session import PAGE_TOKEN_PARAM, Session
from web.page import NavItem, Page, html_response

# (label, path) per role; features add their pages here as they land. "{context}" in a
# path stands for the session's course.
LEARNER_NAV = [("Home", "/app"), ("Practice", "/app/practice"), ("My progress", "/app/progress")]
INSTRUCTOR_NAV = [("Class", "/app"), ("Class overview", "/app/courses/{context}/overview"),
                  ("Activities", "/app/activities"), ("Question bank", "/app/question-bank")]


def page_url(session: Session, path: str, **params: str) -> str:
    """A link to another page of the same session (the token rides along)."""
    return f"{path}?{urlencode({PAGE_TOKEN_PARAM: session.token, **params})}"


def _https(request: Request) -> bool:
    configured = getattr(request.scope["env"], "TOOL_BASE_URL", None)
    return urlsplit(str(configured)).scheme == "https" if configured else request.url.scheme == "https"


def render(request: Request, session: Session, title: str, body: str, current: str, *,
           scripts: tuple[str, ...] = (), config: dict | None = None, status: int = 200,
           styles: tuple[str, ...] = ()) -> HTMLResponse:
    nav = INSTRUCTOR_NAV if session.is_instructor else LEARNER_NAV
    items = [NavItem(label, page_url(session, path.replace("{context}", quote(session.context_id, safe=""))),
                     current=path == current) for label, path in nav]
    page = Page(title, body, config={"token": session.token, "role": session.course_role.value, **(config or {})},
                nav=items, scripts=scripts, styles=styles)
    return html_response(page, frame_ancestors=session.claims.fo, https=_https(request), status=status)
