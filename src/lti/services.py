"""LTI Advantage services the tool calls: the OAuth2 service token (client_credentials
with a signed JWT assertion), Assignment and Grade Services (line items, scores) and
Names and Role Provisioning (the roster, following Link pagination)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

import clock
from lti import http, keys
from lti.registration import Registration

AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
AGS_LINEITEM_RO = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_MEDIA = "application/vnd.ims.lis.v1.score+json"
LINEITEM_MEDIA = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_MEDIA = "application/vnd.ims.lis.v2.lineitemcontainer+json"
NRPS_MEDIA = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
TOKEN_EARLY_REFRESH_S = 60
MAX_ROSTER_PAGES = 200


class ServiceError(Exception):
    """A platform service call failed; the message says which and how."""


async def service_token(env, reg: Registration, scopes: list[str], now: float | None = None,
                        retry_base_s: float = 0.5) -> str:
    """A bearer token for the platform's services, cached in KV until shortly before expiry."""
    now = clock.now(env) if now is None else now
    scope = " ".join(sorted(scopes))
    cache_key = f"svctoken:{reg.platform_id}:{hashlib.sha256(scope.encode()).hexdigest()[:24]}"
    cached = await env.KEY_SETS.get(cache_key, type="json")
    if cached and cached.get("scope") == scope and cached["expires_at"] - TOKEN_EARLY_REFRESH_S > now:
        return cached["access_token"]
    assertion = keys.sign(env, {"iss": reg.client_id, "sub": reg.client_id, "aud": reg.auth_token_url,
                                "iat": int(now), "exp": int(now) + 300, "jti": secrets.token_urlsafe(16)})
    body = urlencode({"grant_type": "client_credentials",
                      "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                      "client_assertion": assertion, "scope": scope}).encode()
    response = await http.with_retries(lambda: http.request(
        "POST", reg.auth_token_url, {"content-type": "application/x-www-form-urlencoded",
                                     "accept": "application/json"}, body), base_delay_s=retry_base_s)
    if response.status != 200:
        raise ServiceError(f"token endpoint answered HTTP {response.status}")
    try:
        token = response.json()
        access, expires_in = token["access_token"], int(token.get("expires_in", 3600))
    except Exception:
        raise ServiceError("token endpoint answer is not an OAuth2 token response") from None
    ttl = max(60, expires_in - TOKEN_EARLY_REFRESH_S)
    await env.KEY_SETS.put(cache_key, json.dumps({"access_token": access, "expires_at": now + expires_in,
                                                  "scope": scope}), expirationTtl=ttl)
    return access


def _with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _call(env, reg, scopes, method, url, accept, body=None, content_type=None, retry_base_s=0.5):
    token = await service_token(env, reg, scopes, retry_base_s=retry_base_s)
    headers = {"authorization": f"Bearer {token}", "accept": accept}
    if content_type:
        headers["content-type"] = content_type
    data = json.dumps(body).encode() if body is not None else None
    return await http.with_retries(lambda: http.request(method, url, headers, data), base_delay_s=retry_base_s)


async def find_line_item(env, reg: Registration, lineitems_url: str, resource_link_id: str | None, tag: str,
                         retry_base_s: float = 0.5) -> str | None:
    """The id (URL) of the course's line item with this tag (and resource link), if any."""
    url = _with_query(lineitems_url, resource_link_id=resource_link_id, tag=tag)
    found = await _call(env, reg, [AGS_LINEITEM], "GET", url, LINEITEMS_MEDIA, retry_base_s=retry_base_s)
    if found.status == 200:
        for item in found.json():
            if item.get("tag") == tag and (resource_link_id is None or item.get("resourceLinkId") == resource_link_id):
                return item["id"]
    elif found.status >= 400:
        raise ServiceError(f"reading line items answered HTTP {found.status}")
    return None


async def create_line_item(env, reg: Registration, lineitems_url: str, resource_link_id: str | None, tag: str,
                           label: str, score_maximum: float, retry_base_s: float = 0.5) -> str:
    body = {"scoreMaximum": score_maximum, "label": label, "tag": tag}
    if resource_link_id:
        body["resourceLinkId"] = resource_link_id
    created = await _call(env, reg, [AGS_LINEITEM], "POST", lineitems_url, LINEITEM_MEDIA, body, LINEITEM_MEDIA,
                          retry_base_s=retry_base_s)
    if created.status not in (200, 201):
        raise ServiceError(f"creating the line item answered HTTP {created.status}")
    return created.json()["id"]


async def find_or_create_line_item(env, reg: Registration, lineitems_url: str, resource_link_id: str | None,
                                   tag: str, label: str, score_maximum: float, retry_base_s: float = 0.5) -> str:
    found = await find_line_item(env, reg, lineitems_url, resource_link_id, tag, retry_base_s)
    if found is not None:
        return found
    return await create_line_item(env, reg, lineitems_url, resource_link_id, tag, label, score_maximum, retry_base_s)


def score_body(user_id: str, score_given: float, score_maximum: float, activity_progress: str = "Completed",
               grading_progress: str = "FullyGraded", comment: str | None = None, when: datetime | None = None) -> dict:
    """The AGS Score (spec section 3.4), timestamp in ISO 8601 with milliseconds and offset."""
    when = when or datetime.now(UTC)
    body = {"userId": user_id, "scoreGiven": score_given, "scoreMaximum": score_maximum,
            "activityProgress": activity_progress, "gradingProgress": grading_progress,
            "timestamp": when.isoformat(timespec="milliseconds")}
    if comment:
        body["comment"] = comment
    return body


async def post_score(env, reg: Registration, line_item_url: str, score: dict, retry_base_s: float = 0.5) -> int:
    parts = urlsplit(line_item_url)
    scores_url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))
    response = await _call(env, reg, [AGS_SCORE], "POST", scores_url, "application/json", score, SCORE_MEDIA,
                           retry_base_s=retry_base_s)
    if response.status not in (200, 201, 202, 204):
        raise ServiceError(f"posting the score answered HTTP {response.status}")
    return response.status


_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


async def roster(env, reg: Registration, memberships_url: str, retry_base_s: float = 0.5) -> list[dict]:
    members: list[dict] = []
    url: str | None = memberships_url
    for _ in range(MAX_ROSTER_PAGES):
        if url is None:
            return members
        response = await _call(env, reg, [NRPS_SCOPE], "GET", url, NRPS_MEDIA, retry_base_s=retry_base_s)
        if response.status != 200:
            raise ServiceError(f"reading the roster answered HTTP {response.status}")
        members += response.json().get("members", [])
        match = _NEXT.search(response.headers.get("link", ""))
        url = match.group(1) if match else None
    raise ServiceError("the roster has more pages than the tool follows")
