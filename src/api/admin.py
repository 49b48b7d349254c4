"""Admin API (Bearer ADMIN_API_SECRET): register platforms for a tenant, and issue
single-use Dynamic Registration links. Every /admin/ request is authenticated by the
request guard (src/middleware.py) before its body is read; `require_admin` is the one
check both use."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from bindings import D1Binding
from db.database import ConstraintViolation, DataUnavailable
from lti import dynamic_registration, registration
from lti.tool_config import base_url
from problems import Problem, problem_responses

ADMIN_REALM = 'Bearer realm="atomic-guide-admin"'


def admin_authorized(env, authorization: str | None) -> bool:
    """Constant-time comparison of bytes (any header value, ASCII or not)."""
    expected = getattr(env, "ADMIN_API_SECRET", None)
    scheme, _, given = (authorization or "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), str(expected).encode("utf-8"))


def unauthorized() -> Problem:
    return Problem(401, "Unauthorized", "The admin API needs `Authorization: Bearer <ADMIN_API_SECRET>`.",
                   type_="/problems/unauthorized", headers={"WWW-Authenticate": ADMIN_REALM})


async def require_admin(request: Request) -> None:
    if not admin_authorized(request.scope["env"], request.headers.get("authorization")):
        raise unauthorized()


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


def _unavailable(what: str) -> Problem:
    return Problem(503, "Service Unavailable", f"D1 is unavailable; {what}.", type_="/problems/d1-unavailable",
                   headers={"Retry-After": "30"})


@router.post("/platforms", status_code=201, summary="Register an LTI platform (Canvas presets available)",
             responses=problem_responses(401, 409, 413, 422, 503))
async def register_platform(body: registration.PlatformRegistrationRequest, request: Request):
    try:
        reg = await registration.register(request.scope["env"], body)
    except ValueError as exc:
        raise Problem(422, "Unprocessable Content", str(exc), type_="/problems/validation") from None
    except registration.RegistrationConflict as exc:
        raise Problem(409, "Conflict", str(exc), type_="/problems/registration-conflict") from None
    except DataUnavailable:
        raise _unavailable("nothing was registered") from None
    except ConstraintViolation as exc:
        raise Problem(422, "Unprocessable Content", "The database refused the registration.",
                      type_="/problems/constraint", extra={"constraint": exc.kind}) from None
    return reg.model_dump()


class RegistrationLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_name: str = Field(min_length=1, max_length=200)
    tenant_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    d1_binding: D1Binding = "D1_PRIMARY"
    valid_hours: int = Field(default=24, ge=1, le=168)


@router.post("/registration-links", status_code=201, summary="A single-use Dynamic Registration URL for one tenant",
             responses=problem_responses(401, 413, 422, 503))
async def registration_link(body: RegistrationLinkRequest, request: Request):
    env = request.scope["env"]
    if getattr(env, body.d1_binding, None) is None:
        raise Problem(422, "Unprocessable Content", f"D1 binding {body.d1_binding} is not configured.",
                      type_="/problems/validation")
    try:
        return await dynamic_registration.issue_link(env, body.tenant_name, body.tenant_id, body.d1_binding,
                                                     body.valid_hours, base_url(request))
    except DataUnavailable:
        raise _unavailable("no link was issued") from None
