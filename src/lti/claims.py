"""Launch claim rules after the signature check: LTI Core 1.3 section 5.1.3 and the
Security Framework, one rule at a time, each failure naming the claim it concerns; then
the claims the tool keeps, shaped and bounded. Pure (a dict of claims, the login record,
this tool's client id and deployments, the time): no I/O, no key, no pydantic, so the
rules run unchanged under Pyodide (tests/pyodide)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from lti import roles as roles_mod

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
MESSAGE_TYPES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest")
CLOCK_SKEW_S = 60


class LaunchError(Exception):
    """A launch refused; `claim` names what failed, `status` is the HTTP status."""

    def __init__(self, claim: str, message: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.claim = claim
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class TokenHead:
    header: dict
    claims: dict


def _b64json(part: str, what: str) -> dict:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except Exception:
        raise LaunchError("id_token", f"id_token is not a JWT: its {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise LaunchError("id_token", f"id_token is not a JWT: its {what} is not a JSON object")
    return value


def peek(token: str) -> TokenHead:
    """Header and unverified claims, with the checks that need no key."""
    if not isinstance(token, str) or not token:
        raise LaunchError("id_token", "The launch carries no id_token.")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise LaunchError("id_token", "id_token is not a JWT (expected three dot-separated parts).")
    header = _b64json(parts[0], "header")
    claims = _b64json(parts[1], "payload")
    alg = header.get("alg")
    if alg != "RS256":
        raise LaunchError("alg", f"id_token alg must be RS256; got {alg!r}.")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise LaunchError("kid", "id_token header has no kid; the platform's key cannot be chosen.")
    return TokenHead(header, claims)


def check_claims(claims: dict, login: dict, client_id: str, deployment_ids, now: float) -> dict:
    """Every claim check after the signature, in order; returns the shaped claims (the
    fields of lti.launch.LaunchClaims) or raises LaunchError naming the claim."""
    for name in ("exp", "iat"):
        if name not in claims:
            raise LaunchError(name, f"id_token has no {name} claim.")
        if isinstance(claims[name], bool) or not isinstance(claims[name], (int, float)):
            raise LaunchError(name, f"id_token {name} must be a number (seconds since the epoch).")
    if claims["exp"] + CLOCK_SKEW_S < now:
        raise LaunchError("exp", "id_token has expired.")
    if claims["iat"] - CLOCK_SKEW_S > now:
        raise LaunchError("iat", "id_token was issued in the future (iat); check the platform clock.")
    if claims.get("iss") != login["issuer"]:
        raise LaunchError("iss", "id_token iss is not the issuer that started this login.")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if client_id not in auds:
        raise LaunchError("aud", "id_token aud does not contain this tool's client_id.")
    if len(auds) > 1 or "azp" in claims:
        if claims.get("azp") != client_id:
            raise LaunchError("azp", "id_token azp must be this tool's client_id when aud has several values.")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise LaunchError("nonce", "id_token has no nonce.")
    if not hashlib.sha256(nonce.encode()).hexdigest() == login["nonce_hash"]:
        raise LaunchError("nonce", "id_token nonce was not issued by this tool for this login.")
    deployment = claims.get(LTI + "deployment_id")
    if not isinstance(deployment, str) or deployment not in deployment_ids:
        raise LaunchError("deployment_id", "id_token deployment_id is not registered for this platform.")
    message_type = claims.get(LTI + "message_type")
    if message_type not in MESSAGE_TYPES:
        raise LaunchError("message_type", f"message_type {message_type!r} is not supported.")
    if claims.get(LTI + "version") != "1.3.0":
        raise LaunchError("version", "id_token version must be 1.3.0.")
    return _shaped_claims(claims, client_id, deployment, message_type, nonce, login)


# -- claim shapes ---------------------------------------------------------------------
# What the tool stores or shows is bounded here, before anything is written: a claim
# the database would refuse (or that would make a session token unusable) is refused
# with a page naming it, never half-written.

MAX_ID = 255          # sub, context id, resource link id (learner_profiles / sessions CHECKs)
MAX_TEXT = 1000       # titles and names (shown truncated)
MAX_URL = 2048
MAX_CUSTOM = 50


def _text(value, claim: str, max_len: int, what: str, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise LaunchError(claim, f"id_token {what} must be a non-empty string.")
    if len(value) > max_len:
        raise LaunchError(claim, f"id_token {what} is longer than {max_len} characters.")
    return value


def _url(value, claim: str, what: str, required: bool = False) -> str | None:
    text = _text(value, claim, MAX_URL, what, required)
    if text is not None and not text.startswith(("https://", "http://")):
        raise LaunchError(claim, f"id_token {what} must be an http(s) URL.")
    return text


def _object(claims: dict, name: str, claim: str) -> dict | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise LaunchError(claim, f"id_token {claim} must be a JSON object.")
    return value


def _shaped_claims(claims: dict, client_id: str, deployment: str, message_type: str, nonce: str,
                   login: dict) -> dict:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise LaunchError("sub", "id_token has no sub (the user); anonymous launches are not supported.")
    _text(sub, "sub", MAX_ID, "sub")
    roles = claims.get(LTI + "roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise LaunchError("roles", "id_token has no roles claim (it may be empty, but must be present).")
    if len(roles) > roles_mod.MAX_ROLES or any(len(r) > roles_mod.MAX_ROLE_LENGTH for r in roles):
        raise LaunchError("roles", f"id_token roles has more than {roles_mod.MAX_ROLES} entries or an entry "
                                   f"longer than {roles_mod.MAX_ROLE_LENGTH} characters.")
    target = claims.get(LTI + "target_link_uri")
    if target != login["target_link_uri"]:
        raise LaunchError("target_link_uri", "id_token target_link_uri is not the one the login asked for.")
    context = _object(claims, LTI + "context", "context") or {}
    context_id = _text(context.get("id"), "context", MAX_ID, "context id", required=False)
    if not context_id:
        raise LaunchError("context", "id_token has no context id (the course).")
    context_title = _text(context.get("title"), "context", MAX_TEXT, "context title")
    resource_link = _object(claims, LTI + "resource_link", "resource_link") or {}
    deep_linking = None
    if message_type == "LtiResourceLinkRequest":
        if not isinstance(resource_link.get("id"), str) or not resource_link["id"]:
            raise LaunchError("resource_link", "id_token has no resource_link id.")
        _text(resource_link["id"], "resource_link", MAX_ID, "resource_link id")
    else:
        deep_linking = _object(claims, DL + "deep_linking_settings", "deep_linking_settings")
        if deep_linking is None or not isinstance(deep_linking.get("deep_link_return_url"), str):
            raise LaunchError("deep_linking_settings", "A deep linking request needs deep_linking_settings.")
        _url(deep_linking["deep_link_return_url"], "deep_linking_settings", "deep_link_return_url", True)
        if deep_linking.get("data") is not None:
            _text(deep_linking["data"], "deep_linking_settings", MAX_URL, "deep linking data")
    name = _text(claims.get("name"), "name", MAX_TEXT, "name") if isinstance(claims.get("name"), str) else None
    ags = _object(claims, AGS_CLAIM, "ags endpoint")
    if ags is not None:
        _url(ags.get("lineitems"), "ags endpoint", "AGS lineitems")
        _url(ags.get("lineitem"), "ags endpoint", "AGS lineitem")
        scope = ags.get("scope", [])
        if not isinstance(scope, list) or len(scope) > 20 or not all(isinstance(x, str) and len(x) <= 255
                                                                     for x in scope):
            raise LaunchError("ags endpoint", "id_token AGS scope must be a short list of strings.")
    nrps = _object(claims, NRPS_CLAIM, "namesroleservice")
    if nrps is not None:
        _url(nrps.get("context_memberships_url"), "namesroleservice", "NRPS context_memberships_url", True)
    custom = _object(claims, LTI + "custom", "custom") or {}
    if len(custom) > MAX_CUSTOM or not all(isinstance(k, str) and len(k) <= 100 and isinstance(v, (str, int, float))
                                           and len(str(v)) <= MAX_TEXT for k, v in custom.items()):
        raise LaunchError("custom", f"id_token custom must hold at most {MAX_CUSTOM} short string values.")
    presentation = _object(claims, LTI + "launch_presentation", "launch_presentation")
    if presentation is not None:
        _url(presentation.get("return_url"), "launch_presentation", "launch_presentation return_url")
    return dict(
        issuer=claims["iss"], client_id=client_id, deployment_id=deployment, message_type=message_type,
        sub=sub, roles=roles, context_id=context_id, context_title=context_title,
        resource_link_id=resource_link.get("id"), target_link_uri=target, nonce=nonce, ags=ags, nrps=nrps,
        deep_linking=deep_linking, name=name, custom={k: str(v) for k, v in custom.items()},
        launch_presentation=presentation,
    )
