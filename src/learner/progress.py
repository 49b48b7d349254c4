"""Mastery of a concept set as a gradebook score: the course score, whether it crossed
the activity's threshold, and the evidence a per-concept score comment states. Pure, so
activities (assessment_configs) can reuse it with their own thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_THRESHOLD = 80.0  # seed 002's mastery_threshold default, in percent


def course_score(concept_ids: Iterable[str], mastery: Mapping[str, float]) -> float:
    """Mean mastery over the concept set, in percent; a concept never practised counts 0."""
    ids = list(concept_ids)
    if not ids:
        return 0.0
    return round(100.0 * sum(max(0.0, min(1.0, mastery.get(c, 0.0))) for c in ids) / len(ids), 2)


@dataclass(frozen=True, slots=True)
class Crossing:
    reached: bool   # went from below the threshold to at or above it
    lost: bool      # went from at or above to below
    score: float
    threshold: float


def crossing(previous: float | None, current: float, threshold: float = DEFAULT_THRESHOLD) -> Crossing:
    """Did the score cross the threshold? A first score (no previous one) at or above the
    threshold counts as reached."""
    before = previous is not None and previous >= threshold
    after = current >= threshold
    return Crossing(after and not before, before and not after, current, threshold)


def evidence_comment(concept_name: str, attempts: int, correct: int, recent_accuracy: float,
                     last_practised: str | None, mastery: float) -> str:
    """What a per-concept gradebook score rests on, in one sentence for the comment."""
    when = (last_practised or "never")[:10]
    return (f"{concept_name}: mastery {round(100 * mastery)}% from {attempts} attempt(s), {correct} right; "
            f"recent accuracy {round(100 * recent_accuracy)}%; last practised {when}.")
