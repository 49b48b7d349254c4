"""OIDC third-party login initiation: checks the request against the platform's
registration, keeps state and nonce in the OIDC_STATE Durable Object, and sends the
browser to the platform's authorization endpoint, binding the login to this browser
with a partitioned cookie and, where the platform offers it, a secret kept in the
platform's storage (LTI Client Side postMessages)."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from lti import limits
from lti import browser, pages, registration
from lti.launch import LaunchError
from lti.tool_config import base_url
from lti.urls import same_endpoint
from web import assets

router = APIRouter(tags=["lti"])


def login_decision(params: dict, reg: registration.Registration | None, launch_url: str,
                   client_id_known_elsewhere: bool) -> None:
    """Raises LaunchError naming the first parameter that is wrong (pure)."""
    if reg is None:
        if client_id_known_elsewhere:
            raise LaunchError("client_id", "This client_id is not registered for the platform.")
        raise LaunchError("iss", "This platform (issuer) is not registered with Atomic Guide.")
    if not params.get("login_hint"):
        raise LaunchError("login_hint", "The login request has no login_hint.")
    if len(params["login_hint"]) > 2048 or len(params.get("lti_message_hint", "")) > 4096:
        raise LaunchError("login_hint", "The login hints are too long.")
    if not same_endpoint(params.get("target_link_uri", ""), launch_url):
        raise LaunchError("target_link_uri", "target_link_uri does not point at this tool's launch URL.")
    deployment = params.get("lti_deployment_id")
    if deployment is not None and deployment not in reg.deployment_ids:
        raise LaunchError("lti_deployment_id", "This deployment is not registered for the platform.")
    target = params.get("lti_storage_target")
    if target is not None and (len(target) > 100 or not target.replace("_", "").replace("-", "").isalnum()):
        raise LaunchError("lti_storage_target", "lti_storage_target is not a frame name.")


@router.api_route("/lti/login", methods=["GET", "POST"], summary="OIDC third-party login initiation",
                  include_in_schema=False)
async def login(request: Request):
    env = request.scope["env"]
    reg = None
    try:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(await browser.read_form(request))
        iss = params.get("iss", "")
        if not iss:
            raise LaunchError("iss", "The login request has no issuer (iss).")
        await limits.enforce_browser(env, request, "login", issuer=iss)
        client_id = params.get("client_id") or None
        reg = await browser.binding(lambda: registration.find(env, iss, client_id), "platform registry")
        elsewhere = reg is None and bool(client_id) and await browser.binding(
            lambda: registration.find(env, iss, None), "platform registry") is not None
        login_decision(params, reg, base_url(request) + "/lti/launch", elsewhere)
    except LaunchError as err:
        return await browser.refuse(request, err, reg.origins() if reg else None)

    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    storage_target = params.get("lti_storage_target") or None
    # The value kept in the platform's storage is a secret of its own (not the state,
    # which travels in URLs and forms): only a page reading that storage can know it.
    storage_secret = secrets.token_urlsafe(32) if storage_target else None
    record = {"issuer": reg.issuer, "client_id": reg.client_id, "target_link_uri": params["target_link_uri"],
              "nonce_hash": hashlib.sha256(nonce.encode()).hexdigest(), "storage_target": storage_target,
              "storage_secret_hash": hashlib.sha256(storage_secret.encode()).hexdigest() if storage_secret else None,
              "platform_origin": browser.platform_origin(reg.auth_login_url)}
    try:
        await browser.binding(lambda: env.OIDC_STATE.getByName(state).create(record), "sign-in service")
    except LaunchError as err:
        return await browser.refuse(request, err, reg.origins())
    query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
             "client_id": reg.client_id, "redirect_uri": params["target_link_uri"],
             "login_hint": params["login_hint"], "state": state, "nonce": nonce}
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    auth_url = f"{reg.auth_login_url}{'&' if '?' in reg.auth_login_url else '?'}{urlencode(query)}"
    if storage_target:
        response: Response = browser.render(request, pages.storage_put_then_redirect(
            auth_url, record["platform_origin"], storage_target, "ag_state_" + state, storage_secret,
            assets.path("lti-storage.js")), reg.origins())
    else:
        response = RedirectResponse(auth_url, status_code=302, headers={"Cache-Control": "no-store"})
    response.headers.append("Set-Cookie", browser.state_cookie_header(state, 600))
    return response
