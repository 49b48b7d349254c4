"""What the tool tells Canvas about itself, checked against Canvas's documented
developer-key JSON format (doc/api/lti_dev_key_config.md of canvas-lms) and its Dynamic
Registration schema (doc/api/registration.md)."""

from urllib.parse import urlsplit

import httpx
import jsonschema

from lti.services import AGS_LINEITEM, AGS_SCORE, NRPS_SCOPE
from lti.tool_config import canvas_developer_key, dynamic_registration

CANVAS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://canvas.instructure.com/lti/public_jwk/scope/update",
]
PLACEMENT = {
    "type": "object",
    "required": ["placement", "message_type"],
    "properties": {
        "placement": {"enum": ["account_navigation", "assignment_selection", "course_navigation", "editor_button",
                               "link_selection", "user_navigation", "homework_submission", "resource_selection"]},
        "message_type": {"enum": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]},
        "target_link_uri": {"type": "string", "format": "uri"},
        "text": {"type": "string", "minLength": 1},
        "icon_url": {"type": "string"},
        "default": {"enum": ["enabled", "disabled"]},
        "visibility": {"enum": ["admins", "members", "public"]},
        "selection_width": {"type": ["integer", "string"]},
        "selection_height": {"type": ["integer", "string"]},
        "enabled": {"type": "boolean"},
        "custom_fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
DEVELOPER_KEY = {
    "type": "object",
    "required": ["title", "description", "oidc_initiation_url", "target_link_uri", "extensions"],
    "anyOf": [{"required": ["public_jwk_url"]}, {"required": ["public_jwk"]}],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string", "minLength": 1},
        "oidc_initiation_url": {"type": "string"},
        "target_link_uri": {"type": "string"},
        "redirect_uris": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "public_jwk_url": {"type": "string"},
        "scopes": {"type": "array", "items": {"enum": CANVAS_SCOPES}, "uniqueItems": True},
        "custom_fields": {"type": "object", "additionalProperties": {"type": "string"}},
        "extensions": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["platform", "privacy_level", "settings"],
            "properties": {
                "domain": {"type": "string"},
                "tool_id": {"type": "string"},
                "platform": {"const": "canvas.instructure.com"},
                "privacy_level": {"enum": ["anonymous", "public", "name_only", "email_only"]},
                "settings": {"type": "object", "required": ["placements"], "properties": {
                    "text": {"type": "string"}, "icon_url": {"type": "string"},
                    "selection_width": {"type": ["integer", "string"]},
                    "selection_height": {"type": ["integer", "string"]},
                    "placements": {"type": "array", "minItems": 1, "items": PLACEMENT}},
                    "additionalProperties": False},
            },
            "additionalProperties": False}},
    },
    "additionalProperties": False,
}
DR_MESSAGE = {"type": "object", "required": ["type"], "properties": {
    "type": {"enum": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]},
    "target_link_uri": {"type": "string"}, "label": {"type": "string"}, "icon_uri": {"type": "string"},
    "custom_parameters": {"type": "object"}, "placements": {"type": "array", "items": {"type": "string"}},
    "roles": {"type": "array"},
    "https://canvas.instructure.com/lti/course_navigation/default_enabled": {"type": "boolean"},
    "https://canvas.instructure.com/lti/visibility": {"enum": ["admins", "members", "public"]}},
    "additionalProperties": False}
DR_REGISTRATION = {
    "type": "object",
    "required": ["application_type", "grant_types", "initiate_login_uri", "redirect_uris", "response_types",
                 "client_name", "jwks_uri", "token_endpoint_auth_method", "scope",
                 "https://purl.imsglobal.org/spec/lti-tool-configuration"],
    "properties": {
        "application_type": {"const": "web"},
        "grant_types": {"type": "array", "items": {"enum": ["client_credentials", "implicit"]}},
        "response_types": {"const": ["id_token"]},
        "token_endpoint_auth_method": {"const": "private_key_jwt"},
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "type": "object", "required": ["domain", "target_link_uri", "messages", "claims"],
            "properties": {"messages": {"type": "array", "items": DR_MESSAGE},
                           "https://canvas.instructure.com/lti/privacy_level": {
                               "enum": ["public", "name_only", "email_only", "anonymous"]}}},
    },
}

BASE = "https://atomic-guide.example.workers.dev"


def test_config_json_is_a_canvas_developer_key_in_the_documented_format():
    cfg = canvas_developer_key(BASE)
    jsonschema.validate(cfg, DEVELOPER_KEY)
    assert cfg["oidc_initiation_url"] == BASE + "/lti/login" and cfg["target_link_uri"] == BASE + "/lti/launch"
    assert cfg["redirect_uris"] == [BASE + "/lti/launch"]
    assert cfg["public_jwk_url"] == BASE + "/.well-known/jwks.json"
    # Only the scopes the tool uses: line items (find or create), scores and the roster.
    assert sorted(cfg["scopes"]) == sorted([AGS_LINEITEM, AGS_SCORE, NRPS_SCOPE])
    settings = cfg["extensions"][0]["settings"]
    placements = {p["placement"]: p for p in settings["placements"]}
    assert set(placements) == {"course_navigation", "link_selection", "assignment_selection"}
    assert placements["course_navigation"]["visibility"] == "members"
    for name in ("link_selection", "assignment_selection"):
        assert placements[name]["message_type"] == "LtiDeepLinkingRequest"
        assert placements[name]["selection_width"] and placements[name]["selection_height"]
    assert all(p["icon_url"].startswith(BASE + "/static/icon.") for p in placements.values())


def test_the_served_config_and_its_icon_work(lti):
    cfg = httpx.get(lti.tool.url + "/lti/config.json").json()
    jsonschema.validate(cfg, DEVELOPER_KEY)
    icon = httpx.get(cfg["extensions"][0]["settings"]["icon_url"])
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert urlsplit(cfg["oidc_initiation_url"]).netloc == urlsplit(lti.tool.url).netloc


def test_dynamic_registration_carries_the_same_placements_and_icon():
    reg = dynamic_registration(BASE)
    jsonschema.validate(reg, DR_REGISTRATION)
    tool = reg["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    pasted = {p["placement"] for p in canvas_developer_key(BASE)["extensions"][0]["settings"]["placements"]}
    registered = {p for m in tool["messages"] for p in m.get("placements", [])}
    assert registered == pasted
    assert all(m["icon_uri"] == reg["logo_uri"] for m in tool["messages"])
    assert reg["scope"].split() == [AGS_LINEITEM, AGS_SCORE, NRPS_SCOPE]
    nav = next(m for m in tool["messages"] if "course_navigation" in m["placements"])
    assert nav["https://canvas.instructure.com/lti/visibility"] == "members"
