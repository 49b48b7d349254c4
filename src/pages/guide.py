"""Pages of the AI Guide: the chat panel as learner pages include it (`learner_panel`),
and the Guide-conversation activity page (`/app/guide/{activity_id}`), where a learner
explains the activity's concepts to the Guide and sees their mastery score, and an
instructor sees how the class is doing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from auth.session import Session, require_page_session
from chat import policy, providers, service
from db import profiles
from db.database import Database, DataUnavailable
from pages import chat_panel, shell
from problems import Problem
from web.page import esc

router = APIRouter(include_in_schema=False)
UNREACHABLE = "The Guide cannot be reached right now (our database is recovering); try again in a few minutes."


async def learner_panel(request: Request, session: Session, *, activity: dict | None = None,
                        concept: str | None = None, conversation_id: str | None = None,
                        title: str = "AI Guide", intro: str | None = None) -> tuple[str, dict]:
    """(panel markup, its page config) for this learner here: unavailable with the reason
    (consent withdrawn, turned off for the activity, database down), otherwise with the
    notices to read before the first message."""
    env = request.scope["env"]
    db = Database(env)
    graded = activity is not None and policy.is_guide_activity(activity)
    try:
        profile = await profiles.get_by_user(db, session.scope, session.lti_user_id)
        settings = None
        if profile is not None:
            settings, _ = await service.settings_and_usage(env, db, session.scope, session.context_id, profile["id"])
    except DataUnavailable:
        profile, settings, reason = None, None, UNREACHABLE
    else:
        reason = None if profile is not None else "Open Atomic Guide from your course to use the Guide."
    if profile is not None and not policy.chat_consent(profile):
        reason = policy.CONSENT_OFF
    elif profile is not None and not policy.guide_allowed(activity):
        reason = policy.GUIDE_OFF
    notices: list[str] = []
    if settings is not None:
        offline = isinstance(providers.choose(env, settings), providers.OfflineProvider)
        notices = policy.notices(policy.staff_may_read(settings["instructor_transcripts"], profile), graded, offline)
    available = reason is None
    html = chat_panel.panel_html(available=available, reason=reason, notices=notices, title=title, intro=intro,
                                 pick_conversations=not graded)
    config = chat_panel.panel_config(available=available, reason=reason, notices=notices, concept=concept,
                                     activity_id=activity["id"] if activity is not None else None,
                                     conversation_id=conversation_id)
    return html, config


async def activity_links(request: Request, session: Session) -> str:
    """The course's Guide conversations, as a list of links (empty when there are none)."""
    try:
        activities = await service.guide_activities(Database(request.scope["env"]), session.scope, session.context_id)
    except DataUnavailable:
        return ""
    if not activities:
        return ""
    items = "".join(f'<li><a href="{esc(shell.page_url(session, "/app/guide/" + a["id"]))}">'
                    f'{esc(service.activity_view(a)["title"])}</a></li>' for a in activities)
    return ('<section class="card" aria-labelledby="guide-activities-title">'
            f'<h2 id="guide-activities-title">Guide conversations</h2><ul id="guide-activities">{items}</ul></section>')


@router.get("/app/guide/{activity_id}", response_class=HTMLResponse)
async def guide_activity_page(activity_id: str, request: Request, session: Session = Depends(require_page_session)):
    db = Database(request.scope["env"])
    try:
        activity = await service.course_activity(db, session.scope, activity_id[:64], session.context_id)
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", UNREACHABLE, headers={"Retry-After": "30"}) from None
    if activity is None or not policy.is_guide_activity(activity):
        raise Problem(404, "Not Found", "There is no such Guide conversation in this course.")
    view = service.activity_view(activity)
    if session.is_instructor:
        return await _instructor_view(request, session, db, activity, view)
    concepts = "".join(f"<li>{esc(c)}</li>" for c in view["concepts"])
    state = await _learner_state(db, session, activity)
    mastery = state["mastery"]
    body = (f'<h1 id="activity-title">{esc(view["title"])}</h1>'
            '<p>Explain these concepts to the Guide in your own words. It asks questions, listens to your reasoning '
            'and keeps a mastery score; it will not give the answers away.</p>'
            f'<section class="card" aria-labelledby="concepts-title"><h2 id="concepts-title">Concepts</h2>'
            f'<ul id="activity-concepts">{concepts}</ul>'
            '<div class="mastery"><label for="mastery-meter">Mastery score</label>'
            f'<progress id="mastery-meter" max="100" value="{mastery:g}">{mastery:g} / 100</progress>'
            f'<span id="mastery-value">{round(mastery)} / 100</span></div>'
            f'<p class="muted">Reaching {view["threshold"]:g} on every concept completes the activity; your grade goes '
            'to the course gradebook as it changes.</p>'
            f'<p id="mastery-status" role="status">{esc(state["status_text"])}</p></section>')
    panel, config = await learner_panel(request, session, activity=activity, conversation_id=state["conversation_id"],
                                        title="Your Guide conversation",
                                        intro="The Guide asks about each concept in turn. Answer in full sentences.")
    return shell.render(request, session, view["title"], body + panel, "/app", scripts=(chat_panel.script(),),
                        styles=(chat_panel.style(),), config={"chat": config})


async def _learner_state(db: Database, session: Session, activity: dict) -> dict:
    try:
        profile = await profiles.get_by_user(db, session.scope, session.lti_user_id)
        row = None if profile is None else await db.first(session.scope.select(
            "assessment_conversations", {"assessment_config_id": activity["id"], "learner_id": profile["id"]},
            columns=["id", "mastery_score", "status"], limit=1, name="chat.assessment.mine"))
    except DataUnavailable:
        row = None
    if row is None:
        return {"mastery": 0.0, "conversation_id": None, "status_text": "Not started yet."}
    text = "You have explained every concept of this activity." if row["status"] == "completed" else "In progress."
    return {"mastery": float(row["mastery_score"]), "conversation_id": row["id"], "status_text": text}


async def _instructor_view(request: Request, session: Session, db: Database, activity: dict, view: dict):
    try:
        rows = await db.all(session.scope.select("assessment_conversations", {"assessment_config_id": activity["id"]},
                                                 columns=["status", "mastery_score"], limit=5000,
                                                 name="chat.assessment.class"))
    except DataUnavailable:
        rows = []
    started = len(rows)
    completed = sum(1 for r in rows if r["status"] == "completed")
    average = round(sum(float(r["mastery_score"]) for r in rows) / started, 1) if started else 0.0
    body = (f'<h1 id="activity-title">{esc(view["title"])}</h1>'
            f'<p>A graded Guide conversation on: {esc(", ".join(view["concepts"]))}. Mastery threshold '
            f'{view["threshold"]:g}; graded by {esc(view["grading_schema"])}.</p>'
            '<section class="card" aria-labelledby="class-title"><h2 id="class-title">Your class</h2>'
            f'<p id="activity-started"><strong>{started}</strong> learner(s) started, <strong>{completed}</strong> '
            f'completed; average mastery score {average:g}.</p>'
            f'<p class="muted">The Guide is {"on" if policy.guide_allowed(activity) else "off"} for this activity '
            f'(<code>PUT /api/courses/…/activities/{esc(activity["id"])}/guide</code>).</p></section>')
    return shell.render(request, session, view["title"], body, "/app")
