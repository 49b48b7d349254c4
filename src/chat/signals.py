"""What a learner's chat message says about their learning, pure: expressions of
confusion, repeated questions about one concept, and the concepts the conversation
touched. These become signals for the learner's StruggleDetector (struggle.service.report_chat),
with the conversation id as evidence."""

from __future__ import annotations

import re

from chat.prompt import mentioned_concepts

REPEAT_THRESHOLD = 3  # questions about one concept among the learner's recent messages
RECENT_MESSAGES = 10

_CONFUSION = re.compile(
    r"\b(i\s*(?:do\s*n[o']?t|dont|don't|still\s+don't|really\s+don't)\s+(?:get|understand|see|know\s+how)"
    r"|i'?m\s+(?:so\s+|really\s+|still\s+|totally\s+)?(?:confused|lost|stuck)"
    r"|(?:confused|confusing|lost|stuck)\b"
    r"|makes?\s+no\s+sense|does\s*n[o']?t\s+make\s+sense|no\s+idea|what\s+does\s+that\s+(?:even\s+)?mean"
    r"|can\s+you\s+explain\s+(?:it\s+)?again|i\s+give\s+up)",
    re.IGNORECASE)
_QUESTION_START = re.compile(r"^\s*(what|why|how|when|where|which|who|is|are|can|could|does|do|should|would)\b",
                             re.IGNORECASE)


def confusion_phrase(text: str) -> str | None:
    match = _CONFUSION.search(text)
    return match.group(0).strip().lower() if match else None


def is_question(text: str) -> bool:
    return "?" in text or bool(_QUESTION_START.match(text))


def concepts_of(text: str, concepts: list[str], focus: str | None) -> list[str]:
    """The concepts a message is about: those it names, else the conversation's focus."""
    named = mentioned_concepts(text, concepts)
    return named or ([focus] if focus else [])


def chat_signals(message: str, earlier_learner_messages: list[str], concepts: list[str],
                 focus: str | None) -> list[dict]:
    """Signals of one learner message (given their earlier messages, oldest first)."""
    touched = concepts_of(message, concepts, focus)
    out: list[dict] = []
    phrase = confusion_phrase(message)
    if phrase:
        out.append({"kind": "chat_confusion", "concept": touched[0] if touched else None, "phrase": phrase})
    recent = [*earlier_learner_messages[-(RECENT_MESSAGES - 1):], message]
    if is_question(message):
        for concept in touched:
            asked = sum(1 for m in recent if is_question(m) and concept in concepts_of(m, concepts, focus))
            if asked >= REPEAT_THRESHOLD:
                out.append({"kind": "chat_repeated_question", "concept": concept, "count": asked})
    if touched:
        out.append({"kind": "chat_concepts", "concepts": touched})
    return out
