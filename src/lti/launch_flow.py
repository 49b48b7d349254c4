"""The LTI launch: the platform posts the id_token here. The browser binding is checked
(state cookie, or the secret read back from platform storage by the tool's own page),
the state is consumed once, the token validated (lti/launch.py), and then either the
deep-linking selection opens or the launch lands: profile and learning session written
in one batch, and the browser is sent on (303) to the session's home page, so a reload
never re-posts the launch."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

import clock
from auth.session import PAGE_TOKEN_PARAM, mint_session_token
from db import profiles
from db.database import Database, DataUnavailable
from db.scope import TenantScope, issue_proof
from lti import browser, deep_linking, framing, limits, pages, registration
from lti.launch import LaunchClaims, LaunchError, peek, platform_jwk, validate_id_token
from lti.roles import CourseRole
from lti.tool_config import base_url
from practice import launch as practice_launch
from resilience.cache import profile_key, put_if_changed, read_through, remember
from web import assets
from web.page import Page

router = APIRouter(tags=["lti"])

_STATE_RE = re.compile(r"^[A-Za-z0-9_\-]{20,128}$")
COURSE_SERVICES_TTL_S = 90 * 24 * 3600


def course_services_key(tenant_id: str, context_id: str) -> str:
    return f"ctx:{tenant_id}:{hashlib.sha256(context_id.encode()).hexdigest()[:32]}"


@router.get("/lti/launch", include_in_schema=False)
async def launch_explained(request: Request):
    """A person who opens the launch URL directly is told where to start."""
    page = Page("Open from your course", '<h1 id="launch-help">Open Atomic Guide from your course</h1>'
                "<p>Atomic Guide starts from your learning platform: open your course in Canvas and choose "
                "<strong>Atomic Guide</strong> in the course navigation or in a module.</p>"
                f'<p class="muted">This address ({browser.tool_origin(request)}/lti/launch) only accepts '
                "launches sent by a registered platform.</p>")
    return browser.render(request, page, await framing.registered_union(request.scope["env"]))


@router.post("/lti/launch", summary="LTI 1.3 launch (id_token form post)", include_in_schema=False)
async def launch(request: Request):
    env = request.scope["env"]
    reg = None
    try:
        await limits.enforce_browser(env, request, "launch")
        form = await browser.read_form(request)
        if "error" in form:
            raise LaunchError("platform", "The platform refused the login: "
                                          f"{(form.get('error_description') or form['error'])[:300]}.")
        state = form.get("state", "")
        if not state:
            raise LaunchError("state", "The launch has no state.")
        if not _STATE_RE.match(state):
            raise LaunchError("state", "The launch state is not one this tool issued.")
        id_token = form.get("id_token", "")
        stub = env.OIDC_STATE.getByName(state)
        if not secrets.compare_digest(request.cookies.get(browser.state_cookie(state), ""), state):
            relaunch = await _bind_without_cookie(request, stub, form, state, id_token)
            if relaunch is not None:
                return relaunch
        consumed = await browser.binding(stub.consume, "sign-in service")
        if consumed["status"] != "ok":
            reason = {"used": "This launch was already used (replayed); open Atomic Guide again from your course.",
                      "expired": "The sign-in took too long (state expired); open Atomic Guide again from your "
                                 "course."}
            raise LaunchError("state", reason.get(consumed["status"], "The login state is unknown; open Atomic "
                                                                      "Guide again from your course."))
        login = consumed["record"]
        await limits.enforce_browser(env, request, "launch", issuer=login["issuer"])
        head = peek(id_token)
        reg = await browser.binding(lambda: registration.find(env, login["issuer"], login["client_id"]),
                                    "platform registration")
        if reg is None:
            raise LaunchError("iss", "The platform registration disappeared during the login.")
        jwk = await browser.binding(lambda: platform_jwk(env, reg, head.header["kid"]), "platform key cache")
        claims = validate_id_token(id_token, login, reg, jwk, clock.now(env))
    except LaunchError as err:
        return await browser.refuse(request, err, reg.origins() if reg else None)

    scope = TenantScope(issue_proof(reg.tenant_id, reg.d1_binding, "lti-launch"))
    origins = framing.launch_origins(reg.origins(), claims.launch_presentation, claims.custom)
    if claims.message_type == "LtiDeepLinkingRequest":
        response = await deep_linking.selection(request, claims, reg, origins, scope)
    else:
        response = await _land(request, claims, reg, scope, origins)
    response.headers.append("Set-Cookie", browser.state_cookie_header(state, 0))  # used once: forget it
    return response


async def _bind_without_cookie(request: Request, stub, form: dict, state: str, id_token: str):
    """No state cookie (third-party cookies blocked): the login must have offered
    platform storage, and the secret kept there must come back in a post made by the
    tool's own page. Returns the page that reads it, or None once it is verified."""
    pending = await browser.binding(stub.peek, "sign-in service")
    if pending["status"] != "ok":
        raise LaunchError("state", "The sign-in took too long (state expired); open Atomic Guide again from your "
                                   "course." if pending["status"] == "expired" else
                                   "The login state is unknown or has expired; open Atomic Guide again from your "
                                   "course.")
    rec = pending["record"]
    if not rec.get("storage_target") or not rec.get("storage_secret_hash"):
        raise LaunchError("state", "The state cookie is missing (third-party cookies blocked?) and the platform "
                                   "offered no storage; open Atomic Guide again from your course.")
    secret = form.get("lti_storage_state")
    if secret is None:
        reg_origins = (await _origins_of(request, rec))
        return browser.render(request, pages.storage_get_then_post(
            base_url(request) + "/lti/launch", rec["platform_origin"], rec["storage_target"], "ag_state_" + state,
            {"id_token": id_token, "state": state}, assets.path("lti-storage.js")), reg_origins)
    if not browser.posted_from_this_tool(request):
        raise LaunchError("state", "The platform-storage check must be completed by Atomic Guide's own page; "
                                   "open Atomic Guide again from your course.")
    if not secrets.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), rec["storage_secret_hash"]):
        raise LaunchError("state", "The state kept in platform storage does not match this launch.")
    return None


async def _origins_of(request: Request, login: dict) -> list[str]:
    reg = await browser.binding(lambda: registration.find(request.scope["env"], login["issuer"], login["client_id"]),
                                "platform registration")
    return reg.origins() if reg else []


async def _land(request: Request, claims: LaunchClaims, reg: registration.Registration, scope: TenantScope,
                origins: list[str]):
    env = request.scope["env"]
    db = Database(env)
    saved = True
    learning_session_id = None
    try:
        profile, learning_session_id = await profiles.open_launch_session(
            db, scope, claims.sub, claims.context_id, claims.course_role.value)
        await remember(env, profile_key(scope.tenant_id, claims.sub), profile, str(profile["version"]))
    except DataUnavailable:
        saved = False
        try:
            profile, _stale = await read_through(
                env, profile_key(scope.tenant_id, claims.sub),
                lambda: profiles.get_by_user(db, scope, claims.sub), lambda r: str(r["version"]), scope.tenant_id)
        except DataUnavailable:
            profile = None
        if profile is None:
            return await browser.refuse(request, LaunchError(
                "d1", "Your learning data cannot be reached right now (database outage); try again in a few "
                      "minutes.", 503, retry_after=30), origins)
    # What the services need later (AGS line items, NRPS roster) for this course. Best
    # effort: a KV failure must not cost the learner the launch.
    try:
        # Unchanged since this isolate last wrote it: no write (launches of a class repeat it).
        await put_if_changed(
            env, env.LTI_PLATFORMS, course_services_key(scope.tenant_id, claims.context_id),
            json.dumps({"issuer": reg.issuer, "client_id": reg.client_id, "deployment_id": claims.deployment_id,
                        "ags": claims.ags, "nrps": claims.nrps, "resource_link_id": claims.resource_link_id}),
            COURSE_SERVICES_TTL_S)
    except Exception as exc:
        browser.log.warning(json.dumps({"event": "course_services_not_saved", "error": type(exc).__name__}))
    if claims.course_role is CourseRole.INSTRUCTOR:  # the class pages show the roster's names
        from insights.roster import refresh_after_launch

        refresh_after_launch(request, scope, claims.context_id)
    token = mint_session_token(env, tenant_id=scope.tenant_id, lti_user_id=claims.sub,
                               context_id=claims.context_id, roles=claims.roles,
                               learning_session_id=learning_session_id, name=claims.name,
                               context_title=claims.context_title, resource_link_id=claims.resource_link_id,
                               frame_origins=origins)
    query = {PAGE_TOKEN_PARAM: token}
    path = "/app"
    if not saved:
        query["notice"] = "offline"
    else:
        # A deep-linked practice activity opens itself (bound to this resource link on its first launch).
        try:
            destination = await practice_launch.open_activity(db, scope, claims)
        except DataUnavailable:
            destination = None
            query["notice"] = "offline"
        if destination is not None:
            path = destination.path(claims.is_instructor)
            if destination.activity_id is None:
                query["notice"] = "activity-missing"
    return RedirectResponse(f"{base_url(request)}{path}?{urlencode(query)}", status_code=303,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
