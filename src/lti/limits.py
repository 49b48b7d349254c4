"""Rate limits for the routes that do work before anyone is authenticated (OIDC login,
launch, dynamic registration), through Cloudflare's Rate Limiting binding: one limiter
per client address and one per platform, as declared in wrangler.jsonc. A limiter that
is missing or failing lets the request through: an outage of the limiter must not lock
every learner out of their course."""

from __future__ import annotations

import hashlib
import json
import logging

from lti.launch import LaunchError

log = logging.getLogger("atomic_guide.ratelimits")

# flow -> (per-client binding, per-platform binding or None)
LIMITERS = {
    "login": ("LOGIN_LIMIT_CLIENT", "LOGIN_LIMIT_PLATFORM"),
    "launch": ("LAUNCH_LIMIT_CLIENT", "LAUNCH_LIMIT_PLATFORM"),
    "registration": ("REGISTRATION_LIMIT_CLIENT", None),
}
RETRY_AFTER_S = 60


def client_key(request) -> str:
    """Cloudflare puts the caller's address in CF-Connecting-IP; elsewhere the peer."""
    ip = request.headers.get("cf-connecting-ip")
    if not ip:
        client = request.scope.get("client")
        ip = client[0] if client else "unknown"
    return "ip:" + ip[:64]


def platform_key(issuer: str) -> str:
    return "iss:" + hashlib.sha256(issuer.encode()).hexdigest()[:32]


async def allowed(env, binding: str | None, key: str) -> bool:
    limiter = getattr(env, binding, None) if binding else None
    if limiter is None:
        return True
    try:
        return bool((await limiter.limit({"key": key}))["success"])
    except Exception as exc:
        log.warning(json.dumps({"event": "ratelimit_unavailable", "binding": binding, "error": type(exc).__name__}))
        return True


async def enforce_browser(env, request, flow: str, issuer: str | None = None) -> None:
    """Raises a 429 LaunchError (a readable page with Retry-After) past either limit."""
    per_client, per_platform = LIMITERS[flow]
    if not await allowed(env, per_client, client_key(request)):
        raise LaunchError("rate_limit", "Too many sign-in attempts from your network; wait a minute and try "
                                        "again.", 429, retry_after=RETRY_AFTER_S)
    if issuer and not await allowed(env, per_platform, platform_key(issuer)):
        raise LaunchError("rate_limit", "Too many sign-ins from your institution's platform right now; wait a "
                                        "minute and try again.", 429, retry_after=RETRY_AFTER_S)
