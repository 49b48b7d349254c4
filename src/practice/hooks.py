"""Where other features hear about practice. `answer_recorded` is called once for every
practice answer the server has checked and stored (never for a replay) and hands it to
the learner session's StruggleDetector (issue 11), the same way POST /api/responses
does; it must never fail the answer that called it."""

from __future__ import annotations

import json
import logging

log = logging.getLogger("atomic_guide.practice")


async def answer_recorded(env, session, profile: dict, report: dict, guide: bool = True) -> dict | None:
    """`report`: what struggle.service.answer_from_result built from the learner model's
    result (concept, credit, server-measured time, hints, misconception, prerequisites).
    Returns the detector's decision ({"assessment", "intervention"}) or None when there is
    none (no learning session, detector or D1 unavailable, or anything else going wrong)."""
    from struggle import service as struggle_service

    try:
        return await struggle_service.report_answer(env, session, report, profile=profile, guide=guide)
    except Exception as exc:  # detection must never cost the learner their answer
        log.warning(json.dumps({"event": "practice_answer_not_assessed", "error": type(exc).__name__}))
        return None
