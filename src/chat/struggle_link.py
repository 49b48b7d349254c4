"""THE integration point between the Guide and struggle detection (issue 11).

After each learner message the chat computes signals (chat/signals.py: confusion,
repeated questions about one concept, concepts touched) and hands them to
`report_chat_signals`, which delivers them, with the conversation id as evidence, to the
StruggleDetector object of the learner's session (`STRUGGLE_DETECTOR`, named as
struggle/service.py names it) by calling its `record_chat_signal(identity, payload)` RPC
method (identity as the detector's other reports carry it). Until the StruggleDetector
class has that method, nothing is sent and nothing is stored anywhere: the check is on
the deployed class itself, so no call is made to find out."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("atomic_guide.chat")

DETECTOR_METHOD = "record_chat_signal"


def detector_name(tenant_id: str, learning_session_id: str) -> str:
    """The StruggleDetector object of one learning session, named as the detector's own
    service names it."""
    from struggle.service import object_name

    return object_name(tenant_id, learning_session_id)


def detector_accepts_chat_signals() -> bool:
    from durable.struggle_detector import StruggleDetector

    return callable(getattr(StruggleDetector, DETECTOR_METHOD, None))


def signal_payload(conversation_id: str, learner_id: str, signals: list[dict], at_ms: int) -> dict:
    return {"source": "chat", "evidence": {"conversation_id": conversation_id}, "learner_id": learner_id,
            "at_ms": at_ms, "signals": signals}


async def report_chat_signals(env: Any, tenant_id: str, learning_session_id: str | None, conversation_id: str,
                              learner_id: str, signals: list[dict], at_ms: int) -> bool:
    """Delivers the signals; True when the detector took them. Never fails the chat: a
    detector that cannot be reached is logged and the turn goes on."""
    if not signals or not learning_session_id or not detector_accepts_chat_signals():
        return False
    namespace = getattr(env, "STRUGGLE_DETECTOR", None)
    if namespace is None:
        return False
    stub = namespace.getByName(detector_name(tenant_id, learning_session_id))
    identity = {"tenant_id": tenant_id, "learning_session_id": learning_session_id, "learner_id": learner_id}
    try:
        await getattr(stub, DETECTOR_METHOD)(identity, signal_payload(conversation_id, learner_id, signals, at_ms))
    except Exception as exc:
        log.warning("chat signals not delivered to the struggle detector: %s", exc)
        return False
    return True
