"""The tool's session token: a short-lived JWT (HS256, key SESSION_SIGNING_KEY) issued at
LTI launch, carrying tenant, learner, course context and roles. Every /api/ route needs
one; the tenant of a request comes from here and nowhere else."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import jwt
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import clock
from db.database import Database, DataUnavailable
from lti import roles as roles_mod
from db.scope import TenantScope, issue_proof
from db.system import get_tenant
from problems import Problem
from resilience.cache import read_through, tenant_key

ISSUER = "atomic-guide"
AUDIENCE = "atomic-guide-api"
ALGORITHM = "HS256"
DEFAULT_TTL_S = 3600
LEEWAY_S = 30



class SessionClaims(BaseModel):
    model_config = ConfigDict(extra="ignore")

    iss: str
    aud: str
    sub: str = Field(min_length=1, max_length=255)
    tid: str = Field(min_length=1, max_length=64)
    ctx: str = Field(min_length=1, max_length=255)
    # Context roles only (lti.roles.context_roles): bounded by the LIS vocabulary.
    roles: list[str] = Field(max_length=roles_mod.MAX_ROLES)
    # The learning_sessions row the launch opened (absent in tokens minted by tools).
    sid: str | None = Field(default=None, max_length=64)
    iat: int
    exp: int
    jti: str


@dataclass(frozen=True)
class Session:
    claims: SessionClaims
    scope: TenantScope

    @property
    def lti_user_id(self) -> str:
        return self.claims.sub

    @property
    def context_id(self) -> str:
        return self.claims.ctx

    @property
    def learning_session_id(self) -> str | None:
        return self.claims.sid

    @property
    def course_role(self) -> roles_mod.CourseRole:
        return roles_mod.course_role(self.claims.roles)

    @property
    def is_instructor(self) -> bool:
        return self.course_role is roles_mod.CourseRole.INSTRUCTOR


def _key(env) -> str:
    key = getattr(env, "SESSION_SIGNING_KEY", None)
    if not key or len(str(key)) < 32:
        raise RuntimeError("SESSION_SIGNING_KEY is missing or shorter than 32 characters")
    return str(key)


def mint_session_token(env, *, tenant_id: str, lti_user_id: str, context_id: str, roles: list[str],
                       ttl_s: int | None = None, now: int | None = None, learning_session_id: str | None = None) -> str:
    """Issued by the launch (and by tests); never at import time (clock and randomness).
    Only the context roles are kept: they alone decide course authority."""
    now = int(clock.now(env)) if now is None else now
    ttl = ttl_s if ttl_s is not None else int(getattr(env, "SESSION_TTL_SECONDS", DEFAULT_TTL_S) or DEFAULT_TTL_S)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": lti_user_id, "tid": tenant_id, "ctx": context_id,
              "roles": roles_mod.context_roles(list(roles)), "iat": now, "exp": now + ttl,
              "jti": secrets.token_urlsafe(12)}
    if learning_session_id is not None:
        claims["sid"] = learning_session_id
    return jwt.encode(claims, _key(env), algorithm=ALGORITHM)


def _unauthorized(detail: str, error: str = "invalid_token") -> Problem:
    return Problem(401, "Unauthorized", detail, type_="/problems/unauthorized",
                   headers={"WWW-Authenticate": f'Bearer realm="atomic-guide", error="{error}"'})


def decode_session_token(env, token: str, now: float | None = None) -> SessionClaims:
    """Verifies signature, audience and issuer, then the lifetime against the host's
    clock (PyJWT would read the process clock, which a test cannot move per host)."""
    now = clock.now(env) if now is None else now
    try:
        claims = jwt.decode(token, _key(env), algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_exp": False,
                                     "verify_iat": False, "verify_nbf": False})
    except jwt.InvalidAudienceError:
        raise _unauthorized("The session token was not issued for this API (aud).") from None
    except jwt.InvalidIssuerError:
        raise _unauthorized("The session token was not issued by this tool (iss).") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _unauthorized(f"The session token lacks the {exc.claim!r} claim.") from None
    except jwt.InvalidSignatureError:
        raise _unauthorized("The session token's signature does not verify.") from None
    except jwt.InvalidAlgorithmError:
        raise _unauthorized("The session token uses an algorithm this API does not accept.") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("The session token is not a well-formed JWT.") from None
    try:
        parsed = SessionClaims.model_validate(claims)
    except ValidationError:
        raise _unauthorized("The session token's claims have the wrong shape.") from None
    if parsed.exp + LEEWAY_S <= now:
        raise _unauthorized("The session token has expired; launch the tool again from Canvas.")
    if parsed.iat - LEEWAY_S > now:
        raise _unauthorized("The session token is not valid yet (iat in the future).")
    return parsed


async def require_session(request: Request) -> Session:
    """FastAPI dependency: the verified session, with a scope for the token's tenant."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Send the session token issued at launch as `Authorization: Bearer <token>`.",
                            error="invalid_request")
    env = request.scope["env"]
    claims = decode_session_token(env, token.strip())
    try:
        tenant, _stale = await read_through(
            env, tenant_key(claims.tid), lambda: Database(env).first(get_tenant(claims.tid)),
            lambda row: f"{row['status']}:{row['d1_binding']}", claims.tid)
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "The tenant directory is unavailable (D1 outage) and no cached copy exists; try again shortly.",
                      type_="/problems/d1-unavailable", headers={"Retry-After": "30"}) from None
    if tenant is None or tenant["status"] != "active":
        raise _unauthorized("The session token names a tenant that is not registered here.")
    scope = TenantScope(issue_proof(tenant["id"], tenant["d1_binding"], "session"))
    return Session(claims, scope)
