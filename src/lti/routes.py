"""Browser-facing LTI routes: tool configuration, JWKS, OIDC login initiation, launch,
deep linking and dynamic registration. Failures render a readable HTML page (never a
stack trace) and write nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

import clock
from auth.session import mint_session_token
from db import profiles
from db.database import Database, DataUnavailable
from db.scope import TenantScope, issue_proof
from lti import http, keys, pages, registration
from lti.launch import DL, LTI, LaunchClaims, LaunchError, peek, platform_jwk, validate_id_token
from lti.services import AGS_LINEITEM, AGS_LINEITEM_RO, AGS_RESULT, AGS_SCORE, NRPS_SCOPE
from problems import correlation_id
from resilience.cache import profile_key, read_through, remember

log = logging.getLogger("atomic_guide.lti")
router = APIRouter(tags=["lti"])

STATE_COOKIE_PREFIX = "ag_state_"
MAX_FORM_BYTES = 32 * 1024
_STATE_RE = re.compile(r"^[A-Za-z0-9_\-]{20,128}$")
DL_AUDIENCE = "atomic-guide-deep-link"
ACTIVITIES = [
    {"key": "guide", "title": "Atomic Guide", "text": "Study with struggle detection and the AI Guide chat."},
    {"key": "mastery-check", "title": "Atomic Guide mastery check",
     "text": "A graded conversation; mastery flows to the gradebook.", "graded": True},
]


def base_url(request: Request) -> str:
    configured = getattr(request.scope["env"], "TOOL_BASE_URL", None)
    return str(configured).rstrip("/") if configured else str(request.base_url).rstrip("/")


def launch_url(request: Request) -> str:
    return base_url(request) + "/lti/launch"


def _html(body: str, status: int = 200, headers: dict | None = None) -> HTMLResponse:
    h = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
    h.update(headers or {})
    return HTMLResponse(body, status_code=status, headers=h)


def _fail(request: Request, err: LaunchError) -> HTMLResponse:
    log.info(json.dumps({"event": "lti_refused", "claim": err.claim, "reason": err.message,
                         "correlation_id": correlation_id(request)}))
    return _html(pages.error_page("The launch could not be completed", err.message, err.claim,
                                  correlation_id(request)), status=err.status)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise LaunchError("form", "The form post is too large.", 413)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise LaunchError("form", "The form post is not UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _state_cookie(state: str) -> str:
    return STATE_COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:16]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# -- configuration and keys ------------------------------------------------------------

@router.get("/lti/config.json", summary="Canvas developer-key JSON (paste URL into Canvas)")
async def canvas_config(request: Request):
    base = base_url(request)
    launch = base + "/lti/launch"
    placements = [
        {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest", "target_link_uri": launch,
         "text": "Atomic Guide", "default": "enabled", "visibility": "public"},
        {"placement": "link_selection", "message_type": "LtiDeepLinkingRequest", "target_link_uri": launch,
         "text": "Atomic Guide"},
        {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest", "target_link_uri": launch,
         "text": "Atomic Guide mastery check"},
    ]
    return JSONResponse({
        "title": "Atomic Guide",
        "description": "Cognitive learning profiles, struggle detection, an AI study Guide and mastery "
                       "tracking that flows to the gradebook.",
        "oidc_initiation_url": base + "/lti/login",
        "target_link_uri": launch,
        "public_jwk_url": base + "/.well-known/jwks.json",
        "scopes": [AGS_LINEITEM, AGS_LINEITEM_RO, AGS_RESULT, AGS_SCORE, NRPS_SCOPE],
        "extensions": [{"domain": urlsplit(base).hostname, "tool_id": "atomic-guide",
                        "platform": "canvas.instructure.com", "privacy_level": "public",
                        "settings": {"text": "Atomic Guide", "placements": placements}}],
        "custom_fields": {"canvas_course_id": "$Canvas.course.id"},
    })


@router.get("/.well-known/jwks.json", summary="The tool's public keys (kid = RFC 7638 thumbprint)")
async def tool_jwks(request: Request):
    return JSONResponse(keys.jwks(request.scope["env"]), headers={"Cache-Control": "public, max-age=3600"})


# -- OIDC login initiation -------------------------------------------------------------

@router.api_route("/lti/login", methods=["GET", "POST"], summary="OIDC third-party login initiation")
async def login(request: Request):
    env = request.scope["env"]
    try:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(await _form(request))
        iss = params.get("iss", "")
        if not iss:
            raise LaunchError("iss", "The login request has no issuer (iss).")
        client_id = params.get("client_id") or None
        reg = await registration.find(env, iss, client_id)
        if reg is None:
            if client_id and await registration.find(env, iss, None) is not None:
                raise LaunchError("client_id", "This client_id is not registered for the platform.")
            raise LaunchError("iss", "This platform (issuer) is not registered with Atomic Guide.")
        login_hint = params.get("login_hint", "")
        if not login_hint:
            raise LaunchError("login_hint", "The login request has no login_hint.")
        target = params.get("target_link_uri", "")
        if not target.startswith(launch_url(request)):
            raise LaunchError("target_link_uri", "target_link_uri does not point at this tool's launch URL.")
        deployment = params.get("lti_deployment_id")
        if deployment is not None and deployment not in reg.deployment_ids:
            raise LaunchError("lti_deployment_id", "This deployment is not registered for the platform.")
    except LaunchError as err:
        return _fail(request, err)
    except DataUnavailable:
        return _fail(request, LaunchError("registration", "Registrations cannot be read right now; try again.", 503))

    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    storage_target = params.get("lti_storage_target") or None
    record = {"issuer": reg.issuer, "client_id": reg.client_id, "target_link_uri": target,
              "nonce_hash": hashlib.sha256(nonce.encode()).hexdigest(), "storage_target": storage_target,
              "platform_origin": _origin(reg.auth_login_url)}
    await env.OIDC_STATE.getByName(state).create(record)
    query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
             "client_id": reg.client_id, "redirect_uri": target, "login_hint": login_hint, "state": state,
             "nonce": nonce}
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    auth_url = f"{reg.auth_login_url}{'&' if '?' in reg.auth_login_url else '?'}{urlencode(query)}"
    if storage_target:
        response: Response = _html(pages.storage_put_then_redirect(auth_url, record["platform_origin"],
                                                                   storage_target, "state_" + state, state))
    else:
        response = RedirectResponse(auth_url, status_code=302, headers={"Cache-Control": "no-store"})
    # Partitioned (CHIPS) so the cookie works inside Canvas's iframe where third-party
    # cookies are blocked; platform storage covers browsers that refuse it anyway.
    response.headers.append(
        "Set-Cookie", f"{_state_cookie(state)}={state}; Path=/lti; Max-Age=600; HttpOnly; Secure; "
                      "SameSite=None; Partitioned")
    return response


# -- launch ----------------------------------------------------------------------------

@router.post("/lti/launch", summary="LTI 1.3 launch (id_token form post)")
async def launch(request: Request):
    env = request.scope["env"]
    try:
        form = await _form(request)
        state = form.get("state", "")
        if not state:
            raise LaunchError("state", "The launch has no state.")
        if not _STATE_RE.match(state):
            raise LaunchError("state", "The launch state is not one this tool issued.")
        if "error" in form:
            raise LaunchError("platform", f"The platform refused the login: {form.get('error_description') or form['error']}.")
        id_token = form.get("id_token", "")
        stub = env.OIDC_STATE.getByName(state)
        if request.cookies.get(_state_cookie(state)) != state:
            storage_state = form.get("lti_storage_state")
            if storage_state is None:
                pending = await stub.peek()
                if pending["status"] != "ok":
                    raise LaunchError("state", "The login state is unknown or has expired; relaunch from Canvas.")
                rec = pending["record"]
                if not rec.get("storage_target"):
                    raise LaunchError("state", "The state cookie is missing (third-party cookies blocked?) and the "
                                               "platform offered no storage; relaunch from Canvas.")
                return _html(pages.storage_get_then_post(launch_url(request), rec["platform_origin"],
                                                         rec["storage_target"], "state_" + state,
                                                         {"id_token": id_token, "state": state}))
            if not secrets.compare_digest(storage_state, state):
                raise LaunchError("state", "The state kept in platform storage does not match this launch.")
        consumed = await stub.consume()
        if consumed["status"] != "ok":
            reason = {"used": "This launch was already used (replayed); relaunch from Canvas.",
                      "expired": "The login took too long (state expired); relaunch from Canvas."}
            raise LaunchError("state", reason.get(consumed["status"], "The login state is unknown; relaunch from Canvas."))
        login = consumed["record"]
        head = peek(id_token)
        reg = await registration.find(env, login["issuer"], login["client_id"])
        if reg is None:
            raise LaunchError("iss", "The platform registration disappeared during the login.")
        jwk = await platform_jwk(env, reg, head.header["kid"])
        claims = validate_id_token(id_token, login, reg, jwk, clock.now(env))
    except LaunchError as err:
        return _fail(request, err)
    except DataUnavailable:
        return _fail(request, LaunchError("registration", "Registrations cannot be read right now; try again.", 503))

    scope = TenantScope(issue_proof(reg.tenant_id, reg.d1_binding, "lti-launch"))
    if claims.message_type == "LtiDeepLinkingRequest":
        return _deep_link_selection(request, claims, reg)
    return await _land(request, claims, reg, scope)


async def _land(request: Request, claims: LaunchClaims, reg, scope: TenantScope) -> HTMLResponse:
    env = request.scope["env"]
    db = Database(env)
    saved = True
    learning_session_id = None
    try:
        profile = await profiles.ensure(db, scope, claims.sub)
        learning_session_id = profiles.new_id()
        await db.run(scope.insert("learning_sessions", {
            "id": learning_session_id, "learner_id": profile["id"], "course_context": claims.context_id,
            "session_type": "exploration"}, name="sessions.create_at_launch"))
        stale = False
        await remember(env, profile_key(scope.tenant_id, claims.sub), profile, str(profile["version"]))
    except DataUnavailable:
        saved = False
        learning_session_id = None
        try:
            profile, stale = await read_through(
                env, profile_key(scope.tenant_id, claims.sub),
                lambda: profiles.get_by_user(db, scope, claims.sub), lambda r: str(r["version"]), scope.tenant_id)
        except DataUnavailable:
            return _fail(request, LaunchError("d1", "Your learning data cannot be reached right now (database "
                                                    "outage); try again in a few minutes.", 503))
        if profile is None:
            return _fail(request, LaunchError("d1", "Your learning profile cannot be created right now (database "
                                                    "outage); try again in a few minutes.", 503))
    # What the services need later (AGS line items, NRPS roster) for this course.
    await env.LTI_PLATFORMS.put(
        f"ctx:{scope.tenant_id}:{hashlib.sha256(claims.context_id.encode()).hexdigest()[:32]}",
        json.dumps({"issuer": reg.issuer, "client_id": reg.client_id, "deployment_id": claims.deployment_id,
                    "ags": claims.ags, "nrps": claims.nrps, "resource_link_id": claims.resource_link_id}),
        expirationTtl=90 * 24 * 3600)
    token = mint_session_token(env, tenant_id=scope.tenant_id, lti_user_id=claims.sub,
                               context_id=claims.context_id, roles=claims.roles,
                               learning_session_id=learning_session_id)
    role = "instructor" if claims.is_instructor else "learner"
    return _html(pages.landing_page(role=role, name=claims.name, context_title=claims.context_title, token=token,
                                    profile=profile, stale=stale, saved=saved))


# -- deep linking ----------------------------------------------------------------------

def _session_key(env) -> str:
    return str(getattr(env, "SESSION_SIGNING_KEY"))


def _deep_link_selection(request: Request, claims: LaunchClaims, reg) -> HTMLResponse:
    settings = claims.deep_linking or {}
    now = int(clock.now(request.scope["env"]))
    dl = jwt.encode({"aud": DL_AUDIENCE, "iat": now, "exp": now + 600, "iss": reg.issuer, "client_id": reg.client_id,
                     "deployment_id": claims.deployment_id, "return_url": settings["deep_link_return_url"],
                     "data": settings.get("data"), "multiple": bool(settings.get("accept_multiple", True))},
                    _session_key(request.scope["env"]), algorithm="HS256")
    return _html(pages.deep_link_selection(base_url(request) + "/lti/deep-link/respond", dl, ACTIVITIES))


@router.post("/lti/deep-link/respond", summary="Build the signed LtiDeepLinkingResponse")
async def deep_link_respond(request: Request):
    env = request.scope["env"]
    try:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise LaunchError("form", "The form post is too large.", 413)
        fields = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        dl_token = next((v for k, v in fields if k == "dl"), "")
        chosen = [v for k, v in fields if k == "item"]
        try:
            dl = jwt.decode(dl_token, _session_key(env), algorithms=["HS256"], audience=DL_AUDIENCE,
                            options={"require": ["exp", "iat"]})
        except jwt.InvalidTokenError:
            raise LaunchError("dl", "The deep linking session is missing or has expired; start again from Canvas.")
        known = {a["key"]: a for a in ACTIVITIES}
        if not chosen or any(c not in known for c in chosen):
            raise LaunchError("item", "Choose at least one of the listed activities.")
        if not dl["multiple"]:
            chosen = chosen[:1]
    except LaunchError as err:
        return _fail(request, err)
    items = []
    for key in chosen:
        activity = known[key]
        item = {"type": "ltiResourceLink", "title": activity["title"], "text": activity["text"],
                "url": launch_url(request), "custom": {"activity": key}}
        if activity.get("graded"):
            item["lineItem"] = {"scoreMaximum": 100, "label": activity["title"], "tag": "atomic-guide-mastery"}
        items.append(item)
    now = int(clock.now(request.scope["env"]))
    claims = {"iss": dl["client_id"], "aud": [dl["iss"]], "iat": now, "exp": now + 300,
              "nonce": secrets.token_urlsafe(16), LTI + "deployment_id": dl["deployment_id"],
              LTI + "message_type": "LtiDeepLinkingResponse", LTI + "version": "1.3.0",
              DL + "content_items": items}
    if dl.get("data") is not None:
        claims[DL + "data"] = dl["data"]
    return _html(pages.auto_post(dl["return_url"], {"JWT": keys.sign(env, claims)}))


# -- dynamic registration --------------------------------------------------------------

REG_CODE_AUDIENCE = "atomic-guide-registration"


@router.get("/lti/register", summary="LTI Dynamic Registration (opened by the platform)")
async def dynamic_registration(request: Request):
    env = request.scope["env"]
    q = request.query_params
    try:
        code = jwt.decode(q.get("reg_code", ""), _session_key(env), algorithms=["HS256"],
                          audience=REG_CODE_AUDIENCE, options={"require": ["exp"]})
    except jwt.InvalidTokenError:
        return _html(pages.registration_done(False, "This registration link is invalid or has expired; ask for "
                                                    "a new one."), status=400)
    config_url = q.get("openid_configuration", "")
    if not config_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        return _html(pages.registration_done(False, "openid_configuration must be an https URL."), status=400)
    try:
        cfg_resp = await http.request("GET", config_url, {"accept": "application/json"})
        cfg = cfg_resp.json()
        issuer = cfg["issuer"]
        if not config_url.startswith(issuer.rstrip("/")):
            raise ValueError("the configuration URL is not under the issuer")
        base = base_url(request)
        tool = {
            "application_type": "web", "response_types": ["id_token"], "grant_types": ["implicit", "client_credentials"],
            "initiate_login_uri": base + "/lti/login", "redirect_uris": [base + "/lti/launch"],
            "client_name": "Atomic Guide", "jwks_uri": base + "/.well-known/jwks.json",
            "token_endpoint_auth_method": "private_key_jwt",
            "scope": " ".join([AGS_LINEITEM, AGS_LINEITEM_RO, AGS_RESULT, AGS_SCORE, NRPS_SCOPE]),
            "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                "domain": urlsplit(base).netloc, "target_link_uri": base + "/lti/launch",
                "claims": ["iss", "sub", "name"],
                "messages": [{"type": "LtiResourceLinkRequest"},
                             {"type": "LtiDeepLinkingRequest", "target_link_uri": base + "/lti/launch"}]},
        }
        headers = {"content-type": "application/json", "accept": "application/json"}
        if q.get("registration_token"):
            headers["authorization"] = f"Bearer {q['registration_token']}"
        reg_resp = await http.request("POST", cfg["registration_endpoint"], headers, json.dumps(tool).encode())
        if reg_resp.status not in (200, 201):
            raise ValueError(f"the platform refused the registration (HTTP {reg_resp.status})")
        created = reg_resp.json()
        tool_cfg = created.get("https://purl.imsglobal.org/spec/lti-tool-configuration", {})
        deployment = tool_cfg.get("deployment_id")
        req = registration.PlatformRegistrationRequest(
            tenant_id=code.get("tenant_id"), tenant_name=code["tenant_name"], d1_binding=code.get("d1_binding", "D1_PRIMARY"),
            issuer=issuer, client_id=created["client_id"], deployment_ids=[deployment] if deployment else ["default"],
            auth_login_url=cfg["authorization_endpoint"], auth_token_url=cfg["token_endpoint"],
            key_set_url=cfg["jwks_uri"])
        await registration.register(env, req)
    except (http.HttpError, KeyError, ValueError, TypeError) as exc:
        return _html(pages.registration_done(False, f"Registration failed: {exc}"), status=400)
    return _html(pages.registration_done(True, "Atomic Guide is registered. You can close this window."))
