"""LTI platform registrations: the record of truth is D1 (lti_platforms, lti_deployments);
the launch path reads the KV copy in LTI_PLATFORMS and falls back to D1.

Registering never moves a tenant's data: a tenant keeps the D1 database it was created
with (moving one is an explicit admin operation, not a side effect), and a platform
registered to one tenant cannot be re-registered into another. Every change to a
registration's D1 rows rewrites its KV copy and drops the tenant's cached row."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from bindings import D1Binding

from db.database import ConstraintViolation, Database
from db.profiles import new_id
from db.system import (deployments_of, get_tenant, insert_tenant, platform_by_issuer_client, platforms_by_issuer,
                       system_scope)
from lti import framing
from lti.urls import UrlPolicyError, check_platform_url

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
    frame_origins: list[str] = Field(default_factory=list)

    def origins(self) -> list[str]:
        """Origins whose pages may frame the tool for this platform (CSP)."""
        return framing.platform_origins(self.issuer, self.auth_login_url, self.frame_origins)


class RegistrationConflict(Exception):
    """The registration would change what a registration may not change; the message says what."""


# A platform URL as the URL policy accepts it (lti/urls.py): https, or plain http on a
# loopback host (accepted only when the tool runs locally).
PlatformUrl = Annotated[str, StringConstraints(
    max_length=2048, pattern=r"^(https://[A-Za-z0-9.-]+(:\d{1,5})?|http://(localhost|127\.0\.0\.1)(:\d{1,5})?)(/\S*)?$")]
_ENDPOINTS = ("issuer", "auth_login_url", "auth_token_url", "key_set_url")


class PlatformRegistrationRequest(BaseModel):
    """Admin API body. With `preset`, a Canvas admin needs only client_id and deployment ids."""

    # The schema states the rule the code checks: a preset, or all four endpoints.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["preset"], "properties": {"preset": {"not": {"type": "null"}}}},
        {"required": list(_ENDPOINTS), "properties": {n: {"not": {"type": "null"}} for n in _ENDPOINTS}}]})

    tenant_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    tenant_name: str = Field(min_length=1, max_length=200)
    # Only for a new tenant; an existing tenant keeps its database (None: keep / primary).
    d1_binding: D1Binding | None = None
    preset: Literal["canvas", "canvas-beta", "canvas-test"] | None = None
    issuer: PlatformUrl | None = None
    client_id: str = Field(min_length=1, max_length=255)
    deployment_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] = Field(
        min_length=1, max_length=50)
    auth_login_url: PlatformUrl | None = None
    auth_token_url: PlatformUrl | None = None
    key_set_url: PlatformUrl | None = None
    # Extra origins allowed to frame the tool (an institution's own Canvas domain).
    frame_origins: list[Annotated[str, StringConstraints(pattern=framing.FRAME_ORIGIN_PATTERN, max_length=255)]] = \
        Field(default_factory=list, max_length=10)

    @field_validator("frame_origins", "deployment_ids")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        return sorted(set(v))

    def endpoints(self) -> dict[str, str]:
        out = dict(CANVAS_PRESETS[self.preset]) if self.preset else {}
        for name in _ENDPOINTS:
            value = getattr(self, name)
            if value is not None:
                out[name] = str(value).rstrip("/") if name == "issuer" else str(value)
        missing = [n for n in ("issuer", "auth_login_url", "auth_token_url", "key_set_url") if n not in out]
        if missing:
            raise ValueError(f"without a preset, give {', '.join(missing)}")
        return out

    def checked_endpoints(self, allow_http_loopback: bool) -> dict[str, str]:
        """The endpoints, each an https URL (http only on loopback when the tool runs locally)."""
        out = self.endpoints()
        for name, url in out.items():
            try:
                check_platform_url(url, allow_http_loopback)
            except UrlPolicyError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return out


def kv_key(issuer: str, client_id: str) -> str:
    # Hashed issuer keeps the key inside KV's 512-byte limit for any valid registration.
    return f"reg:{hashlib.sha256(issuer.encode()).hexdigest()[:32]}|{client_id}"


def allows_http_loopback(env) -> bool:
    """Plain http platform URLs are accepted only on loopback and only when a var says
    the tool runs locally (the local host and its demo LMS)."""
    return str(getattr(env, "ALLOW_HTTP_LOOPBACK", "") or "").lower() in ("1", "true", "yes")


async def register(env, req: PlatformRegistrationRequest) -> Registration:
    """Creates (or updates) the tenant, the platform and its deployments; then the KV
    copies. Raises RegistrationConflict for a move or a platform owned by another tenant."""
    endpoints = req.checked_endpoints(allows_http_loopback(env))
    db = Database(env)
    existing = await db.first(platform_by_issuer_client(endpoints["issuer"], req.client_id))
    if existing is not None and req.tenant_id and existing["tenant_id"] != req.tenant_id:
        raise RegistrationConflict("This platform (issuer and client_id) is registered to another tenant.")
    tenant_id = existing["tenant_id"] if existing is not None else (req.tenant_id or new_id())
    tenant = await db.first(get_tenant(tenant_id))
    if tenant is not None:
        if req.d1_binding is not None and req.d1_binding != tenant["d1_binding"]:
            raise RegistrationConflict(
                f"The tenant's data lives in {tenant['d1_binding']}; registering a platform does not move it.")
        d1_binding = tenant["d1_binding"]
    else:
        d1_binding = req.d1_binding or "D1_PRIMARY"
        if getattr(env, d1_binding, None) is None:
            raise ValueError(f"D1 binding {d1_binding} is not configured")
    await db.run(insert_tenant(tenant_id, req.tenant_name, d1_binding))
    if d1_binding != "D1_PRIMARY":
        await db.run(insert_tenant(tenant_id, req.tenant_name, d1_binding, binding=d1_binding))
    # Registration rows live with the tenant directory in the primary database.
    scope = system_scope({"id": tenant_id, "d1_binding": "D1_PRIMARY"}, "admin-registration")
    platform_id = existing["id"] if existing else new_id()
    origins = json.dumps(req.frame_origins)
    if existing is None:
        await db.run(scope.insert("lti_platforms", {"id": platform_id, "client_id": req.client_id,
                                                    "frame_origins": origins, **endpoints}))
    else:
        await db.run(scope.update("lti_platforms", {**{k: v for k, v in endpoints.items() if k != "issuer"},
                                                    "frame_origins": origins}, {"id": platform_id}))
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
    from resilience.cache import forget, tenant_key

    await forget(env, tenant_key(tenant_id))  # the tenant row may have changed (its name)
    await framing.refresh_union(env)
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
                       key_set_url=row["key_set_url"], frame_origins=json.loads(row["frame_origins"] or "[]"))
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
