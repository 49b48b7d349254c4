"""The HTTP app (ASGI): routes mounted from the feature packages, one error mapper,
a correlation id and a body-size cap on every request."""

from __future__ import annotations

from fastapi import FastAPI

import problems
from api.health import router as health_router
from api.admin import router as admin_router
from api.grades import router as grades_router
from api.learning import router as learning_router
from api.profiles import router as profiles_router
from lti.routes import router as lti_router
from middleware import RequestGuard

app = FastAPI(
    title="Atomic Guide",
    version="0.1.0",
    description="LTI 1.3 tool for Canvas: cognitive profiles, struggle detection, AI Guide chat, mastery.",
    openapi_url="/openapi.json",
    docs_url=None,
    redoc_url=None,
)
problems.install(app)
app.include_router(health_router)
app.include_router(profiles_router)
app.include_router(grades_router)
app.include_router(learning_router)
app.include_router(lti_router)
app.include_router(admin_router)
app.add_middleware(RequestGuard)
