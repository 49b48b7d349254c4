"""Validation of an LTI 1.3 launch (`id_token`): the RS256 signature with the platform's
key, then the claim rules of lti/claims.py (pure), into the LaunchClaims model.
`validate_id_token` is pure too (token, login record, registration, platform key,
clock) so every rule is testable without a platform."""

from __future__ import annotations

import hashlib
import json

import jwt
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel

import clock
from lti import http
from lti import roles as roles_mod
from lti.claims import (AGS_CLAIM, CLOCK_SKEW_S, DL, LTI, MESSAGE_TYPES, NRPS_CLAIM, LaunchError, TokenHead,
                        check_claims, peek)
from lti.registration import Registration

__all__ = ["AGS_CLAIM", "CLOCK_SKEW_S", "DL", "LTI", "MESSAGE_TYPES", "NRPS_CLAIM", "LaunchClaims", "LaunchError",
           "TokenHead", "peek", "platform_jwk", "validate_id_token"]

JWKS_REFETCH_MIN_S = 60
JWK_CACHE_TTL_S = 24 * 3600


class LaunchClaims(BaseModel):
    issuer: str
    client_id: str
    deployment_id: str
    message_type: str
    sub: str
    roles: list[str]
    context_id: str
    context_title: str | None = None
    resource_link_id: str | None = None
    target_link_uri: str
    nonce: str
    ags: dict | None = None
    nrps: dict | None = None
    deep_linking: dict | None = None
    name: str | None = None
    custom: dict[str, str] = {}
    launch_presentation: dict | None = None

    @property
    def course_role(self) -> roles_mod.CourseRole:
        return roles_mod.course_role(self.roles)

    @property
    def is_instructor(self) -> bool:
        return self.course_role is roles_mod.CourseRole.INSTRUCTOR


def validate_id_token(token: str, login: dict, reg: Registration, jwk: dict, now: float) -> LaunchClaims:
    """Every check of LTI Core 1.3 section 5.1.3 and the Security Framework, in order."""
    head = peek(token)
    if jwk.get("kty") != "RSA":
        raise LaunchError("kid", "The platform key for this kid is not an RSA key.")
    key = _public_key(jwk)
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"],
                            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                     "verify_aud": False, "verify_iss": False})
    except jwt.InvalidSignatureError:
        raise LaunchError("signature", "id_token signature does not verify with the platform's key.") from None
    except jwt.InvalidTokenError as exc:
        raise LaunchError("id_token", f"id_token cannot be decoded: {type(exc).__name__}.") from None

    return LaunchClaims(**check_claims(claims, login, reg.client_id, reg.deployment_ids, now))


# -- platform keys --------------------------------------------------------------------

# Parsed platform keys, per isolate: every launch of a platform verifies with the same
# few keys, and building an RSA key from its JWK is a good share of the launch's CPU.
_PUBLIC_KEYS: dict[str, object] = {}
_PUBLIC_KEYS_MAX = 256


def _public_key(jwk: dict):
    material = json.dumps(jwk, sort_keys=True)
    key = _PUBLIC_KEYS.get(material)
    if key is None:
        try:
            key = RSAAlgorithm.from_jwk(material)
        except Exception:
            raise LaunchError("kid", "The platform key for this kid cannot be read.") from None
        if len(_PUBLIC_KEYS) >= _PUBLIC_KEYS_MAX:
            _PUBLIC_KEYS.clear()
        _PUBLIC_KEYS[material] = key
    return key


def _iss_hash(issuer: str) -> str:
    return hashlib.sha256(issuer.encode()).hexdigest()[:32]


async def platform_jwk(env, reg: Registration, kid: str, now: float | None = None) -> dict:
    """The platform's public key for `kid`: from the KV cache, else one (rate-limited)
    fetch of the platform JWKS. A known kid never waits on the platform."""
    now = clock.now(env) if now is None else now
    if len(kid) > 200:
        raise LaunchError("kid", "id_token kid is too long.")
    cache_key = f"jwk:{_iss_hash(reg.issuer)}:{hashlib.sha256(kid.encode()).hexdigest()[:32]}"
    cached = await env.KEY_SETS.get(cache_key, type="json")
    if cached is not None:
        return cached
    # The stamp marks the last *completed* fetch: an unknown kid after one is refused for a
    # minute (no fetch storm); launches arriving while a fetch is under way fetch too,
    # rather than being refused a key that is about to be cached.
    stamp_key = f"jwksfetch:{_iss_hash(reg.issuer)}:{_iss_hash(reg.key_set_url)}"
    last = await env.KEY_SETS.get(stamp_key)
    if last is not None and now - float(last) < JWKS_REFETCH_MIN_S:
        raise LaunchError("kid", "id_token kid is unknown, and the platform's keys were fetched moments ago.")
    try:
        response = await http.request("GET", reg.key_set_url, {"accept": "application/json"}, timeout_s=4.0)
    except http.HttpError:
        raise LaunchError("jwks", "The platform's key set (JWKS) cannot be reached; try again shortly.", 502) from None
    if response.status != 200:
        raise LaunchError("jwks", f"The platform's key set answered HTTP {response.status}.", 502)
    try:
        keys = response.json()["keys"]
        assert isinstance(keys, list)
    except Exception:
        raise LaunchError("jwks", "The platform's key set is not a JSON Web Key Set.", 502) from None
    await env.KEY_SETS.put(stamp_key, str(now), expirationTtl=JWKS_REFETCH_MIN_S)
    found = None
    for k in keys:
        if isinstance(k, dict) and isinstance(k.get("kid"), str) and k.get("kty") == "RSA":
            key_name = f"jwk:{_iss_hash(reg.issuer)}:{hashlib.sha256(k['kid'].encode()).hexdigest()[:32]}"
            public = {n: k[n] for n in ("kty", "n", "e", "kid", "alg", "use") if n in k}
            await env.KEY_SETS.put(key_name, json.dumps(public), expirationTtl=JWK_CACHE_TTL_S)
            if k["kid"] == kid:
                found = public
    if found is None:
        raise LaunchError("kid", "id_token kid is not in the platform's key set.")
    return found
