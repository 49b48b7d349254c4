"""LTI Deep Linking 2.0: the instructor picks what to add, and the tool returns a signed
LtiDeepLinkingResponse to the platform. The selection form carries a short-lived token
(HS256, the session key) with what the response needs, so nothing is stored."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

import clock
from lti import browser, framing, keys, pages
from lti.launch import DL, LTI, LaunchClaims, LaunchError
from lti.tool_config import base_url

router = APIRouter(tags=["lti"])

DL_AUDIENCE = "atomic-guide-deep-link"
DL_TTL_S = 600
ACTIVITIES = [
    {"key": "guide", "title": "Atomic Guide", "text": "Study with struggle detection and the AI Guide chat."},
    {"key": "mastery-check", "title": "Atomic Guide mastery check",
     "text": "A graded activity; mastery flows to the gradebook.", "graded": True},
]


def _key(env) -> str:
    return str(getattr(env, "SESSION_SIGNING_KEY"))


def selection(request: Request, claims: LaunchClaims, reg, origins: list[str]) -> HTMLResponse:
    env = request.scope["env"]
    settings = claims.deep_linking or {}
    now = int(clock.now(env))
    dl = jwt.encode({"aud": DL_AUDIENCE, "iat": now, "exp": now + DL_TTL_S, "iss": reg.issuer,
                     "client_id": reg.client_id, "deployment_id": claims.deployment_id,
                     "return_url": settings["deep_link_return_url"], "data": settings.get("data"),
                     "multiple": bool(settings.get("accept_multiple", True)), "fo": origins},
                    _key(env), algorithm="HS256")
    return browser.render(request, pages.deep_link_selection(base_url(request) + "/lti/deep-link/respond", dl,
                                                             ACTIVITIES), origins)


def response_items(chosen: list[str], launch_url: str) -> list[dict]:
    known = {a["key"]: a for a in ACTIVITIES}
    items = []
    for key in chosen:
        activity = known[key]
        item = {"type": "ltiResourceLink", "title": activity["title"], "text": activity["text"],
                "url": launch_url, "custom": {"activity": key}}
        if activity.get("graded"):
            item["lineItem"] = {"scoreMaximum": 100, "label": activity["title"], "tag": "atomic-guide-mastery"}
        items.append(item)
    return items


@router.post("/lti/deep-link/respond", summary="Build the signed LtiDeepLinkingResponse", include_in_schema=False)
async def respond(request: Request):
    env = request.scope["env"]
    origins = None
    try:
        body = await request.body()
        if len(body) > browser.MAX_FORM_BYTES:
            raise LaunchError("form", "The form post is too large.", 413)
        fields = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        dl_token = next((v for k, v in fields if k == "dl"), "")
        chosen = [v for k, v in fields if k == "item"]
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
    except LaunchError as err:
        return await browser.refuse(request, err, origins)
    now = int(clock.now(env))
    claims = {"iss": dl["client_id"], "aud": [dl["iss"]], "iat": now, "exp": now + 300,
              "nonce": secrets.token_urlsafe(16), LTI + "deployment_id": dl["deployment_id"],
              LTI + "message_type": "LtiDeepLinkingResponse", LTI + "version": "1.3.0",
              DL + "content_items": response_items(chosen, base_url(request) + "/lti/launch")}
    if dl.get("data") is not None:
        claims[DL + "data"] = dl["data"]
    return_origin = framing.origin(dl["return_url"])
    return browser.render(request, pages.auto_post(dl["return_url"], {"JWT": keys.sign(env, claims)}), origins,
                          form_action=[return_origin] if return_origin else [])
