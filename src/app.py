"""The HTTP app (ASGI): routes mounted from the feature packages, one error mapper,
and a guard (correlation id, body cap, admin auth, HEAD/OPTIONS, response headers) on
every request."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import problems
from api.admin import router as admin_router
from api.backups import router as backups_router
from api.chat import router as chat_router
from api.chat_staff import router as chat_staff_router
from api.grades import router as grades_router
from api.health import router as health_router
from api.learning import router as learning_router
from api.models import ProfilePatch
from api.practice import ImportDocument, admin_router as practice_admin_router, router as practice_router
from api.profiles import router as profiles_router
from api.struggle import admin_router as struggle_admin_router, router as struggle_router
from lti.deep_linking import router as deep_linking_router
from lti.dynamic_registration import router as registration_router
from lti.launch_flow import router as launch_router
from lti.login_flow import router as login_router
from lti.tool_config import router as tool_config_router
from middleware import RequestGuard
from pages.guide import router as guide_pages_router
from pages.home import router as home_router
from struggle.models import ReactionIn, SignalBatch, StruggleRules
from pages.insights import router as insights_pages_router
from api.insights import router as insights_router
from pages.activities import router as activities_pages_router
from pages.practice import router as practice_pages_router

app = FastAPI(
    title="Atomic Guide",
    version="0.1.0",
    description="LTI 1.3 tool for Canvas: cognitive profiles, struggle detection, AI Guide chat, mastery. "
                "Every /api/ route needs the session token issued at launch (`Authorization: Bearer`); "
                "/admin/ needs the admin secret. Errors are RFC 9457 problem details.",
    openapi_url="/openapi.json",
    docs_url=None,
    redoc_url=None,
)
problems.install(app)
_ROUTERS = (health_router, profiles_router, grades_router, learning_router, tool_config_router, login_router,
            launch_router, deep_linking_router, registration_router, admin_router, backups_router, home_router,
            struggle_router, struggle_admin_router, insights_router, insights_pages_router,
            chat_router, chat_staff_router, guide_pages_router, practice_router, practice_admin_router,
            practice_pages_router, activities_pages_router)
for router in _ROUTERS:
    app.include_router(router)
app.add_middleware(RequestGuard, routes_of=app)


@asynccontextmanager
async def _no_lifespan(_app):
    yield


# The Workers ASGI bridge runs the lifespan around every request, and each include_router
# above nested one more (empty) lifespan context into it. While no router has startup or
# shutdown work, one empty lifespan does the same for a fraction of the CPU.
if not app.router.on_startup and not app.router.on_shutdown and not any(
        r.on_startup or r.on_shutdown or type(r.lifespan_context).__name__ != "_DefaultLifespan" for r in _ROUTERS):
    app.router.lifespan_context = _no_lifespan

# Bodies some routes read themselves (after a precondition or auth check; api/body.py),
# and the problem schema every error answer follows.
_EXTRA_MODELS = (ProfilePatch, SignalBatch, ReactionIn, StruggleRules, ImportDocument, problems.ProblemDetails)
# What any operation of a kind can answer, documented once here rather than on every
# route: a body can be malformed or too large; /api/ and /admin/ need credentials;
# /api/ reads the tenant directory, which a D1 outage can make unavailable.
_BODY_STATUSES = (400, 413, 422)
_AUTH_STATUSES = (401,)
_API_STATUSES = (503,)


def _openapi() -> dict:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for model in _EXTRA_MODELS:
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(model_schema.pop("$defs", {}))
        schemas[model.__name__] = model_schema
    components["securitySchemes"] = {
        "session": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "The session token issued at LTI launch."},
        "admin": {"type": "http", "scheme": "bearer", "description": "ADMIN_API_SECRET"},
    }
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            statuses: tuple[int, ...] = ()
            if "requestBody" in operation:
                statuses += _BODY_STATUSES
            if path.startswith("/api/"):
                operation["security"] = [{"session": []}]
                statuses += _AUTH_STATUSES + _API_STATUSES
            elif path.startswith("/admin/"):
                operation["security"] = [{"admin": []}]
                statuses += _AUTH_STATUSES
            responses = operation.setdefault("responses", {})
            for status, spec in problems.problem_responses(*statuses).items():
                responses.setdefault(str(status), {"description": spec["description"], "content": spec["content"]})
            if "422" in responses:  # validation errors are problem details here, not FastAPI's default shape
                responses["422"] = {"description": "Unprocessable Content",
                                    "content": problems.problem_responses(422)[422]["content"]}
    app.openapi_schema = schema
    return schema


app.openapi = _openapi
