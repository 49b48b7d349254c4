"""The tool's session token: a short-lived JWT (HS256, key SESSION_SIGNING_KEY) issued at
LTI launch, carrying tenant, learner, course context and roles. Every /api/ route needs
one; the tenant of a request comes from here and nowhere else."""

from __future__ import annotations

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
from resilience.cache import read_tenant

from auth.tokens import ALGORITHM, AUDIENCE, ISSUER, NAME_MAX, TITLE_MAX, mint_session_token, signing_key as _key

LEEWAY_S = 30
__all__ = ["Session", "SessionClaims", "mint_session_token", "require_session", "require_page_session",
           "session_from_token", "decode_session_token", "PAGE_TOKEN_PARAM"]


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
    # For the pages of this session: the person's name and the course title as the
    # platform gave them (truncated), the resource link launched, and the origins that
    # may frame the pages (CSP frame-ancestors, lti/framing.py).
    nm: str | None = Field(default=None, max_length=NAME_MAX)
    ct: str | None = Field(default=None, max_length=TITLE_MAX)
    rl: str | None = Field(default=None, max_length=255)
    fo: list[str] = Field(default_factory=list, max_length=16)
    iat: int
    exp: int
    jti: str


@dataclass(frozen=True)
class Session:
    claims: SessionClaims
    scope: TenantScope
    token: str = ""

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


async def session_from_token(env, token: str) -> Session:
    """The verified session of a token, with a scope for its tenant (which must exist and
    be active, as this isolate's copy of the directory row says: at most
    TENANT_CACHE_TTL_S old, resilience/cache.py). Raises Problem 401/503."""
    claims = decode_session_token(env, token)
    try:
        tenant, _stale = await read_tenant(
            env, claims.tid, lambda: Database(env).first(get_tenant(claims.tid)),
            lambda row: f"{row['status']}:{row['d1_binding']}")
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "The tenant directory is unavailable (D1 outage) and no cached "
                      "copy exists; try again shortly.", type_="/problems/d1-unavailable",
                      headers={"Retry-After": "30"}) from None
    if tenant is None or tenant["status"] != "active":
        raise _unauthorized("The session token names a tenant that is not registered here.")
    scope = TenantScope(issue_proof(tenant["id"], tenant["d1_binding"], "session"))
    return Session(claims, scope, token)


async def require_session(request: Request) -> Session:
    """FastAPI dependency for the API: the session token as `Authorization: Bearer`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Send the session token issued at launch as `Authorization: Bearer <token>`.",
                            error="invalid_request")
    return await session_from_token(request.scope["env"], token.strip())


PAGE_TOKEN_PARAM = "ltik"


async def require_page_session(request: Request) -> Session:
    """FastAPI dependency for the pages a launch leads to: the session token travels in
    the `ltik` query parameter (as with ltijs), because Canvas's iframe may refuse the
    tool's cookies; pages send no Referer, so it does not leak to other sites."""
    token = request.query_params.get(PAGE_TOKEN_PARAM, "")
    if not token:
        raise _unauthorized("Open Atomic Guide from your course in Canvas to start a session.",
                            error="invalid_request")
    return await session_from_token(request.scope["env"], token)
