"""Cron entry: the nightly backup starts one export Workflow instance per active tenant
(src/backups/export.py); the instances do the work, each within its own steps."""

from __future__ import annotations

import json
import logging

log = logging.getLogger("atomic_guide.jobs")

NIGHTLY_EXPORT_CRON = "0 3 * * *"


async def on_scheduled(cron: str, scheduled_time_ms: int, env) -> dict:
    from backups.export import schedule_nightly

    log.info(json.dumps({"event": "scheduled", "cron": cron, "scheduled_time": scheduled_time_ms}))
    return await schedule_nightly(env, scheduled_time_ms)
