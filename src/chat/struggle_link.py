"""THE integration point between the Guide and struggle detection (issue 11).

After each learner message the chat computes signals (chat/signals.py: confusion,
repeated questions about one concept, concepts touched) and hands them here; they go to
the StruggleDetector object of the learner's learning session through
`struggle.service.report_chat` (which binds the object on first contact and respects
the learner's analytics consent), with the conversation id as evidence. The detector
records a struggle they show for the instructor and weighs them in the page's next
decision; it makes no offer in the chat itself."""

from __future__ import annotations

from typing import Any

from auth.session import Session


async def report_chat_signals(env: Any, session: Session, profile: dict, conversation_id: str,
                              signals: list[dict]) -> dict | None:
    """Delivers one message's signals; the detector's decision, or None when nothing was
    assessed (no learning session, consent off, detector unreachable). Never fails the chat."""
    from struggle import service as struggle_service

    return await struggle_service.report_chat(env, session, profile, conversation_id, signals)
