"""GET /health: ok or degraded for anyone (load balancers, uptime checks); the
per-binding detail, applied migrations and breaker state only with the admin secret."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

import bindings
from api.admin import admin_authorized
from resilience.gateway import gateway_for

router = APIRouter()

CHECK_TIMEOUT_S = 2.0


async def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        status = "ok"
    except TimeoutError:
        detail, status = {"error": f"no answer within {CHECK_TIMEOUT_S:.0f}s"}, "down"
    except Exception as exc:  # a binding failure is a health fact, not a crash
        detail, status = {"error": str(exc)[:200]}, "down"
    return {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2), **(detail or {})}


def _checks(env) -> dict:
    def d1(name):
        async def check():
            row = await getattr(env, name).prepare("SELECT count(*) AS n FROM d1_migrations").first()
            return {"migrations_applied": row["n"]}
        return check

    def kv(name):
        async def check():
            await getattr(env, name).get("__health__")
        return check

    def r2(name):
        async def check():
            await getattr(env, name).head("__health__")
        return check

    def do(name):
        async def check():
            return {"answer": await getattr(env, name).getByName("__health__").ping()}
        return check

    checks = {}
    for names, make in ((bindings.D1_DATABASES, d1), (bindings.KV_NAMESPACES, kv), (bindings.R2_BUCKETS, r2),
                        (bindings.DURABLE_OBJECTS, do)):
        for name in names:
            checks[name] = make(name)
    return checks


async def binding_report(env) -> dict:
    names, checks, results = [], [], {}
    for name, check in _checks(env).items():
        if getattr(env, name, None) is None:
            results[name] = {"status": "missing"}
            continue
        names.append(name)
        checks.append(_timed(check))
    for name, result in zip(names, await asyncio.gather(*checks)):
        results[name] = result
    # The AI binding is not called (every call costs); its presence is what is checked.
    results[bindings.AI] = {"status": "ok" if getattr(env, bindings.AI, None) is not None else "missing"}
    return results


@router.get("/health", tags=["ops"], summary="ok or degraded; binding detail with the admin secret",
            responses={503: {"description": "Degraded: a binding is down or missing"}})
async def health(request: Request):
    env = request.scope["env"]
    results = await binding_report(env)
    status = "ok" if all(r["status"] == "ok" for r in results.values()) else "degraded"
    body: dict = {"status": status}
    if admin_authorized(env, request.headers.get("authorization")):
        body.update({"bindings": results,
                     "migrations": {"applied": results.get(bindings.D1_PRIMARY, {}).get("migrations_applied")},
                     # Per isolate: what this isolate's breakers have seen (src/resilience/breaker.py).
                     "d1_circuit": gateway_for(env).snapshot()})
    return JSONResponse(body, status_code=200 if status == "ok" else 503, headers={"Cache-Control": "no-store"})
