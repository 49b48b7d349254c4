"""Backup routes. Platform admin (Bearer ADMIN_API_SECRET): list a tenant's exports,
verify one, restore a tenant from one, follow a run. Institution admin (a session whose
context roles include Administrator): links to its own latest complete export, each
signed and valid for LINK_TTL_S; the download route streams the object."""

from __future__ import annotations

import re
import secrets

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as _P
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

import clock
from api.admin import require_admin
from auth.session import Session, require_session
from bindings import D1Binding
from backups import catalog
from backups import format as fmt
from lti import roles
from problems import Problem, problem_responses

router = APIRouter(tags=["backups"])
ADMIN = {"dependencies": [Depends(require_admin)]}

LINK_TTL_S = 900
READ_BYTES = 1024 * 1024
_TENANT = r"^[A-Za-z0-9_-]{1,64}$"
_DAY = r"^\d{4}-\d{2}-\d{2}$"


def _not_found(detail: str) -> Problem:
    return Problem(404, "Not Found", detail, type_="/problems/not-found")


async def _require_manifest(env, tenant_id: str, day: str) -> None:
    if await env.EXPORTS.head(fmt.manifest_key(tenant_id, day)) is None:
        raise _not_found(f"No complete export of tenant {tenant_id} on {day} (no manifest).")


def _run_url(request: Request, instance_id: str) -> str:
    return str(request.url_for("backup_run", instance_id=instance_id))


@router.get("/admin/tenants/{tenant_id}/exports", summary="A tenant's exports with status and sizes",
            responses=problem_responses(401, 422), **ADMIN)
async def tenant_exports(request: Request, tenant_id: str = _P(pattern=_TENANT)):
    exports = await catalog.list_exports(request.scope["env"], tenant_id)
    return {"tenant_id": tenant_id, "exports": exports}


class RestoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: D1Binding | None = None


async def _start_run(request: Request, tenant_id: str, day: str, params: dict, kind: str) -> JSONResponse:
    env = request.scope["env"]
    await _require_manifest(env, tenant_id, day)
    instance_id = f"{kind}-{secrets.token_hex(12)}"
    await env.RESTORE_WORKFLOW.create(id=instance_id, params={"tenant_id": tenant_id, "day": day, **params})
    return JSONResponse({"instance_id": instance_id, "status": "queued", "status_url": _run_url(request, instance_id)},
                        status_code=202, headers={"Location": _run_url(request, instance_id)})


@router.post("/admin/tenants/{tenant_id}/exports/{day}/verify", status_code=202,
             summary="Check every object of an export against its manifest (a workflow run)",
             responses=problem_responses(401, 404, 422), **ADMIN)
async def verify_export(request: Request, tenant_id: str = _P(pattern=_TENANT), day: str = _P(pattern=_DAY)):
    return await _start_run(request, tenant_id, day, {"verify_only": True}, "verify")


@router.post("/admin/tenants/{tenant_id}/exports/{day}/restore", status_code=202,
             summary="Restore one tenant from an export (verified first; other tenants untouched)",
             responses=problem_responses(400, 401, 404, 413, 422), **ADMIN)
async def restore_export(request: Request, body: RestoreRequest | None = None,
                         tenant_id: str = _P(pattern=_TENANT), day: str = _P(pattern=_DAY)):
    into = body.into if body else None
    if into is not None and getattr(request.scope["env"], into, None) is None:
        raise Problem(422, "Unprocessable Content", f"D1 binding {into} is not configured.",
                      type_="/problems/validation")
    return await _start_run(request, tenant_id, day, {"into": into}, "restore")


@router.get("/admin/backup-runs/{instance_id}", name="backup_run", summary="Status of an export, verify or restore run",
            responses=problem_responses(401, 404, 422), **ADMIN)
async def backup_run(request: Request, instance_id: str = _P(pattern=r"^[A-Za-z0-9_-]{1,100}$")):
    env = request.scope["env"]
    workflow = env.EXPORT_WORKFLOW if instance_id.startswith("export-") else env.RESTORE_WORKFLOW
    try:
        status = await (await workflow.get(instance_id)).status()
    except Exception:
        raise _not_found(f"No backup run {instance_id}.") from None
    return {"instance_id": instance_id, **{k: v for k, v in status.items() if not k.startswith("__")}}


# -- the institution's own export --------------------------------------------------------

def _is_institution_admin(session: Session) -> bool:
    return any((roles.context_role(r) or ("", None))[0] == "Administrator" for r in session.claims.roles)


@router.get("/api/institution/exports/latest", summary="Signed links to the institution's latest complete export",
            responses=problem_responses(401, 403, 404, 503))
async def latest_export(request: Request, session: Session = Depends(require_session)):
    if not _is_institution_admin(session):
        raise Problem(403, "Forbidden", "Only an administrator of the institution can download its export.",
                      type_="/problems/forbidden")
    env = request.scope["env"]
    tenant_id = session.scope.tenant_id
    latest = await catalog.latest_complete(env, tenant_id)
    if latest is None:
        raise _not_found("The institution has no complete export yet.")
    body = await env.EXPORTS.get(latest["manifest"])
    manifest = await body.json()
    expires = int(clock.now(env)) + LINK_TTL_S
    secret = str(env.SESSION_SIGNING_KEY)
    base = str(request.url_for("download_export"))

    def link(key: str) -> str:
        from urllib.parse import urlencode

        return f"{base}?{urlencode({'key': key, 'expires': expires, 'signature': fmt.sign_link(secret, key, expires)})}"

    files = [{"key": latest["manifest"], "bytes": None, "sha256": None, "url": link(latest["manifest"])}]
    files += [{"key": o["key"], "table": t["name"], "rows": o["rows"], "bytes": o["bytes"], "sha256": o["sha256"],
               "url": link(o["key"])} for t in manifest["tables"] for o in t["objects"]]
    return {"day": latest["day"], "rows": manifest["rows"], "schema_version": manifest["schema_version"],
            "finished_at": manifest["finished_at"], "expires_at": fmt.iso(expires), "files": files}


@router.get("/exports/download", name="download_export", summary="One export object, by a signed link",
            responses=problem_responses(403, 404, 422))
async def download_export(request: Request, key: str = Query(max_length=1024), expires: int = Query(),
                          signature: str = Query(max_length=100)):
    env = request.scope["env"]
    if not re.match(r"^exports/[A-Za-z0-9_-]+/\d{4}-\d{2}-\d{2}/", key) or not fmt.link_is_valid(
            str(env.SESSION_SIGNING_KEY), key, expires, signature, clock.now(env)):
        raise Problem(403, "Forbidden", "The download link is invalid or has expired; ask for a new one.",
                      type_="/problems/forbidden")
    head = await env.EXPORTS.head(key)
    if head is None:
        raise _not_found("That export object no longer exists.")

    async def body():
        # In ranges: the Worker holds at most READ_BYTES of the object at a time.
        for offset in range(0, head.size, READ_BYTES):
            part = await env.EXPORTS.get(key, range={"offset": offset, "length": min(READ_BYTES, head.size - offset)})
            yield await part.arrayBuffer()

    media = "application/json" if key.endswith(".json") else "application/gzip"
    name = key.rsplit("/", 2)
    return StreamingResponse(body(), media_type=media, headers={
        "Content-Length": str(head.size), "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="{name[-2]}-{name[-1]}"'})
