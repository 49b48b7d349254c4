"""GET /health: each binding's status and the applied migration count."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

import bindings

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
    checks = {}

    def d1(name):
        async def check():
            db = getattr(env, name)
            row = await db.prepare("SELECT count(*) AS n FROM d1_migrations").first()
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

    for name in bindings.D1_DATABASES:
        checks[name] = d1(name)
    for name in bindings.KV_NAMESPACES:
        checks[name] = kv(name)
    for name in bindings.R2_BUCKETS:
        checks[name] = r2(name)
    for name in bindings.DURABLE_OBJECTS:
        checks[name] = do(name)
    return checks


@router.get("/health", tags=["ops"], summary="Binding status and applied migrations")
async def health(request: Request):
    env = request.scope["env"]
    names = []
    checks = []
    results: dict[str, dict] = {}
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
    from resilience.gateway import gateway_for

    body = {
        "status": "ok" if all(r["status"] == "ok" for r in results.values()) else "degraded",
        "bindings": results,
        "migrations": {"applied": results.get(bindings.D1_PRIMARY, {}).get("migrations_applied")},
    }
    # Per isolate: what this isolate's breakers have seen (see src/resilience/breaker.py).
    body["d1_circuit"] = gateway_for(env).snapshot()
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)
