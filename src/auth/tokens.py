"""Minting the tool's session token (HS256 JWT, key SESSION_SIGNING_KEY): what a launch
issues and what `python -m devhost mint-token` prints. Light on purpose (PyJWT and the
role vocabulary only), so the CLI answers at once; verification is in auth/session.py."""

from __future__ import annotations

import secrets

import jwt

import clock
from lti import roles as roles_mod

ISSUER = "atomic-guide"
AUDIENCE = "atomic-guide-api"
ALGORITHM = "HS256"
DEFAULT_TTL_S = 3600
NAME_MAX = 100
TITLE_MAX = 200


def signing_key(env) -> str:
    key = getattr(env, "SESSION_SIGNING_KEY", None)
    if not key or len(str(key)) < 32:
        raise RuntimeError("SESSION_SIGNING_KEY is missing or shorter than 32 characters")
    return str(key)


def mint_session_token(env, *, tenant_id: str, lti_user_id: str, context_id: str, roles: list[str],
                       ttl_s: int | None = None, now: int | None = None, learning_session_id: str | None = None,
                       name: str | None = None, context_title: str | None = None,
                       resource_link_id: str | None = None, frame_origins: list[str] | None = None) -> str:
    """Issued by the launch (and by tests); never at import time (clock and randomness).
    Only the context roles are kept: they alone decide course authority."""
    now = int(clock.now(env)) if now is None else now
    ttl = ttl_s if ttl_s is not None else int(getattr(env, "SESSION_TTL_SECONDS", DEFAULT_TTL_S) or DEFAULT_TTL_S)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": lti_user_id, "tid": tenant_id, "ctx": context_id,
              "roles": roles_mod.context_roles(list(roles)), "iat": now, "exp": now + ttl,
              "jti": secrets.token_urlsafe(12)}
    optional = {"sid": learning_session_id, "nm": name[:NAME_MAX] if name else None,
                "ct": context_title[:TITLE_MAX] if context_title else None, "rl": resource_link_id,
                "fo": list(frame_origins or [])[:16] or None}
    claims.update({k: v for k, v in optional.items() if v is not None})
    return jwt.encode(claims, signing_key(env), algorithm=ALGORITHM)


