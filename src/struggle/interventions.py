"""What help to offer, if any (pure): the kind follows the dominant reason; a weak
prerequisite of the struggled concept is offered for review first; persistent struggle
on a concept escalates to a note to the instructor (only for learners who let
instructors see them). It does not nag: one offer at a time, one per kind within the
cool-down, a gap between any two, a daily cap, none while the learner is in flow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from struggle.config import Rules
from struggle.rules import STRUGGLING, Assessment, Reason

# The intervention_logs.intervention_type values.
KINDS = ("hint", "explanation", "example", "chat_prompt", "review_prompt", "break_suggestion", "instructor_note")
OUTCOMES = ("accepted", "dismissed", "ignored")

# The dominant reason's remedies, best first (the first not cooling down is offered).
REMEDIES: dict[str, tuple[str, ...]] = {
    "wheel_spinning": ("explanation", "example", "chat_prompt"),
    "misconception": ("explanation", "example"),
    "repeated_error": ("hint", "explanation"),
    "help_avoidance": ("hint", "chat_prompt"),
    "help_abuse": ("example", "explanation"),
    "rapid_guessing": ("chat_prompt", "break_suggestion"),
    "low_confidence": ("explanation", "example", "break_suggestion"),
    "help_request": ("explanation", "example"),
    "idle": ("chat_prompt", "break_suggestion"),
    "long_dwell": ("explanation", "chat_prompt"),
    "rapid_scrolling": ("chat_prompt", "explanation"),
    "revisiting": ("explanation", "chat_prompt"),
}
# Reasons that are about knowing a concept: weak prerequisites and escalation apply.
CONCEPT_REASONS = frozenset({"wheel_spinning", "misconception", "repeated_error", "help_avoidance"})

MESSAGES: dict[str, tuple[str, str]] = {  # kind -> (offer text, label of the accept button)
    "hint": ("Would a hint help with this one?", "Show me a hint"),
    "explanation": ("Would a short summary of this concept help?", "Show the summary"),
    "example": ("Try a worked example before the next hint?", "Show an example"),
    "chat_prompt": ("Stuck? The Guide can help: tell it where you are.", "Ask the Guide"),
    "review_prompt": ("This builds on an earlier concept that is not solid yet. Reviewing it first may help.",
                      "Review it first"),
    "break_suggestion": ("You have been at this a while. A short break often helps.", "Take a break"),
    "instructor_note": ("This has been tough for a while. Shall we let your instructor know you would like some "
                        "help?", "Tell my instructor"),
}


@dataclass(frozen=True)
class Offer:
    """An intervention offered earlier in the session."""

    kind: str
    reason: str
    concept_id: str | None
    offered_ms: int
    outcome: str | None = None


@dataclass(frozen=True)
class Prerequisite:
    concept_id: str
    mastery: float | None = None   # the learner model's mastery (BKT)
    recall: float | None = None    # the memory model's recall probability today (FSRS)

    def level(self) -> float:
        return min(x for x in (self.mastery, self.recall, 1.0) if x is not None)


@dataclass(frozen=True)
class Choice:
    kind: str
    reason: Reason
    concept_id: str | None
    prerequisite: Prerequisite | None
    why: str
    features: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return MESSAGES[self.kind][0]

    @property
    def action(self) -> str:
        return MESSAGES[self.kind][1]


@dataclass(frozen=True)
class NoOffer:
    why: str   # not_struggling | pending_offer | daily_cap | min_gap | cooldown


def utc_day(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%d")


def is_pending(offer: Offer, now_ms: int, rules: Rules) -> bool:
    return offer.outcome is None and now_ms - offer.offered_ms < rules.ignore_after_s * 1000


def expired(offers: list[Offer], now_ms: int, rules: Rules) -> list[int]:
    """Indexes of offers without a reaction whose time is up (to be marked ignored)."""
    return [i for i, o in enumerate(offers) if o.outcome is None and not is_pending(o, now_ms, rules)]


def weakest_prerequisite(prerequisites: list[Prerequisite], rules: Rules) -> Prerequisite | None:
    """The weakest prerequisite below either threshold (low mastery or low recall)."""
    weak = [p for p in prerequisites
            if (p.mastery is not None and p.mastery < rules.prereq_mastery_min)
            or (p.recall is not None and p.recall < rules.prereq_recall_min)]
    return min(weak, key=lambda p: (p.level(), p.concept_id)) if weak else None


def why(reason: Reason) -> str:
    """The reason in the learner's words (every offer says why it was made)."""
    e = reason.evidence
    if reason.code == "wheel_spinning":
        return f"{e['attempts']} tries at this concept without {e['needed_streak']} right in a row."
    if reason.code == "misconception":
        return f"The same mistake came up {e['times']} times."
    if reason.code == "repeated_error":
        return f"{e['errors_in_a_row']} wrong answers in a row on this concept."
    if reason.code == "help_avoidance":
        return f"{e['errors_without_help']} wrong answers without asking for help."
    if reason.code == "help_abuse":
        return "Hints were asked for faster than they can be read."
    if reason.code == "rapid_guessing":
        return f"{e['rapid_guesses']} of the last {e['of_last']} answers came faster than the questions can be read."
    if reason.code == "low_confidence":
        times = e["expressions"]
        return "You told the Guide you were confused" + (f" {times} times." if times > 1 else ".")
    if reason.code == "help_request":
        return f"{e['questions']} questions to the Guide about {e.get('concept') or 'the same concept'}."
    if reason.code == "idle":
        return f"No activity for {_duration(e['idle_s'])}."
    if reason.code == "long_dwell":
        return f"{_duration(e['dwell_s'])} on the same part of the page."
    if reason.code == "rapid_scrolling":
        return "Scrolling fast past the content."
    return f"Coming back to the same part {e['revisits']} times."


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes else f"{int(seconds)} seconds"


def choose(assessment: Assessment, offers: list[Offer], now_ms: int, rules: Rules, *, offers_today: int,
           prerequisites: list[Prerequisite] = (), visible_to_instructors: bool = True,
           guide_available: bool = True) -> Choice | NoOffer:
    """The offer to make now, or why none. `offers` are this session's, oldest first;
    `offers_today` counts the learner's offers of the current UTC day (all sessions).
    Without the Guide where the learner is (chat consent off, or a graded activity it
    is off for) no chat_prompt is offered: it would open nothing."""
    if assessment.state != STRUGGLING or assessment.dominant is None:
        return NoOffer("not_struggling")
    if any(is_pending(o, now_ms, rules) for o in offers):
        return NoOffer("pending_offer")
    if offers_today >= rules.daily_cap:
        return NoOffer("daily_cap")
    if offers and now_ms - offers[-1].offered_ms < rules.min_gap_s * 1000:
        return NoOffer("min_gap")
    reason = assessment.dominant
    concept = reason.concept_id
    kinds = list(REMEDIES[reason.code])
    if reason.code == "idle" and reason.evidence.get("tier") == 3:
        kinds = ["break_suggestion", "chat_prompt"]  # gone this long: a break, not a question
    weakest = None
    escalated = False
    if reason.code in CONCEPT_REASONS and concept is not None:
        weakest = weakest_prerequisite(list(prerequisites), rules)
        earlier = sum(1 for o in offers if o.concept_id == concept)
        if earlier >= rules.escalate_after:
            escalated = True
            kinds = (["instructor_note"] if visible_to_instructors else []) + ["chat_prompt"] + kinds
        if weakest is not None:
            kinds.insert(0, "review_prompt")
    if not guide_available:
        kinds = [k for k in kinds if k != "chat_prompt"]
    last_of_kind = {o.kind: o.offered_ms for o in offers}
    for kind in dict.fromkeys(kinds):
        if kind in last_of_kind and now_ms - last_of_kind[kind] < rules.cooldown_for(kind) * 1000:
            continue
        prerequisite = weakest if kind == "review_prompt" else None
        features = {
            "score": assessment.score, "state": assessment.state, "dominant": reason.code,
            "reasons": [r.to_dict() for r in assessment.reasons], "concept_mastery": assessment.mastery,
            "offers_today": offers_today, "earlier_offers_on_concept": sum(1 for o in offers if o.concept_id == concept)
            if concept else 0, "escalated": escalated,
            "prerequisite": None if prerequisite is None else {
                "concept_id": prerequisite.concept_id, "mastery": prerequisite.mastery, "recall": prerequisite.recall},
            "thresholds": {"struggle_threshold": rules.struggle_threshold, "cooldown_s": rules.cooldown_for(kind),
                           "daily_cap": rules.daily_cap, "min_gap_s": rules.min_gap_s},
        }
        return Choice(kind, reason, concept, prerequisite, why(reason), features)
    return NoOffer("cooldown")
