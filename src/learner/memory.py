"""Spaced repetition: the memory state of a learner-concept scheduled by FSRS (the pure
Python `fsrs` package, fuzzing off so the same answers give the same dates), the recall
probability today, the half-life the memory model implies, and the seed's SM-2 columns
derived from it for compatibility. Pure: time is an argument."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fsrs import Card, Rating, Scheduler, State

DESIRED_RETENTION = 0.9
# A mastered concept whose recall probability is below this is shown as fading and due.
FADING_BELOW = DESIRED_RETENTION
# The review queue is in days: practice within a session is the tutor's business, so no
# minute-long learning steps.
SCHEDULER = Scheduler(desired_retention=DESIRED_RETENTION, learning_steps=(), relearning_steps=(),
                      enable_fuzzing=False)
_DECAY = -SCHEDULER.parameters[20]
_FACTOR = 0.9 ** (1 / _DECAY) - 1
_CARD_ID = 1  # FSRS cards need an id; one card per row, so any constant does
SM2_EF_MAX = 2.5
SM2_EF_MIN = 1.3


@dataclass(frozen=True, slots=True)
class Memory:
    """FSRS memory: stability (days until recall drops to 90%), difficulty (1..10),
    state (1 learning, 2 review, 3 relearning), the last review and the next one."""

    stability: float | None = None
    difficulty: float | None = None
    state: int = 1
    step: int | None = 0
    last_review: datetime | None = None
    due: datetime | None = None

    @property
    def reviewed(self) -> bool:
        return self.last_review is not None and self.stability is not None


def rating_for(credit: float, hints: int = 0, response_time_s: float | None = None,
               typical_time_s: float | None = None) -> Rating:
    """Again for a wrong answer, Hard for partial credit or a hinted one, Easy for a full
    answer without hints in under half the item's typical time, Good otherwise."""
    if credit < 0.5:
        return Rating.Again
    if credit < 0.8 or hints > 0:
        return Rating.Hard
    if (credit >= 1.0 and response_time_s is not None and typical_time_s
            and response_time_s <= 0.5 * typical_time_s):
        return Rating.Easy
    return Rating.Good


def _card(memory: Memory, now: datetime) -> Card:
    return Card(card_id=_CARD_ID, state=State(memory.state), step=memory.step, stability=memory.stability,
                difficulty=memory.difficulty, due=memory.due or now, last_review=memory.last_review)


def review(memory: Memory, rating: Rating, now: datetime) -> Memory:
    """The memory after one review at `now` (UTC, timezone-aware)."""
    card, _log = SCHEDULER.review_card(_card(memory, now), rating, review_datetime=now)
    return Memory(card.stability, card.difficulty, int(card.state.value), card.step, card.last_review, card.due)


def recall_probability(memory: Memory, now: datetime) -> float:
    """P(recalled at `now`) by FSRS's forgetting curve; 0 when never reviewed."""
    if not memory.reviewed:
        return 0.0
    return float(SCHEDULER.get_card_retrievability(_card(memory, now), current_datetime=now))


def half_life_days(stability: float | None) -> float | None:
    """Days until recall probability falls to 50%: R(t) = (1 + F*t/S)^-d solved for 0.5."""
    if stability is None or stability <= 0:
        return None
    return stability / _FACTOR * (0.5 ** (1 / _DECAY) - 1)


def decay_rate(stability: float | None) -> float | None:
    """The exponential decay rate with the same half-life (retention_tracking.decay_rate)."""
    h = half_life_days(stability)
    return math.log(2) / h if h else None


def sm2_columns(memory: Memory) -> dict:
    """The seed's SM-2 columns, derived: the interval FSRS scheduled (whole days) and an
    easiness factor mapped linearly from FSRS difficulty (1 -> 2.5, 10 -> 1.3)."""
    interval = 1
    if memory.due is not None and memory.last_review is not None:
        interval = max(0, round((memory.due - memory.last_review).total_seconds() / 86400))
    ef = SM2_EF_MAX
    if memory.difficulty is not None:
        ef = SM2_EF_MAX - (min(10.0, max(1.0, memory.difficulty)) - 1.0) * (SM2_EF_MAX - SM2_EF_MIN) / 9.0
    return {"repetition_interval_days": interval, "easiness_factor": round(ef, 4)}


def status(mastered: bool, attempts: int, recall: float) -> str:
    """not_started, learning, mastered, or fading (mastered, but recall below the threshold:
    scheduled for review, mastery not taken away)."""
    if attempts == 0:
        return "not_started"
    if not mastered:
        return "learning"
    return "fading" if recall < FADING_BELOW else "mastered"


def is_due(memory: Memory, mastered: bool, now: datetime) -> bool:
    if not memory.reviewed:
        return False
    if memory.due is not None and memory.due <= now:
        return True
    return mastered and recall_probability(memory, now) < FADING_BELOW


# -- time as stored in D1 ----------------------------------------------------------------

def from_epoch_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ms))


def to_iso(when: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as every timestamp in D1."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
