"""The offline Guide: the product's own Socratic questioning method, used where no model
is connected (the local host, tests, or a tenant that chooses it). Pure and
deterministic: the same context gives the same reply. It reads the learner's message
(what they ask for, whether they are confused or explaining), the concept in focus, the
weakest prerequisite and the last error from the learner model, the question bank, and
(in a graded conversation) the judgment of the explanation, and answers with one guiding
question. It never gives an answer, and says on its first turn what it is."""

from __future__ import annotations

import hashlib
import re

from chat.judge import content_words
from chat.prompt import _first_sentence, mentioned_concepts
from chat.signals import confusion_phrase, is_question

MODEL = "atomic-guide/offline-socratic-1"
WEAK_PREREQUISITE = 0.6  # mastery under this makes a prerequisite worth revisiting first
INTRO = ("I'm the offline Guide: no AI model is connected, so I work with questions that help you reason it "
         "through yourself.")

_ANSWER_REQUEST = re.compile(
    r"\b(just\s+)?(tell|give|show)\s+me\s+(the\s+)?(answer|solution|result)|what\s+is\s+the\s+(answer|solution)"
    r"|(solve|do)\s+(it|this)\s+for\s+me|can\s+you\s+(solve|answer)\s+(it|this)", re.IGNORECASE)
_GREETING = re.compile(r"^\s*(hi|hello|hey|good\s+(morning|afternoon|evening)|thanks|thank\s+you)\b[\s!.,]*$",
                       re.IGNORECASE)

# Socratic question types (seed 001's question_type vocabulary): opening questions find
# out where the learner is; probing ones examine reasoning the learner has offered.
OPENING_QUESTIONS = (
    "How would you explain {focus} in your own words, as if to a classmate?",
    "What do you already know about {focus} that might help here?",
    "What is the first step you would try with {focus}, and why that one?",
    "How else could you look at {focus}? Is there a picture or an example that fits?",
)
PROBING_QUESTIONS = (
    "What are you assuming about {focus} when you approach it that way?",
    "Why do you think that step works? What makes it true for {focus}?",
    "If that is right, what would you expect to happen in a simpler example of {focus}?",
)
GRADED_QUESTIONS = (
    "Explain {focus} in your own words: what is it, and why does it work?",
    "Walk me through your reasoning about {focus} step by step: what comes first, and what follows from it?",
    "Can you give an example of {focus} and say what makes it an example?",
    "What would go wrong if someone misunderstood {focus}? Explain what they should think instead.",
)


def graded_opening(concept: str) -> str:
    """How a graded Guide conversation begins, before the learner has said anything."""
    return f"Let's begin with {concept}. " + GRADED_QUESTIONS[0].format(focus=concept)


def intent(message: str) -> str:
    if _ANSWER_REQUEST.search(message):
        return "answer_request"
    if confusion_phrase(message):
        return "confusion"
    if _GREETING.match(message):
        return "greeting"
    if is_question(message):
        return "question"
    return "explanation" if len(content_words(message)) >= 6 else "other"


def _pick(options: list[str], seed: str, avoid: str) -> str:
    """A deterministic choice that differs from the Guide's previous question when it can."""
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % len(options)
    for i in range(len(options)):
        candidate = options[(start + i) % len(options)]
        if candidate not in avoid:
            return candidate
    return options[start]


def _known_concepts(learner: dict, page: dict, graded: dict | None) -> list[str]:
    names = [page.get("concept"), learner.get("concept"), *[p.get("name") for p in learner.get("prerequisites") or []],
             *(learner.get("mastered") or []), *((graded or {}).get("concepts") or [])]
    return [n for i, n in enumerate(names) if n and n not in names[:i]]


def _focus(message: str, learner: dict, page: dict, graded: dict | None) -> str:
    if graded:
        return graded.get("focus") or "this activity"
    for candidate in (page.get("concept"), learner.get("concept")):
        if candidate:
            return candidate
    named = mentioned_concepts(message, _known_concepts(learner, page, graded))
    if named:
        return named[0]
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", message)]
    return max(words, key=len).lower() if words else "this topic"


def _weakest_prerequisite(learner: dict) -> dict | None:
    weak = [p for p in learner.get("prerequisites") or [] if float(p.get("mastery") or 0) < WEAK_PREREQUISITE]
    return min(weak, key=lambda p: (float(p.get("mastery") or 0), p["name"])) if weak else None


def _pct(value: object) -> str:
    return f"{round(float(value or 0) * 100)}%"


def _previous_guide_text(history: list[dict]) -> str:
    return next((str(m.get("content", "")) for m in reversed(history) if m.get("role") == "assistant"), "")


def study_reply(message: str, history: list[dict], page: dict, learner: dict) -> str:
    kind = intent(message)
    focus = _focus(message, learner, page, None)
    prereq = _weakest_prerequisite(learner)
    error = learner.get("last_error")
    previous = _previous_guide_text(history)
    seed = f"{message}\x00{focus}\x00{len(history)}"
    parts: list[str] = []
    if not previous:
        parts.append(INTRO)
    opening = {
        "answer_request": "I won't hand you the answer, but I can help you get there yourself.",
        "confusion": f"Feeling stuck on {focus} is a normal part of learning it; let's find the exact spot where "
                     "it stops making sense.",
        "greeting": f"Hi! Let's work on {focus} together.",
        "question": f"Good question about {focus}.",
        "explanation": f"You said: \"{_first_sentence(message, 90)}\"",
    }.get(kind)
    if opening:
        parts.append(opening)
    question = None
    if prereq is not None and kind in ("confusion", "answer_request", "question", "greeting"):
        parts.append(f"{focus} builds on {prereq['name']}, which you have at {_pct(prereq.get('mastery'))} so far.")
        question = (f"How does {prereq['name']} work, in your own words, and where might it show up in "
                    f"{focus}?")
    elif error and kind in ("confusion", "answer_request", "question"):
        answer = _first_sentence(str(error.get("answer", "")), 60)
        parts.append(f"Earlier you answered \"{answer}\" to \"{_first_sentence(str(error.get('question', '')), 80)}\".")
        if error.get("misconceptions"):
            parts.append(f"A common mix-up there is {error['misconceptions'][0]}.")
        question = "Which step of that answer would you check first, and why?"
    if question is None or question in previous:
        templates = PROBING_QUESTIONS if kind == "explanation" else OPENING_QUESTIONS
        question = _pick([q.format(focus=focus) for q in templates], seed, previous)
    parts.append(question)
    return " ".join(parts)


def graded_reply(message: str, history: list[dict], page: dict, graded: dict) -> str:
    focus = graded.get("focus")
    previous = _previous_guide_text(history)
    parts: list[str] = [] if previous else [INTRO]
    kind = intent(message)
    judgment = graded.get("judgment") or {}
    if kind == "answer_request":
        parts.append("This conversation is graded, so I won't give answers or hints that give them away; "
                     "your own explanation is what counts.")
    elif judgment.get("judged"):
        matched = judgment.get("matched") or []
        if matched:
            parts.append("You brought in " + " and ".join(matched[:2]) + ".")
        if judgment.get("misconceptions"):
            parts.append("One part of your explanation needs a second look.")
    elif kind not in ("greeting",) and history:
        parts.append("Tell me more: explain it in a few full sentences, as if to a classmate.")
    if focus is None:
        parts.append("You have explained every concept of this activity; your result has been recorded. "
                     "Is there anything you would like to go over again?")
        return " ".join(parts)
    asked = " ".join(str(m.get("content", "")) for m in history if m.get("role") == "assistant")
    bank = [q for q in graded.get("questions") or [] if q and q not in asked]
    options = bank or [q.format(focus=focus) for q in GRADED_QUESTIONS]
    parts.append(_pick(options, f"{focus}\x00{len(history)}", previous))
    return " ".join(parts)


def reply(turn: dict) -> str:
    """The offline Guide's reply to the last learner message of `turn` (see
    chat/providers.py for the shape: message, history, page, learner, mode, graded)."""
    message = str(turn.get("message", ""))
    history = turn.get("history") or []
    page = turn.get("page") or {}
    if turn.get("mode") == "graded":
        return graded_reply(message, history, page, turn.get("graded") or {})
    return study_reply(message, history, page, turn.get("learner") or {})


def pieces(text: str) -> list[str]:
    """The reply as it streams: word by word, spaces attached, like model tokens."""
    return re.findall(r"\s*\S+", text)
