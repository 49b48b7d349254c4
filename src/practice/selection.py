"""The next practice item, as a pure function over the learner's state and the activity's
items: reviews that are due first, then concepts whose prerequisites are mastered, at a
difficulty whose predicted success is in a target band, never the item just answered.
One pass over the items (O(n)), so a bank of thousands is chosen from in milliseconds."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Predicted success worth practising at: neither trivial nor hopeless (desirable
# difficulty; the band of adaptive practice systems that aim near 70-80% success).
TARGET_LOW = 0.60
TARGET_HIGH = 0.85
TARGET = 0.72
# Logits one difficulty level (1..10) moves an item's predicted success away from the
# concept's average item.
ITEM_STEP = 0.35
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class Candidate:
    item_id: str
    concept: str
    difficulty: int  # 1..10


@dataclass(frozen=True, slots=True)
class ConceptStatus:
    """What the learner model says about the learner and one concept of the activity."""

    concept: str
    p_correct: float            # predicted P(right) on the concept's average item
    mastered: bool = False
    due: bool = False           # a spaced review is due (or the mastery is fading)
    recall: float = 0.0         # FSRS recall probability now (0 when never reviewed)
    missing: tuple[str, ...] = ()  # prerequisites not mastered yet
    attempts: int = 0
    p_known: float = 0.0


@dataclass(frozen=True, slots=True)
class Choice:
    item_id: str
    concept: str
    reason: str        # review | learn | stretch | practice | repeat
    predicted: float   # predicted P(right) on this item


def _logit(p: float) -> float:
    p = min(1 - _EPS, max(_EPS, p))
    return math.log(p / (1 - p))


def item_success(p_concept: float, difficulty: int, mean_difficulty: float) -> float:
    """The concept's predicted success moved by the item's difficulty relative to the
    concept's average item (ITEM_STEP logits per level)."""
    z = _logit(p_concept) - ITEM_STEP * (difficulty - mean_difficulty)
    return 1.0 / (1.0 + math.exp(-z)) if z >= -700 else 0.0


def _tiebreak(item_id: str, salt: int) -> int:
    return zlib.crc32(f"{salt}:{item_id}".encode())


def _best_item(items: list[Candidate], status: ConceptStatus, salt: int,
               band: tuple[float, float]) -> tuple[Candidate, float]:
    mean = sum(i.difficulty for i in items) / len(items)
    target = min(max(TARGET, band[0]), band[1])
    best: tuple[tuple, Candidate, float] | None = None
    for item in items:
        p = item_success(status.p_correct, item.difficulty, mean)
        key = (0 if band[0] <= p <= band[1] else 1, round(abs(p - target), 9), _tiebreak(item.item_id, salt))
        if best is None or key < best[0]:
            best = (key, item, p)
    assert best is not None
    return best[1], best[2]


def rank(statuses: Mapping[str, ConceptStatus]) -> list[tuple[str, ConceptStatus]]:
    """The concepts in the order they are practised, each with the tier that puts it
    there: due reviews (least recalled first), then concepts whose prerequisites are all
    mastered (the one in progress furthest along first), then the nearest to ready, then
    mastered ones (least recalled first)."""
    ordered = sorted(statuses.values(), key=lambda s: s.concept)
    tiers = (
        ("review", sorted((s for s in ordered if s.due), key=lambda s: (s.recall, s.concept))),
        ("learn", sorted((s for s in ordered if not s.mastered and not s.missing and not s.due),
                         key=lambda s: (s.attempts == 0, -s.p_known, s.concept))),
        ("stretch", sorted((s for s in ordered if not s.mastered and s.missing and not s.due),
                           key=lambda s: (len(s.missing), s.concept))),
        ("practice", sorted((s for s in ordered if s.mastered and not s.due), key=lambda s: (s.recall, s.concept))),
    )
    return [(reason, s) for reason, ranked in tiers for s in ranked]


def pick(items: Iterable[Candidate], status: ConceptStatus, recent: Sequence[str] = (), salt: int = 0,
         band: tuple[float, float] = (TARGET_LOW, TARGET_HIGH)) -> tuple[Candidate, float] | None:
    """The item of one concept to practise (items not answered lately first, never the
    last one answered), or None when the concept offers none."""
    last = recent[-1] if recent else None
    recent_set = set(recent)
    fresh: list[Candidate] = []
    stale: list[Candidate] = []
    for item in items:
        if item.concept != status.concept:
            continue
        if item.item_id not in recent_set:
            fresh.append(item)
        elif item.item_id != last:
            stale.append(item)
    pool = fresh or stale
    return _best_item(pool, status, salt, band) if pool else None


def choose(items: Iterable[Candidate], statuses: Mapping[str, ConceptStatus], recent: Sequence[str] = (),
           salt: int = 0, band: tuple[float, float] = (TARGET_LOW, TARGET_HIGH)) -> Choice | None:
    """The next item, or None when the activity has no items. `recent` are the item ids
    answered lately, oldest first (never chosen while another item can be; the last one
    only when it is the activity's only item). `salt` rotates ties (e.g. the attempt
    count), so equally good items take turns. The service does the same concept by concept
    (rank, then pick), reading only the items of the concept it tries."""
    by_concept: dict[str, list[Candidate]] = {}
    for item in items:
        if item.concept in statuses:
            by_concept.setdefault(item.concept, []).append(item)
    if not by_concept:
        return None
    for reason, status in rank(statuses):
        found = pick(by_concept.get(status.concept, ()), status, recent, salt, band)
        if found is not None:
            return Choice(found[0].item_id, found[0].concept, reason, found[1])
    return repeat(recent[-1] if recent else None, by_concept, statuses)


def repeat(last: str | None, by_concept: Mapping[str, list[Candidate]],
           statuses: Mapping[str, ConceptStatus]) -> Choice | None:
    """Only the item just answered is left: it comes again."""
    for items in by_concept.values():
        for item in items:
            if item.item_id == last or last is None:
                status = statuses[item.concept]
                return Choice(item.item_id, item.concept, "repeat",
                              item_success(status.p_correct, item.difficulty, item.difficulty))
    return None


RECENT_KEEP = 5


def remember(recent: Sequence[str], item_id: str, keep: int = RECENT_KEEP) -> list[str]:
    """The recent list after answering `item_id` (oldest first, at most `keep`)."""
    out = [i for i in recent if i != item_id]
    out.append(item_id)
    return out[-keep:]
