"""Cron entry: the nightly run starts, per active tenant, one export Workflow instance
(src/backups/export.py) and one insights snapshot instance (src/insights/job.py); the
instances do the work, each within its own steps. The same night, every practice
activity with a grade still waiting is asked to send it (a safety net for a request to
its GradeSync object that was lost)."""

from __future__ import annotations

import json
import logging

log = logging.getLogger("atomic_guide.jobs")

NIGHTLY_EXPORT_CRON = "0 3 * * *"


async def on_scheduled(cron: str, scheduled_time_ms: int, env) -> dict:
    from backups.export import schedule_nightly
    from insights.job import schedule_nightly as schedule_insights
    from practice import gradebook

    log.info(json.dumps({"event": "scheduled", "cron": cron, "scheduled_time": scheduled_time_ms}))
    exports = await schedule_nightly(env, scheduled_time_ms)
    try:
        exports["insights"] = await schedule_insights(env, scheduled_time_ms)
    except Exception as exc:  # the backups must not depend on the snapshots
        log.error(json.dumps({"event": "insights_not_scheduled", "error": str(exc)[:300]}))
    try:
        exports["grade_syncs_requested"] = await gradebook.sweep(env)
    except Exception as exc:  # the backups must start whatever happens to this sweep
        log.warning(json.dumps({"event": "grade_sweep_failed", "error": type(exc).__name__}))
    return exports
