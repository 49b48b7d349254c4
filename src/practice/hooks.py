"""Where other features hear about practice. `answer_recorded` is called once for every
practice answer the server has checked and stored (never for a replay): struggle
detection (issue 11) will feed it to the learner's StruggleDetector. Today it does
nothing; it must never fail the answer that called it."""

from __future__ import annotations


async def answer_recorded(env, session, payload: dict) -> None:
    """`payload`: activity_id, item_id, concept_id, learner_id, learning_session_id,
    correct, credit, outcome (exact/typo/misconception/...), misconception (the wrong
    answer matched, or None), hints_used, response_time_ms, rapid_guess, mastery (the
    concept's mastery after the answer), recorded_at (ISO 8601)."""
    return None
