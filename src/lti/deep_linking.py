"""LTI Deep Linking 2.0: the instructor picks what to add (a practice activity with its
settings, the Atomic Guide home, the course mastery check), and the tool returns a signed
LtiDeepLinkingResponse to the platform. The selection form carries a short-lived token
(HS256, the session key) with what the response needs, and an instructor session token
for the activity it creates; a practice activity is stored (assessment_configs, pending
its resource link) and its id travels in the content item's custom parameters."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

import clock
from auth.session import mint_session_token, session_from_token
from db.database import Database, DataUnavailable
from db.scope import TenantScope
from learner import graph as kg
from learner import service as learner_service
from lti import browser, framing, keys, pages
from lti.launch import DL, LTI, LaunchClaims, LaunchError
from lti.tool_config import base_url
from practice import gradebook
from practice import service as practice
from practice.launch import CUSTOM_PARAM
from problems import Problem

router = APIRouter(tags=["lti"])

DL_AUDIENCE = "atomic-guide-deep-link"
DL_TTL_S = 600
PRACTICE = "practice"
ACTIVITIES = [
    {"key": PRACTICE, "title": "Practice activity",
     "text": "Learners practise the concepts you choose (flashcards, fill in the blank or a Guide conversation); "
             "the tool picks each item, checks answers and can send grades to the gradebook."},
    {"key": "guide", "title": "Atomic Guide", "text": "Study with struggle detection and the AI Guide chat."},
    {"key": "mastery-check", "title": "Atomic Guide mastery check",
     "text": "A graded activity; mastery flows to the gradebook.", "graded": True},
]
TYPE_LABELS = {"flashcards": "Flashcards", "fill_blank": "Fill in the blank", "chat": "Guide conversation"}


def _key(env) -> str:
    return str(getattr(env, "SESSION_SIGNING_KEY"))


async def _course_concepts(env, scope: TenantScope, context_id: str) -> list[tuple[str, str]] | None:
    """(id, name) of the course's concepts, or None when D1 cannot be read."""
    try:
        graph = await learner_service.load_graph(Database(env), scope)
    except DataUnavailable:
        return None
    return [(cid, graph[cid].name) for cid in kg.course_concepts(graph, context_id)]


async def selection(request: Request, claims: LaunchClaims, reg, origins: list[str],
                    scope: TenantScope) -> HTMLResponse:
    env = request.scope["env"]
    settings = claims.deep_linking or {}
    now = int(clock.now(env))
    dl = jwt.encode({"aud": DL_AUDIENCE, "iat": now, "exp": now + DL_TTL_S, "iss": reg.issuer,
                     "client_id": reg.client_id, "deployment_id": claims.deployment_id,
                     "return_url": settings["deep_link_return_url"], "data": settings.get("data"),
                     "multiple": bool(settings.get("accept_multiple", True)), "fo": origins,
                     "tid": scope.tenant_id, "ctx": claims.context_id},
                    _key(env), algorithm="HS256")
    ltik = None
    concepts: list[tuple[str, str]] | None = []
    if claims.is_instructor:
        ltik = mint_session_token(env, tenant_id=scope.tenant_id, lti_user_id=claims.sub,
                                  context_id=claims.context_id, roles=claims.roles, ttl_s=DL_TTL_S,
                                  name=claims.name, context_title=claims.context_title, frame_origins=origins)
        concepts = await _course_concepts(env, scope, claims.context_id)
    return browser.render(request, pages.deep_link_selection(
        base_url(request) + "/lti/deep-link/respond", dl, _options(ltik is not None), ltik=ltik, concepts=concepts),
        origins)


def _options(practice_allowed: bool) -> list[dict]:
    return [a for a in ACTIVITIES if practice_allowed or a["key"] != PRACTICE]


def response_items(chosen: list[str], launch_url: str, practice_item: dict | None = None) -> list[dict]:
    known = {a["key"]: a for a in ACTIVITIES}
    items = []
    for key in chosen:
        if key == PRACTICE:
            if practice_item is not None:
                items.append(practice_item)
            continue
        activity = known[key]
        item = {"type": "ltiResourceLink", "title": activity["title"], "text": activity["text"],
                "url": launch_url, "custom": {"activity": key}}
        if activity.get("graded"):
            item["lineItem"] = {"scoreMaximum": 100, "label": activity["title"], "tag": "atomic-guide-mastery"}
        items.append(item)
    return items


def practice_content_item(activity: dict, launch_url: str) -> dict:
    """The content item of a practice activity: its id in the custom parameters, and a
    gradebook column (lineItem) when graded, tagged so the tool finds it by resource link."""
    concepts = practice._loads(activity["concepts"], [])
    item = {"type": "ltiResourceLink", "title": activity["title"],
            "text": f"{TYPE_LABELS[activity['assessment_type']]} practice on {len(concepts)} concept(s).",
            "url": launch_url, "custom": {CUSTOM_PARAM: activity["id"], "activity": PRACTICE}}
    if activity["graded"]:
        item["lineItem"] = {"scoreMaximum": 100, "label": activity["title"], "resourceId": activity["id"],
                            "tag": gradebook.TAG}
    return item


def _number(fields: dict, name: str, default: float, errors: list[str], label: str) -> float:
    raw = (fields.get(name) or "").strip()
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        errors.append(f"{label}: enter a number.")
        return default


def _practice_settings(form: list[tuple[str, str]]) -> tuple[practice.ActivitySettings, list[str], list[str]]:
    """(settings, new concept names, errors) from the selection form."""
    fields = dict(form)
    errors: list[str] = []
    concepts = [v for k, v in form if k == "concept" and v]
    new_names = [line.strip() for line in (fields.get("new_concepts") or "").splitlines() if line.strip()]
    threshold = _number(fields, "mastery_threshold", 80.0, errors, "Mastery threshold")
    tolerance = _number(fields, "typo_tolerance", 1, errors, "Typo tolerance")
    target = _number(fields, "engagement_target", 20, errors, "Engagement target")
    settings = practice.ActivitySettings(
        title=(fields.get("title") or "").strip(), type=fields.get("type") or "", concepts=tuple(concepts),
        mastery_threshold=threshold, grading_schema=fields.get("grading_schema") or "mastery",
        graded=fields.get("graded") == "1", typo_tolerance=int(tolerance) if tolerance == int(tolerance) else -1,
        engagement_target=int(target) if target == int(target) else -1)
    check = practice.ActivitySettings(**{**settings.__dict__, "concepts": settings.concepts or tuple(new_names)})
    errors += [p[0].upper() + p[1:] for p in check.problems()]
    return settings, new_names, errors


@router.post("/lti/deep-link/respond", summary="Build the signed LtiDeepLinkingResponse", include_in_schema=False)
async def respond(request: Request):
    env = request.scope["env"]
    origins = None
    try:
        body = await request.body()
        if len(body) > browser.MAX_FORM_BYTES:
            raise LaunchError("form", "The form post is too large.", 413)
        form = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        fields = dict(form)
        dl_token = fields.get("dl", "")
        chosen = list(dict.fromkeys(v for k, v in form if k == "item"))
        try:
            dl = jwt.decode(dl_token, _key(env), algorithms=["HS256"], audience=DL_AUDIENCE,
                            options={"require": ["exp", "iat"], "verify_exp": False})
        except jwt.InvalidTokenError:
            raise LaunchError("dl", "The deep linking session is missing or invalid; start again from Canvas.")
        origins = dl.get("fo") or []
        if dl["exp"] <= clock.now(env):
            raise LaunchError("dl", "The deep linking session has expired; start again from Canvas.")
        known = {a["key"] for a in ACTIVITIES}
        if not chosen or any(c not in known for c in chosen):
            raise LaunchError("item", "Choose at least one of the listed activities.")
        if not dl["multiple"]:
            chosen = chosen[:1]
        launch_url = base_url(request) + "/lti/launch"
        practice_item = None
        if PRACTICE in chosen:
            outcome = await _create_practice(request, dl, form, launch_url)
            if isinstance(outcome, HTMLResponse):
                return outcome
            practice_item = outcome
    except LaunchError as err:
        return await browser.refuse(request, err, origins)
    now = int(clock.now(env))
    claims = {"iss": dl["client_id"], "aud": [dl["iss"]], "iat": now, "exp": now + 300,
              "nonce": secrets.token_urlsafe(16), LTI + "deployment_id": dl["deployment_id"],
              LTI + "message_type": "LtiDeepLinkingResponse", LTI + "version": "1.3.0",
              DL + "content_items": response_items(chosen, launch_url, practice_item)}
    if dl.get("data") is not None:
        claims[DL + "data"] = dl["data"]
    return_origin = framing.origin(dl["return_url"])
    return browser.render(request, pages.auto_post(dl["return_url"], {"JWT": keys.sign(env, claims)}), origins,
                          form_action=[return_origin] if return_origin else [])


async def _create_practice(request: Request, dl: dict, form: list[tuple[str, str]], launch_url: str):
    """The practice activity of the form, stored; or the form again with what to fix (422)."""
    env = request.scope["env"]
    fields = dict(form)
    try:
        session = await session_from_token(env, fields.get("ltik", ""))
    except Problem:
        raise LaunchError("ltik", "Only the course's instructors can create a practice activity; start again "
                                  "from Canvas.", 403) from None
    if not session.is_instructor or session.context_id != dl.get("ctx") or session.scope.tenant_id != dl.get("tid"):
        raise LaunchError("ltik", "Only the course's instructors can create a practice activity.", 403)
    settings, new_names, errors = _practice_settings(form)
    db = Database(env)
    try:
        if not errors:
            try:
                created = await practice.ensure_concepts(db, session.scope, session.context_id, new_names)
                settings = practice.ActivitySettings(**{**settings.__dict__, "concepts": tuple(
                    dict.fromkeys([*settings.concepts, *created]))})
                activity = await practice.create_activity(db, session.scope, session.context_id,
                                                          session.lti_user_id, settings)
                return practice_content_item(activity, launch_url)
            except practice.PracticeError as exc:
                errors.append(exc.detail + (f" ({', '.join(exc.extra['ids'])})" if exc.extra.get("ids") else ""))
                errors += exc.extra.get("problems", []) if isinstance(exc.extra.get("problems"), list) and all(
                    isinstance(p, str) for p in exc.extra["problems"]) else []
    except DataUnavailable:
        raise LaunchError("d1", "The activity cannot be saved right now (database outage); try again in a few "
                                "minutes.", 503, retry_after=30) from None
    concepts = await _course_concepts(env, session.scope, session.context_id)
    page = pages.deep_link_selection(base_url(request) + "/lti/deep-link/respond", fields.get("dl", ""), _options(True),
                                     ltik=fields.get("ltik"), concepts=concepts, errors=errors, values=form)
    return browser.render(request, page, dl.get("fo") or [], status=422)
