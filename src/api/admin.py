"""Admin API (Bearer ADMIN_API_SECRET): register platforms for a tenant, and issue
single-use Dynamic Registration links. Every /admin/ request is authenticated by the
request guard (src/middleware.py) before its body is read; `require_admin` is the one
check both use."""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.learning import GraphImport
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
             summary="Import concepts and prerequisites for a tenant (any course contexts)",
             responses=problem_responses(401, 404, 409, 413, 422, 503))
async def admin_import_graph(tenant_id: str, body: GraphImport, request: Request):
    from api.learning import concepts_from, graph_problem
    from db.database import Database
    from learner import service

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


@router.get("/tenants/{tenant_id}/knowledge-graph", summary="A tenant's whole knowledge graph",
            responses=problem_responses(401, 404, 503))
async def admin_read_graph(tenant_id: str, request: Request):
    from api.learning import graph_view
    from db.database import Database
    from learner import service

    scope = await _tenant_scope(request, tenant_id)
    try:
        graph = await service.load_graph(Database(request.scope["env"]), scope)
    except DataUnavailable:
        raise Problem(503, "Service Unavailable", "D1 is unavailable.", type_="/problems/d1-unavailable",
                      headers={"Retry-After": "30"}) from None
    return {"tenant_id": tenant_id, "concepts": graph_view(graph, sorted(graph))}


@router.put("/tenants/{tenant_id}/learner-model", summary="Load params.json (scripts/learner-model fit) for a tenant",
            responses=problem_responses(400, 401, 404, 409, 413, 422, 503),
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "description": "params.json as `scripts/learner-model fit` writes it"}}}}})
async def admin_load_model(tenant_id: str, request: Request, create_concepts: bool = False):
    from db.database import Database
    from learner import service

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
