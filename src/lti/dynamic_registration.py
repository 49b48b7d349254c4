"""LTI Dynamic Registration, opened by the platform with a link an Atomic Guide admin
issued for one tenant.

The link is single use: its first use claims it atomically in D1 and shows the
administrator what will be registered; confirming registers the tool with the platform
and ends the link; a failure gives it back. The code itself is never stored (only its
sha256) and leaves the URL after the first request (the confirmation travels in a signed
form field). Errors show a generic message with a correlation id; the detail (which may
name internal hosts) goes to the log only."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from fastapi import APIRouter, Request

import clock
from db.database import Database, DataUnavailable
from db.profiles import new_id
from db.system import (claim_registration_link, finish_registration_link, get_tenant, insert_registration_link,
                       registration_link_status, release_registration_link)
from lti import browser, framing, http, limits, registration
from lti.launch import LaunchError
from lti.pages import registration_done
from lti.tool_config import base_url, dynamic_registration as tool_registration
from lti.urls import UrlPolicyError, check_platform_url, is_under
from problems import correlation_id
from web.page import Page, esc

log = logging.getLogger("atomic_guide.lti.registration")
router = APIRouter(tags=["lti"])

ATTEMPT_AUDIENCE = "atomic-guide-registration-attempt"
ATTEMPT_TTL_S = 600
ABANDONED_AFTER_S = 600


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def link_id(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_link(env, tenant_name: str, tenant_id: str | None, d1_binding: str, valid_hours: int,
                     base: str) -> dict:
    """A new single-use link for one tenant (admin API)."""
    code = secrets.token_urlsafe(32)
    now = clock.now(env)
    db = Database(env)
    if tenant_id:
        existing = await db.first(get_tenant(tenant_id))
        if existing is not None:
            d1_binding = existing["d1_binding"]  # a link never moves a tenant's data
    tenant_id = tenant_id or new_id()
    expires = _iso(now + valid_hours * 3600)
    await db.run(insert_registration_link(link_id(code), tenant_id, tenant_name, d1_binding, expires))
    return {"registration_url": f"{base}/lti/register?reg_code={code}", "tenant_id": tenant_id,
            "expires_at": expires, "single_use": True}


class _Failed(Exception):
    """A registration step failed; `detail` is for the log, never for the page."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _page(request: Request, ok: bool, message: str, status: int, ancestors: list[str], cid: bool = False):
    return browser.render(request, registration_done(ok, message, correlation_id(request) if cid else None),
                          ancestors, status=status)


def _failed(request: Request, exc: _Failed, ancestors: list[str]):
    log.warning(json.dumps({"event": "dynamic_registration_failed", "detail": exc.detail[:500],
                            "correlation_id": correlation_id(request)}))
    return _page(request, False, "Registration with your platform did not complete. Try the link again, or give "
                                 "the reference below to your Atomic Guide administrator.", 502, ancestors, cid=True)


def _registration_ancestors(issuer: str | None, authorization_endpoint: str | None) -> list[str]:
    """The platform's admin pages frame the registration before the platform is known."""
    return framing.platform_origins(issuer, authorization_endpoint or "", []) if issuer else []


async def _fetch_configuration(config_url: str, token: str | None, allow_http: bool) -> dict:
    headers = {"accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    try:
        resp = await http.request("GET", config_url, headers)
        if resp.status != 200:
            raise _Failed(f"openid configuration answered HTTP {resp.status}")
        cfg = resp.json()
    except http.HttpError as exc:
        raise _Failed(f"openid configuration unreachable: {exc}") from None
    except ValueError:
        raise _Failed("openid configuration is not JSON") from None
    if not isinstance(cfg, dict):
        raise _Failed("openid configuration is not a JSON object")
    try:
        issuer = check_platform_url(cfg.get("issuer"), allow_http)
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"):
            check_platform_url(cfg.get(name), allow_http)
    except UrlPolicyError as exc:
        raise _Failed(f"openid configuration URL refused: {exc}") from None
    if not is_under(config_url, issuer):
        raise _Failed("the configuration URL is not under the issuer")
    return cfg


@router.get("/lti/register", summary="LTI Dynamic Registration (opened by the platform)", include_in_schema=False)
async def start(request: Request):
    env = request.scope["env"]
    q = request.query_params
    allow_http = registration.allows_http_loopback(env)
    config_url = q.get("openid_configuration", "")
    try:
        check_platform_url(config_url, allow_http)
    except UrlPolicyError as exc:
        return _page(request, False, f"openid_configuration {exc}.", 400, [])
    ancestors = _registration_ancestors(framing.origin(config_url), None)
    try:
        await limits.enforce_browser(env, request, "registration")
    except LaunchError as err:
        return await browser.refuse(request, err, ancestors)
    code = q.get("reg_code", "")
    if not code or len(code) > 200:
        return _page(request, False, "This registration link is invalid; ask your Atomic Guide administrator for "
                                     "a new one.", 400, ancestors)
    db = Database(env)
    now = clock.now(env)
    try:
        claimed = await db.first(claim_registration_link(link_id(code), _iso(now), _iso(now - ABANDONED_AFTER_S)))
        if claimed is None:
            row = await db.first(registration_link_status(link_id(code)))
    except DataUnavailable:
        return _page(request, False, "Registration is unavailable right now (database outage); try the link "
                                     "again in a few minutes.", 503, ancestors, cid=True)
    if claimed is None:
        used = row is not None and row["status"] != "open" and row["expires_at"] > _iso(now)
        message = ("This registration link was already used. Each link registers one platform once; ask your "
                   "Atomic Guide administrator for a new one." if used else
                   "This registration link is invalid or has expired; ask your Atomic Guide administrator for a "
                   "new one.")
        return _page(request, False, message, 409 if used else 400, ancestors)
    try:
        cfg = await _fetch_configuration(config_url, q.get("registration_token"), allow_http)
    except _Failed as exc:
        await _release(env, code, claimed["claimed_at"])
        return _failed(request, exc, ancestors)
    ancestors = _registration_ancestors(cfg["issuer"], cfg["authorization_endpoint"])
    attempt = jwt.encode({"aud": ATTEMPT_AUDIENCE, "iat": int(now), "exp": int(now) + ATTEMPT_TTL_S,
                          "link": link_id(code), "claimed_at": claimed["claimed_at"], "cfg_url": config_url,
                          "token": q.get("registration_token"), "tenant_id": claimed["tenant_id"],
                          "tenant_name": claimed["tenant_name"], "d1_binding": claimed["d1_binding"],
                          "cfg": {k: cfg[k] for k in ("issuer", "authorization_endpoint", "token_endpoint",
                                                      "jwks_uri", "registration_endpoint")},
                          "fo": ancestors},
                         str(env.SESSION_SIGNING_KEY), algorithm="HS256")
    platform = cfg.get("https://purl.imsglobal.org/spec/lti-platform-configuration") or {}
    account = platform.get("https://canvas.instructure.com/lti/account_name") if isinstance(platform, dict) else None
    body = (f'<h1 id="registration-title">Register Atomic Guide</h1>'
            f"<p>Atomic Guide will be registered with <strong>{esc(account or cfg['issuer'])}</strong> for "
            f"<strong>{esc(claimed['tenant_name'])}</strong>. It asks for grade passback (line items and scores) "
            "and the course roster, and appears in course navigation, module links and assignments.</p>"
            f'<form id="register-form" method="post" action="{esc(base_url(request))}/lti/register">'
            f'<input type="hidden" name="attempt" value="{esc(attempt)}">'
            '<button type="submit" id="register-confirm">Register</button></form>')
    return browser.render(request, Page("Register Atomic Guide", body), ancestors)


@router.post("/lti/register", summary="Confirm a Dynamic Registration", include_in_schema=False)
async def confirm(request: Request):
    env = request.scope["env"]
    try:
        form = await browser.read_form(request)
    except LaunchError as err:
        return await browser.refuse(request, err, [])
    try:
        attempt = jwt.decode(form.get("attempt", ""), str(env.SESSION_SIGNING_KEY), algorithms=["HS256"],
                             audience=ATTEMPT_AUDIENCE, options={"require": ["exp"], "verify_exp": False})
    except jwt.InvalidTokenError:
        return _page(request, False, "This registration step is invalid; open the registration link again.", 400, [])
    ancestors = attempt.get("fo") or []
    if attempt["exp"] <= clock.now(env):
        return _page(request, False, "This registration took too long; open the registration link again.", 400,
                     ancestors)
    if not browser.posted_from_this_tool(request):
        return _page(request, False, "Confirm the registration on Atomic Guide's own page.", 400, ancestors)
    cfg = attempt["cfg"]
    try:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if attempt.get("token"):
            headers["authorization"] = f"Bearer {attempt['token']}"
        try:
            resp = await http.request("POST", cfg["registration_endpoint"], headers,
                                      json.dumps(tool_registration(base_url(request))).encode())
        except http.HttpError as exc:
            raise _Failed(f"registration endpoint unreachable: {exc}") from None
        if resp.status not in (200, 201):
            raise _Failed(f"the platform refused the registration (HTTP {resp.status})")
        try:
            created = resp.json()
            client_id = created["client_id"]
            tool_cfg = created.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
            deployment = tool_cfg.get("deployment_id")
            req = registration.PlatformRegistrationRequest(
                tenant_id=attempt["tenant_id"], tenant_name=attempt["tenant_name"], d1_binding=attempt["d1_binding"],
                issuer=cfg["issuer"], client_id=str(client_id),
                deployment_ids=[str(deployment)] if deployment else ["default"],
                auth_login_url=cfg["authorization_endpoint"], auth_token_url=cfg["token_endpoint"],
                key_set_url=cfg["jwks_uri"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _Failed(f"the platform's answer is not a registration: {type(exc).__name__}: {exc}") from None
        # The link ends before the registration is stored: whatever happens next, it can
        # never register a second platform.
        try:
            ended = await Database(env).first(finish_registration_link(
                attempt["link"], attempt["claimed_at"], f"{cfg['issuer']}|{client_id}"[:255], _iso(clock.now(env))))
        except DataUnavailable as exc:
            raise _Failed(f"could not end the link: {exc}") from None
        if ended is None:
            return _page(request, False, "This registration link was already used; ask your Atomic Guide "
                                         "administrator for a new one.", 409, ancestors)
    except _Failed as exc:
        await _release_id(env, attempt["link"], attempt["claimed_at"])
        return _failed(request, exc, ancestors)
    try:
        await registration.register(env, req)
    except (registration.RegistrationConflict, ValueError, DataUnavailable) as exc:
        return _failed(request, _Failed(f"could not store the registration: {type(exc).__name__}: {exc}"), ancestors)
    return _page(request, True, "Atomic Guide is registered. You can close this window.", 200, ancestors)


async def _release(env, code: str, claimed_at: str) -> None:
    await _release_id(env, link_id(code), claimed_at)


async def _release_id(env, link: str, claimed_at: str) -> None:
    try:
        await Database(env).run(release_registration_link(link, claimed_at))
    except DataUnavailable:
        pass  # the claim lapses after ABANDONED_AFTER_S
