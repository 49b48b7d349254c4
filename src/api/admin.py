"""Admin API (Bearer ADMIN_API_SECRET): register platforms for a tenant, issue Dynamic
Registration links, and manage a tenant's knowledge graph and fitted learner model."""

from __future__ import annotations

import json
import secrets
import time

import jwt
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.learning import GraphImport
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


# -- learner model (per tenant) -----------------------------------------------------------

async def _tenant_scope(request: Request, tenant_id: str):
    from db.database import Database
    from db.system import get_tenant, system_scope

    try:
        row = await Database(request.scope["env"]).first(get_tenant(tenant_id))
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "D1 is unavailable.", type_="/problems/d1-unavailable",
                      headers={"Retry-After": "30"}) from None
    if row is None:
        raise Problem(404, "Not Found", "No such tenant.", type_="/problems/not-found")
    return system_scope(row, "admin")


@router.post("/tenants/{tenant_id}/knowledge-graph", status_code=201,
             summary="Import concepts and prerequisites for a tenant (any course contexts)")
async def admin_import_graph(tenant_id: str, body: GraphImport, request: Request):
    from api.learning import concepts_from, graph_problem
    from db.database import Database
    from learner import service

    _require_admin(request)
    scope = await _tenant_scope(request, tenant_id)
    try:
        plan = await service.import_graph(Database(request.scope["env"]), scope, concepts_from(body, []))
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "D1 is unavailable; nothing was imported.",
                      type_="/problems/d1-unavailable", headers={"Retry-After": "30"}) from None
    except service.LearnerError as exc:
        raise Problem(exc.status, "Conflict", exc.detail, type_=f"/problems/{exc.kind}", extra=exc.extra) from None
    if plan.problems:
        raise graph_problem(plan)
    return {"created": list(plan.created), "updated": list(plan.updated), "concepts": len(plan.graph)}


@router.get("/tenants/{tenant_id}/knowledge-graph", summary="A tenant's whole knowledge graph")
async def admin_read_graph(tenant_id: str, request: Request):
    from api.learning import graph_view
    from db.database import Database
    from learner import service

    _require_admin(request)
    scope = await _tenant_scope(request, tenant_id)
    try:
        graph = await service.load_graph(Database(request.scope["env"]), scope)
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "D1 is unavailable.", type_="/problems/d1-unavailable",
                      headers={"Retry-After": "30"}) from None
    return {"tenant_id": tenant_id, "concepts": graph_view(graph, sorted(graph))}


@router.put("/tenants/{tenant_id}/learner-model", summary="Load params.json (scripts/learner-model fit) for a tenant")
async def admin_load_model(tenant_id: str, request: Request, create_concepts: bool = False):
    from db.database import Database
    from learner import service

    _require_admin(request)
    scope = await _tenant_scope(request, tenant_id)
    try:
        document = json.loads(await request.body())
    except ValueError:
        raise Problem(400, "Bad Request", "The body is not valid JSON.", type_="/problems/malformed-json") from None
    if not isinstance(document, dict):
        raise Problem(422, "Unprocessable Content", "params.json must be a JSON object.", type_="/problems/validation")
    try:
        loaded = await service.load_parameters(Database(request.scope["env"]), scope, document, create_concepts)
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "D1 is unavailable; nothing was loaded.",
                      type_="/problems/d1-unavailable", headers={"Retry-After": "30"}) from None
    except service.LearnerError as exc:
        raise Problem(exc.status, "Unprocessable Content" if exc.status == 422 else "Conflict", exc.detail,
                      type_=f"/problems/{exc.kind}", extra=exc.extra) from None
    return {"tenant_id": tenant_id, **loaded}
