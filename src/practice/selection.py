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


def choose(items: Iterable[Candidate], statuses: Mapping[str, ConceptStatus], recent: Sequence[str] = (),
           salt: int = 0, band: tuple[float, float] = (TARGET_LOW, TARGET_HIGH)) -> Choice | None:
    """The next item, or None when the activity has no items. `recent` are the item ids
    answered lately, oldest first (never chosen while another item can be; the last one
    only when it is the activity's only item). `salt` rotates ties (e.g. the attempt
    count), so equally good items take turns."""
    last = recent[-1] if recent else None
    recent_set = set(recent)
    fresh: dict[str, list[Candidate]] = {}
    stale: dict[str, list[Candidate]] = {}
    total = 0
    only: Candidate | None = None
    for item in items:
        if item.concept not in statuses:
            continue
        total += 1
        only = item
        if item.item_id not in recent_set:
            fresh.setdefault(item.concept, []).append(item)
        elif item.item_id != last:
            stale.setdefault(item.concept, []).append(item)
    if total == 0:
        return None

    def pool(concept: str) -> list[Candidate]:
        return fresh.get(concept) or stale.get(concept) or []

    concepts = [s for c, s in sorted(statuses.items()) if pool(c)]
    tiers = (
        ("review", sorted((s for s in concepts if s.due), key=lambda s: (s.recall, s.concept))),
        ("learn", sorted((s for s in concepts if not s.mastered and not s.missing and not s.due),
                         key=lambda s: (s.attempts == 0, -s.p_known, s.concept))),
        ("stretch", sorted((s for s in concepts if not s.mastered and s.missing and not s.due),
                           key=lambda s: (len(s.missing), s.concept))),
        ("practice", sorted((s for s in concepts if s.mastered and not s.due), key=lambda s: (s.recall, s.concept))),
    )
    for reason, ranked in tiers:
        if ranked:
            status = ranked[0]
            item, p = _best_item(pool(status.concept), status, salt, band)
            return Choice(item.item_id, item.concept, reason, p)
    # Only the item just answered is left.
    assert only is not None
    status = statuses[only.concept]
    return Choice(only.item_id, only.concept, "repeat", item_success(status.p_correct, only.difficulty,
                                                                     only.difficulty))


RECENT_KEEP = 5


def remember(recent: Sequence[str], item_id: str, keep: int = RECENT_KEEP) -> list[str]:
    """The recent list after answering `item_id` (oldest first, at most `keep`)."""
    out = [i for i in recent if i != item_id]
    out.append(item_id)
    return out[-keep:]
