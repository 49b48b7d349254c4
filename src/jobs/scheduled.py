"""Cron entry: the nightly export of D1 to R2."""

from __future__ import annotations

import json
import logging

log = logging.getLogger("atomic_guide.jobs")

NIGHTLY_EXPORT_CRON = "0 3 * * *"


async def on_scheduled(cron: str, scheduled_time_ms: int, env) -> dict:
    from jobs.export import nightly_export

    log.info(json.dumps({"event": "scheduled", "cron": cron, "scheduled_time": scheduled_time_ms}))
    return await nightly_export(env, scheduled_time_ms)
