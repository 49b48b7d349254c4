"""An activity's grade as pure functions, by the activity's grading schema (seed 002):
`mastery` (share of the activity's concepts mastered), `percentage` (share of answers
right) and `engagement` (items attempted against a target); and whether the activity is
mastered (its concepts mastered to the activity's threshold)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SCHEMAS = ("mastery", "percentage", "engagement")


@dataclass(frozen=True, slots=True)
class ActivityGrade:
    score: float              # 0..100, two decimals: what goes to the gradebook
    concepts_mastered: int
    concept_count: int
    mastered: bool            # share of concepts mastered reached the threshold
    attempts: int
    correct: int


def mastery_share(concepts: Iterable[str], mastered: set[str]) -> tuple[int, int, float]:
    ids = list(dict.fromkeys(concepts))
    done = sum(1 for c in ids if c in mastered)
    return done, len(ids), (100.0 * done / len(ids)) if ids else 0.0


def grade(schema: str, concepts: Iterable[str], mastered: set[str], attempts: int, correct: int,
          threshold: float, engagement_target: int) -> ActivityGrade:
    if schema not in SCHEMAS:
        raise ValueError(f"grading schema must be one of {', '.join(SCHEMAS)}")
    done, count, share = mastery_share(concepts, mastered)
    if schema == "mastery":
        score = share
    elif schema == "percentage":
        score = 100.0 * correct / attempts if attempts else 0.0
    else:
        score = 100.0 * min(1.0, attempts / max(1, engagement_target))
    reached = count > 0 and share >= threshold
    return ActivityGrade(round(max(0.0, min(100.0, score)), 2), done, count, reached, attempts, correct)


def comment(g: ActivityGrade, schema: str, threshold: float) -> str:
    """The sentence a gradebook score carries: what the grade rests on."""
    basis = {"mastery": "share of concepts mastered", "percentage": "share of answers right",
             "engagement": "items attempted against the target"}[schema]
    state = "mastered" if g.mastered else "in progress"
    return (f"{g.score:g}% ({basis}). {g.concepts_mastered} of {g.concept_count} concept(s) mastered "
            f"(threshold {threshold:g}%), {g.attempts} answer(s), {g.correct} right; activity {state}.")
