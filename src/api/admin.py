"""Admin API (Bearer ADMIN_API_SECRET): register platforms for a tenant, and issue
Dynamic Registration links."""

from __future__ import annotations

import secrets
import time

import jwt
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from db.database import ConstraintViolation, DataUnavailable
from lti import registration
from lti.routes import REG_CODE_AUDIENCE, base_url
from problems import Problem

router = APIRouter(prefix="/admin", tags=["admin"])


def _require_admin(request: Request) -> None:
    expected = getattr(request.scope["env"], "ADMIN_API_SECRET", None)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not secrets.compare_digest(given.strip(), str(expected)):
        raise Problem(401, "Unauthorized", "The admin API needs `Authorization: Bearer <ADMIN_API_SECRET>`.",
                      type_="/problems/unauthorized", headers={"WWW-Authenticate": 'Bearer realm="atomic-guide-admin"'})


@router.post("/platforms", status_code=201, summary="Register an LTI platform (Canvas presets available)")
async def register_platform(body: registration.PlatformRegistrationRequest, request: Request):
    _require_admin(request)
    try:
        body.endpoints()
    except ValueError as exc:
        raise Problem(422, "Unprocessable Content", str(exc), type_="/problems/validation") from None
    if not hasattr(request.scope["env"], body.d1_binding):
        raise Problem(422, "Unprocessable Content", f"D1 binding {body.d1_binding} is not configured.",
                      type_="/problems/validation")
    try:
        reg = await registration.register(request.scope["env"], body)
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "D1 is unavailable; nothing was registered.",
                      type_="/problems/d1-unavailable", headers={"Retry-After": "30"}) from None
    except ConstraintViolation as exc:
        raise Problem(422, "Unprocessable Content", "The database refused the registration.",
                      type_="/problems/constraint", extra={"constraint": exc.kind}) from None
    return reg.model_dump()


class RegistrationLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_name: str = Field(min_length=1, max_length=200)
    tenant_id: str | None = Field(default=None, pattern=r"^[0-9a-f-]{36}$")
    d1_binding: str = Field(default="D1_PRIMARY", pattern=r"^D1_[A-Z0-9_]+$")
    valid_hours: int = Field(default=24, ge=1, le=168)


@router.post("/registration-links", status_code=201, summary="A Dynamic Registration URL for one tenant")
async def registration_link(body: RegistrationLinkRequest, request: Request):
    _require_admin(request)
    now = int(time.time())
    code = jwt.encode({"aud": REG_CODE_AUDIENCE, "iat": now, "exp": now + body.valid_hours * 3600,
                       "tenant_name": body.tenant_name, "tenant_id": body.tenant_id, "d1_binding": body.d1_binding},
                      str(request.scope["env"].SESSION_SIGNING_KEY), algorithm="HS256")
    return {"registration_url": f"{base_url(request)}/lti/register?reg_code={code}", "expires_at": now + body.valid_hours * 3600}
