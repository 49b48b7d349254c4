"""Cron entry: the nightly backup starts one export Workflow instance per active tenant
(src/backups/export.py); the instances do the work, each within its own steps. The same
night, every practice activity with a grade still waiting is asked to send it (a safety
net for a request to its GradeSync object that was lost)."""

from __future__ import annotations

import json
import logging

log = logging.getLogger("atomic_guide.jobs")

NIGHTLY_EXPORT_CRON = "0 3 * * *"


async def on_scheduled(cron: str, scheduled_time_ms: int, env) -> dict:
    from backups.export import schedule_nightly
    from practice import gradebook

    log.info(json.dumps({"event": "scheduled", "cron": cron, "scheduled_time": scheduled_time_ms}))
    out = await schedule_nightly(env, scheduled_time_ms)
    try:
        out["grade_syncs_requested"] = await gradebook.sweep(env)
    except Exception as exc:  # the backups must start whatever happens to this sweep
        log.warning(json.dumps({"event": "grade_sweep_failed", "error": type(exc).__name__}))
    return out
