"""LTI platform registrations: the record of truth is D1 (lti_platforms, lti_deployments);
the launch path reads the KV copy in LTI_PLATFORMS and falls back to D1."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from db.database import ConstraintViolation, Database
from db.profiles import new_id
from db.system import deployments_of, insert_tenant, platform_by_issuer_client, platforms_by_issuer, system_scope

# Canvas cloud: one issuer per environment; endpoints are Canvas's shared ones.
CANVAS_PRESETS = {
    "canvas": {"issuer": "https://canvas.instructure.com",
               "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
               "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
               "key_set_url": "https://sso.canvaslms.com/api/lti/security/jwks"},
    "canvas-beta": {"issuer": "https://canvas.beta.instructure.com",
                    "auth_login_url": "https://sso.beta.canvaslms.com/api/lti/authorize_redirect",
                    "auth_token_url": "https://sso.beta.canvaslms.com/login/oauth2/token",
                    "key_set_url": "https://sso.beta.canvaslms.com/api/lti/security/jwks"},
    "canvas-test": {"issuer": "https://canvas.test.instructure.com",
                    "auth_login_url": "https://sso.test.canvaslms.com/api/lti/authorize_redirect",
                    "auth_token_url": "https://sso.test.canvaslms.com/login/oauth2/token",
                    "key_set_url": "https://sso.test.canvaslms.com/api/lti/security/jwks"},
}


class Registration(BaseModel):
    """What the launch path needs to know about a platform."""

    tenant_id: str
    d1_binding: str = "D1_PRIMARY"
    platform_id: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    auth_token_url: str
    key_set_url: str


class PlatformRegistrationRequest(BaseModel):
    """Admin API body. With `preset`, a Canvas admin needs only client_id and deployment ids."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    tenant_name: str = Field(min_length=1, max_length=200)
    d1_binding: str = Field(default="D1_PRIMARY", pattern=r"^D1_[A-Z0-9_]+$")
    preset: Literal["canvas", "canvas-beta", "canvas-test"] | None = None
    issuer: HttpUrl | None = None
    client_id: str = Field(min_length=1, max_length=255)
    deployment_ids: list[str] = Field(min_length=1, max_length=50)
    auth_login_url: HttpUrl | None = None
    auth_token_url: HttpUrl | None = None
    key_set_url: HttpUrl | None = None

    @field_validator("deployment_ids")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        if any(not d or len(d) > 255 for d in v):
            raise ValueError("deployment ids must be 1..255 characters")
        return sorted(set(v))

    def endpoints(self) -> dict[str, str]:
        out = dict(CANVAS_PRESETS[self.preset]) if self.preset else {}
        for name in ("issuer", "auth_login_url", "auth_token_url", "key_set_url"):
            value = getattr(self, name)
            if value is not None:
                out[name] = str(value).rstrip("/") if name == "issuer" else str(value)
        missing = [n for n in ("issuer", "auth_login_url", "auth_token_url", "key_set_url") if n not in out]
        if missing:
            raise ValueError(f"without a preset, give {', '.join(missing)}")
        return out


def kv_key(issuer: str, client_id: str) -> str:
    # Hashed issuer keeps the key inside KV's 512-byte limit for any valid registration.
    return f"reg:{hashlib.sha256(issuer.encode()).hexdigest()[:32]}|{client_id}"


async def register(env, req: PlatformRegistrationRequest) -> Registration:
    """Creates (or updates) the tenant, the platform and its deployments; then the KV copy."""
    endpoints = req.endpoints()
    db = Database(env)
    tenant_id = req.tenant_id or new_id()
    existing = await db.first(platform_by_issuer_client(endpoints["issuer"], req.client_id))
    if existing is not None:
        tenant_id = existing["tenant_id"]
    await db.run(insert_tenant(tenant_id, req.tenant_name, req.d1_binding))
    if req.d1_binding != "D1_PRIMARY":
        await db.run(insert_tenant(tenant_id, req.tenant_name, req.d1_binding, binding=req.d1_binding))
    # Registration rows live with the tenant directory in the primary database.
    scope = system_scope({"id": tenant_id, "d1_binding": "D1_PRIMARY"}, "admin-registration")
    platform_id = existing["id"] if existing else new_id()
    if existing is None:
        await db.run(scope.insert("lti_platforms", {"id": platform_id, "client_id": req.client_id, **endpoints}))
    else:
        await db.run(scope.update("lti_platforms", {k: v for k, v in endpoints.items() if k != "issuer"},
                                  {"id": platform_id}))
    for dep in req.deployment_ids:
        try:
            await db.run(scope.insert("lti_deployments", {"platform_id": platform_id, "deployment_id": dep}))
        except ConstraintViolation as exc:
            if exc.kind != "unique":
                raise
    await db.run(scope.insert("audit_log", {"id": new_id(), "action": "platform_registered",
                                            "detail": json.dumps({"issuer": endpoints["issuer"],
                                                                  "deployments": len(req.deployment_ids)})}))
    reg = await load_from_d1(env, endpoints["issuer"], req.client_id)
    assert reg is not None
    return reg


async def load_from_d1(env, issuer: str, client_id: str) -> Registration | None:
    db = Database(env)
    row = await db.first(platform_by_issuer_client(issuer, client_id))
    if row is None:
        return None
    deps = [r["deployment_id"] for r in await db.all(deployments_of(row["id"]))]
    reg = Registration(tenant_id=row["tenant_id"], d1_binding=row["d1_binding"], platform_id=row["id"],
                       issuer=row["issuer"], client_id=row["client_id"], deployment_ids=deps,
                       auth_login_url=row["auth_login_url"], auth_token_url=row["auth_token_url"],
                       key_set_url=row["key_set_url"])
    await env.LTI_PLATFORMS.put(kv_key(issuer, client_id), reg.model_dump_json())
    return reg


async def find(env, issuer: str, client_id: str | None) -> Registration | None:
    """KV first (launch path); D1 when KV has no copy (and then KV is refreshed)."""
    if not issuer or len(issuer) > 400 or (client_id is not None and len(client_id) > 255):
        return None
    if not client_id:
        # Canvas always sends client_id; one issuer (canvas.instructure.com) serves every
        # Canvas cloud institution, so without it only a single registration is unambiguous.
        rows = await Database(env).all(platforms_by_issuer(issuer))
        if len(rows) != 1:
            return None
        client_id = rows[0]["client_id"]
    cached = await env.LTI_PLATFORMS.get(kv_key(issuer, client_id), type="json")
    if cached is not None:
        return Registration.model_validate(cached)
    return await load_from_d1(env, issuer, client_id)
