"""What the tool tells a platform about itself: the Canvas developer-key JSON (pasted by
URL), the Dynamic Registration payload (the same placements, so a dynamically registered
tool shows up where a pasted one does), and the public keys. Pure builders plus the two
GET routes; only the scopes the tool uses are requested."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lti import keys
from lti.services import AGS_LINEITEM, AGS_SCORE, NRPS_SCOPE
from web import assets

router = APIRouter(tags=["lti"])

TITLE = "Atomic Guide"
DESCRIPTION = ("Cognitive learning profiles, struggle detection, an AI study Guide and mastery tracking "
               "that flows to the gradebook.")
TOOL_ID = "atomic-guide"
# Line items (find or create), scores, and the roster: nothing else is ever called.
SCOPES = [AGS_LINEITEM, AGS_SCORE, NRPS_SCOPE]
SELECTION = {"selection_width": 800, "selection_height": 600}
# Canvas fills these in at launch; the tool uses the API domain to allow its own Canvas
# domain to frame the tool's pages (lti/framing.py).
CUSTOM_FIELDS = {"canvas_course_id": "$Canvas.course.id", "canvas_api_domain": "$Canvas.api.domain"}


def base_url(request: Request) -> str:
    configured = getattr(request.scope["env"], "TOOL_BASE_URL", None)
    return str(configured).rstrip("/") if configured else str(request.base_url).rstrip("/")


def _urls(base: str) -> dict[str, str]:
    return {"login": base + "/lti/login", "launch": base + "/lti/launch", "jwks": base + "/.well-known/jwks.json",
            "icon": base + assets.path("icon.svg")}


def canvas_developer_key(base: str) -> dict:
    """Canvas's LTI 1.3 JSON configuration ("Enter URL" in Developer Keys)."""
    u = _urls(base)
    placements = [
        {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest", "target_link_uri": u["launch"],
         "text": TITLE, "icon_url": u["icon"], "default": "enabled", "visibility": "members"},
        {"placement": "link_selection", "message_type": "LtiDeepLinkingRequest", "target_link_uri": u["launch"],
         "text": TITLE, "icon_url": u["icon"], **SELECTION},
        {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest",
         "target_link_uri": u["launch"], "text": f"{TITLE} activity", "icon_url": u["icon"], **SELECTION},
    ]
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "oidc_initiation_url": u["login"],
        "target_link_uri": u["launch"],
        "redirect_uris": [u["launch"]],
        "public_jwk_url": u["jwks"],
        "scopes": list(SCOPES),
        "extensions": [{"domain": urlsplit(base).hostname, "tool_id": TOOL_ID, "platform": "canvas.instructure.com",
                        "privacy_level": "public",
                        "settings": {"text": TITLE, "icon_url": u["icon"], **SELECTION, "placements": placements}}],
        "custom_fields": dict(CUSTOM_FIELDS),
    }


def dynamic_registration(base: str) -> dict:
    """The LTI Dynamic Registration client registration, with Canvas's placement
    extensions so the result matches the pasted configuration."""
    u = _urls(base)
    canvas = "https://canvas.instructure.com/lti/"
    messages = [
        {"type": "LtiResourceLinkRequest", "target_link_uri": u["launch"], "label": TITLE, "icon_uri": u["icon"],
         "placements": ["course_navigation"], canvas + "course_navigation/default_enabled": True,
         canvas + "visibility": "members"},
        {"type": "LtiDeepLinkingRequest", "target_link_uri": u["launch"], "label": TITLE, "icon_uri": u["icon"],
         "placements": ["link_selection", "assignment_selection"]},
    ]
    return {
        "application_type": "web", "response_types": ["id_token"], "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": u["login"], "redirect_uris": [u["launch"]], "client_name": TITLE,
        "jwks_uri": u["jwks"], "logo_uri": u["icon"], "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "domain": urlsplit(base).netloc, "target_link_uri": u["launch"], "description": DESCRIPTION,
            "custom_parameters": dict(CUSTOM_FIELDS), "claims": ["iss", "sub", "name", "given_name", "family_name"],
            "messages": messages, canvas + "privacy_level": "public", canvas + "tool_id": TOOL_ID},
    }


@router.get("/lti/config.json", summary="Canvas developer-key JSON (paste this URL into Canvas)")
async def canvas_config(request: Request):
    return JSONResponse(canvas_developer_key(base_url(request)), headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/jwks.json", summary="The tool's public keys (kid = RFC 7638 thumbprint)")
async def tool_jwks(request: Request):
    return JSONResponse(keys.jwks(request.scope["env"]), headers={"Cache-Control": "public, max-age=3600"})
