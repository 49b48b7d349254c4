"""Which origins may frame the tool's pages (CSP frame-ancestors).

A platform's pages frame the tool: its issuer and login origins, the origins an admin
registered for it (an institution's own Canvas domain), and for Canvas cloud every
`*.instructure.com` account domain. A verified launch adds the origins its signed claims
name (`launch_presentation.return_url`, Canvas's `$Canvas.api.domain` custom field), so
the pages of that session work inside that very Canvas. Pages shown before any launch
allow the union over all registered platforms, or nothing."""

from __future__ import annotations

import json

from db.database import Database
from db.system import all_platform_origins
from lti.origins import (CANVAS_CLOUD_ISSUERS, CANVAS_CLOUD_ORIGINS, FRAME_ORIGIN_PATTERN, MAX_ORIGINS, launch_origins,
                         origin, platform_origins, valid_frame_origin)

__all__ = ["CANVAS_CLOUD_ISSUERS", "CANVAS_CLOUD_ORIGINS", "FRAME_ORIGIN_PATTERN", "MAX_ORIGINS", "UNION_KEY", "launch_origins", "origin",
           "platform_origins", "refresh_union", "registered_union", "valid_frame_origin"]

UNION_KEY = "frame-origins:all"


async def registered_union(env) -> list[str]:
    """Every registered platform's origins (pages before a launch). KV first; rebuilt
    from D1 when missing; an unreadable store allows no framing rather than any."""
    try:
        cached = await env.LTI_PLATFORMS.get(UNION_KEY, type="json")
        if isinstance(cached, list):
            return cached
        return await refresh_union(env)
    except Exception:
        return []


async def refresh_union(env) -> list[str]:
    rows = await Database(env).all(all_platform_origins())
    union: set[str] = set()
    for r in rows:
        union.update(platform_origins(r["issuer"], r["auth_login_url"], json.loads(r["frame_origins"] or "[]")))
    value = sorted(union)
    await env.LTI_PLATFORMS.put(UNION_KEY, json.dumps(value))
    return value
