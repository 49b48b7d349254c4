"""The tool's front door and the home page of a session: `GET /` says what the tool is
and how to add it to Canvas (and, on the local host, links to the demo course);
`GET /app` is where a launch lands, for a learner or an instructor of the course."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

import clock
from auth.session import Session, require_page_session
from db import profiles
from db.database import Database, DataUnavailable
from lti import framing
from lti.tool_config import base_url
from pages import chat_panel, shell, struggle as struggle_page
from pages import guide as guide_pages
from resilience.cache import profile_key, read_through
from struggle import service as struggle_service
from web import assets
from web.page import Page, esc, html_response

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request):
    env = request.scope["env"]
    base = base_url(request)
    demo = getattr(env, "DEMO_LMS_URL", None)
    demo_block = ""
    if demo:
        demo = str(demo).rstrip("/")
        demo_block = (
            '<section class="card" aria-labelledby="demo-title"><h2 id="demo-title">Try it locally</h2>'
            "<p>A small demo course (a stand-in for Canvas, served by the local host) is registered as the demo "
            "institution's platform. Each link starts a real LTI 1.3 launch of this tool inside the course page.</p>"
            f'<ul class="stack"><li><a id="demo-learner" href="{esc(demo)}/course?as=learner">Launch as a learner'
            f'</a> (Ada Lovelace)</li><li><a id="demo-instructor" href="{esc(demo)}/course?as=instructor">Launch as '
            f'the instructor</a> (Grace Hopper)</li><li><a id="demo-deep-link" href="{esc(demo)}/course?as=designer">'
            "Add an activity to a module</a> (deep linking)</li></ul></section>")
    body = (
        '<h1 id="index-title">Atomic Guide</h1>'
        "<p>An LTI 1.3 tool for Canvas: it keeps a cognitive profile of each learner, notices when they "
        "struggle while they study, offers help (hints, reviews and an AI study Guide), tracks mastery of the "
        "course's concepts and sends it to the gradebook. Each institution's data stays its own.</p>"
        f"{demo_block}"
        '<section class="card" aria-labelledby="canvas-title"><h2 id="canvas-title">Add it to Canvas</h2>'
        "<p>In Canvas: Admin → Developer Keys → + Developer Key → + LTI Key, method <em>Enter URL</em>:</p>"
        f'<p><code id="config-url">{esc(base)}/lti/config.json</code></p>'
        "<p>Or Dynamic Registration, with a single-use link from your Atomic Guide administrator.</p>"
        '<div class="table-wrap"><table><caption class="visually-hidden">Tool endpoints</caption><tbody>'
        f"<tr><th scope=\"row\">OIDC login</th><td><code>{esc(base)}/lti/login</code></td></tr>"
        f"<tr><th scope=\"row\">Launch / redirect URI</th><td><code>{esc(base)}/lti/launch</code></td></tr>"
        f"<tr><th scope=\"row\">Public keys (JWKS)</th><td><code>{esc(base)}/.well-known/jwks.json</code></td></tr>"
        "</tbody></table></div></section>")
    https = base.startswith("https://")
    return html_response(Page("Welcome", body), frame_ancestors=await framing.registered_union(env), https=https)


def _notes(request: Request) -> str:
    if request.query_params.get("notice") == "activity-missing":
        return ('<div class="card warn" id="activity-missing-note" role="status">The activity this link was made for '
                "no longer exists in Atomic Guide. Ask your instructor to add it to the module again.</div>")
    if request.query_params.get("notice") == "offline":
        return ('<div class="card warn" id="unsaved-note" role="status">We cannot save your progress right now '
                "(our database is recovering). You can keep going; open Atomic Guide again in a few minutes to "
                "have your work recorded.</div>")
    return ""


@router.get("/app", response_class=HTMLResponse)
async def app_home(request: Request, session: Session = Depends(require_page_session)):
    if session.is_instructor:
        return await _instructor_home(request, session)
    name = session.claims.nm or "there"
    course = session.claims.ct or "your course"
    body = (f'<h1 id="landing" data-role="learner">Hi {esc(name)}, welcome to Atomic Guide</h1>'
            f"<p>You are studying <strong>{esc(course)}</strong>. Atomic Guide keeps track of what you have "
            "mastered, notices when you get stuck and offers help that fits.</p>"
            f"{_notes(request)}"
            '<section class="card" aria-labelledby="privacy-title" data-ag-item="home-privacy">'
            '<h2 id="privacy-title">Your data</h2>'
            "<p>Your learning record belongs to you: you can see everything the tool holds about you, take it "
            "with you, or have it erased.</p></section>")
    # The behaviour script follows the learner's consent (read here so the page does not
    # collect at all when analytics is off; the API refuses signals then anyway).
    env = request.scope["env"]
    try:
        profile, _stale = await read_through(
            env, profile_key(session.scope.tenant_id, session.lti_user_id),
            lambda: profiles.get_by_user(Database(env), session.scope, session.lti_user_id),
            lambda r: str(r["version"]), session.scope.tenant_id)
    except DataUnavailable:
        profile = None
    panel, chat_config = await guide_pages.learner_panel(request, session)
    body += await guide_pages.activity_links(request, session) + panel
    return shell.render(request, session, "Home", body, "/app",
                        scripts=(*struggle_page.learner_scripts(), chat_panel.script()), styles=(chat_panel.style(),),
                        config={**struggle_page.learner_config(session, profile), "chat": chat_config})


async def _instructor_home(request: Request, session: Session) -> Response:
    db = Database(request.scope["env"])
    course = session.claims.ct or "your course"
    try:
        visible, hidden = await profiles.course_learners(db, session.scope, session.context_id)
        summary = (f'<p id="class-count"><strong>{len(visible) + hidden}</strong> learner(s) have opened Atomic '
                   f"Guide in this course.</p>")
        if hidden:
            summary += (f'<p class="muted" id="class-hidden">{hidden} of them chose not to be shown to '
                        "instructors individually.</p>")
        overview = shell.page_url(session, "/app/courses/{context}/overview".replace(
            "{context}", quote(session.context_id, safe="")))
        table = (f'<p><a id="open-overview" class="button" href="{esc(overview)}">Open the class overview</a></p>'
                 '<p class="muted">Mastery by learner and concept, where the class struggles and why, who was '
                 "flagged, the help offered and taken, activities and grades, and the trend.</p>")
    except DataUnavailable:
        summary, table = ('<p class="card warn" role="status">The class list cannot be read right now (database '
                          "outage); try again in a few minutes.</p>"), ""
    try:
        overview = await struggle_service.course_overview(db, session.scope, session.context_id,
                                                          clock.now_ms(request.scope["env"]), 7)
        struggling = struggle_page.struggling_section(overview)
    except DataUnavailable:
        struggling = struggle_page.struggling_section(None, unavailable=True)
    body = (f'<h1 id="landing" data-role="instructor">Atomic Guide for {esc(course)}</h1>'
            "<p>See who is studying, where your class struggles and how mastery is building.</p>"
            f"{_notes(request)}"
            f'<section class="card" aria-labelledby="overview-title"><h2 id="overview-title">Class overview</h2>'
            f'<div id="overview">{summary}{table}</div></section>{struggling}')
    body += await guide_pages.activity_links(request, session)
    return shell.render(request, session, "Class", body, "/app")


@router.get("/static/{filename}")
async def static_asset(filename: str):
    found = assets.lookup(filename)
    if found is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    body, content_type, fingerprinted = found
    cache = "public, max-age=31536000, immutable" if fingerprinted else "public, max-age=300"
    return Response(body, media_type=content_type, headers={"Cache-Control": cache,
                                                            "X-Content-Type-Options": "nosniff"})
