"""Checking a practice answer against its key, as pure functions (stdlib only): text
normalisation, numbers written in several ways, accepted alternatives, small-typo
tolerance, misconception feedback, and flashcard self-grades mapped onto FSRS grades."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

# FSRS grades as the learner model's scheduler numbers them (fsrs.Rating values).
AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4
# A flashcard self-grade: (credit for knowledge tracing, FSRS grade). Hard is a recall
# made with effort: mostly right for BKT, "Hard" for the memory schedule.
FLASHCARD_GRADES: dict[str, tuple[float, int]] = {
    "again": (0.0, AGAIN), "hard": (0.75, HARD), "good": (1.0, GOOD), "easy": (1.0, EASY)}
# Typo tolerance never goes beyond this many edits, whatever an activity asks for.
MAX_TYPO_TOLERANCE = 3
# Below this length an answer must be exact: "cat"/"cut", "4"/"5" are different answers.
TYPO_MIN_LENGTH = 4

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
                         "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
                         "\u2212": "-", "\u2044": "/", "\u2215": "/"})
_SPACES = re.compile(r"\s+")
_EDGE_PUNCT = "\"'`.,;:!?()[]{}<>"
_ARTICLE = re.compile(r"^(the|a|an)\s+(?=\S)")
MAX_NUMBER_CHARS = 64   # longer "numbers" are not numbers anyone types as an answer
MAX_EXPONENT = 400      # beyond a double's range either way
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_RATIO = re.compile(r"^([+-]?)(\d+)\s*/\s*(\d+)$")
_MIXED = re.compile(r"^([+-]?)(\d+)\s+(\d+)\s*/\s*(\d+)$")


def _vulgar_fractions(text: str) -> str:
    """'1½' -> '1 1/2' before NFKC (which would make it '11⁄2', eleven halves)."""
    out = []
    for ch in text:
        if unicodedata.category(ch) == "No" and "FRACTION" in unicodedata.name(ch, ""):
            value = Fraction(unicodedata.numeric(ch)).limit_denominator(1000)
            out.append(f" {value.numerator}/{value.denominator}")
        else:
            out.append(ch)
    return "".join(out)


def _unicode(text: str) -> str:
    return unicodedata.normalize("NFKC", _vulgar_fractions(text)).translate(_QUOTES)


def normalise(text: str) -> str:
    """The form answers are compared in: Unicode NFKC (full-width letters, ligatures),
    typographic quotes and dashes made plain, case folded, whitespace collapsed,
    punctuation at either end dropped, and a leading English article dropped."""
    t = _SPACES.sub(" ", _unicode(text or "").casefold()).strip()
    t = t.strip(_EDGE_PUNCT + " ")
    t = _ARTICLE.sub("", t)
    return t


def parse_number(text: str) -> Fraction | None:
    """An exact number from '0.5', '.5', '1/2', '½', '1 ½', '-3', '1,000', '2.5e3'; else None."""
    t = _SPACES.sub(" ", _unicode(text or "")).strip().rstrip(".")
    if not t or len(t) > MAX_NUMBER_CHARS:
        return None
    if _THOUSANDS.match(t):
        t = t.replace(",", "")
    try:
        m = _NUMBER.match(t)
        if m:
            # Fraction('1e10000000') computes 10**10000000 exactly: seconds of CPU for a
            # short answer. No answer key needs an exponent beyond this.
            if m.group(3) and abs(int(m.group(3)[1:])) > MAX_EXPONENT:
                return None
            return Fraction(t)
        m = _RATIO.match(t)
        if m:
            sign, num, den = m.groups()
            return None if int(den) == 0 else Fraction(int(num), int(den)) * (-1 if sign == "-" else 1)
        m = _MIXED.match(t)
        if m:
            sign, whole, num, den = m.groups()
            if int(den) == 0:
                return None
            return (int(whole) + Fraction(int(num), int(den))) * (-1 if sign == "-" else 1)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return None


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap two neighbours:
    one edit each), or `limit + 1` as soon as it must exceed `limit`."""
    if a == b:
        return 0
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


def allowed_typos(expected: str, tolerance: int) -> int:
    """Edits forgiven for this expected answer: none under 4 characters, then one per 4
    characters (4-7: 1, 8-11: 2, 12+: 3), never more than the activity's tolerance (0-3)."""
    tolerance = max(0, min(MAX_TYPO_TOLERANCE, int(tolerance)))
    if len(expected) < TYPO_MIN_LENGTH:
        return 0
    return min(tolerance, len(expected) // 4)


@dataclass(frozen=True, slots=True)
class Misconception:
    answer: str
    feedback: str


@dataclass(frozen=True, slots=True)
class Verdict:
    correct: bool
    credit: float
    # exact | alternative | numeric | typo | misconception | wrong | blank
    outcome: str
    feedback: str
    matched: str | None = None          # the accepted answer the response matched
    misconception: str | None = None    # the misconception answer it matched


def _numbers_equal(a: Fraction, b: Fraction, tolerance: float) -> bool:
    if tolerance <= 0:
        return a == b
    return abs(float(a - b)) <= tolerance


def check_fill_blank(response: str, accepted: list[str], misconceptions: list[Misconception] = (),
                     typo_tolerance: int = 1, numeric_tolerance: float = 0.0) -> Verdict:
    """Judges a fill-in-the-blank response. Order: an accepted answer (or alternative) as
    normalised; a misconception's answer; the same number written another way; then a
    small typo of an accepted answer, unless a misconception is strictly closer."""
    r = normalise(response)
    if not r:
        return Verdict(False, 0.0, "blank", "No answer was given.")
    keys = [(a, normalise(a)) for a in accepted if normalise(a)]
    for i, (raw, key) in enumerate(keys):
        if r == key:
            return Verdict(True, 1.0, "exact" if i == 0 else "alternative", "Correct.", matched=raw)
    wrong = [(m, normalise(m.answer)) for m in misconceptions if normalise(m.answer)]
    for m, key in wrong:
        if r == key:
            return Verdict(False, 0.0, "misconception", m.feedback, misconception=m.answer)
    number = parse_number(response)
    if number is not None:
        for raw, _key in keys:
            value = parse_number(raw)
            if value is not None and _numbers_equal(number, value, numeric_tolerance):
                return Verdict(True, 1.0, "numeric", "Correct.", matched=raw)
        for m, _key in wrong:
            value = parse_number(m.answer)
            if value is not None and _numbers_equal(number, value, numeric_tolerance):
                return Verdict(False, 0.0, "misconception", m.feedback, misconception=m.answer)
        return Verdict(False, 0.0, "wrong", "Not quite.")
    best: tuple[int, str] | None = None
    for raw, key in keys:
        if parse_number(raw) is not None:
            continue  # numbers are never "nearly" right
        limit = allowed_typos(key, typo_tolerance)
        if limit and (d := edit_distance(r, key, limit)) <= limit and (best is None or d < best[0]):
            best = (d, raw)
    if best is not None:
        for m, key in wrong:
            limit = allowed_typos(key, typo_tolerance)
            if limit and edit_distance(r, key, limit) < best[0]:
                return Verdict(False, 0.0, "misconception", m.feedback, misconception=m.answer)
        return Verdict(True, 1.0, "typo", f"Correct. Check the spelling: “{best[1]}”.", matched=best[1])
    for m, key in wrong:
        limit = allowed_typos(key, typo_tolerance)
        if limit and edit_distance(r, key, limit) <= limit:
            return Verdict(False, 0.0, "misconception", m.feedback, misconception=m.answer)
    return Verdict(False, 0.0, "wrong", "Not quite.")


@dataclass(frozen=True, slots=True)
class FlashcardGrade:
    name: str
    credit: float
    rating: int  # the FSRS grade: 1 Again, 2 Hard, 3 Good, 4 Easy


def flashcard_grade(grade: str) -> FlashcardGrade:
    """A learner's self-grade of a flashcard ('again', 'hard', 'good', 'easy', any case).
    Raises ValueError for anything else."""
    name = (grade or "").strip().casefold()
    if name not in FLASHCARD_GRADES:
        raise ValueError(f"a flashcard grade is one of {', '.join(FLASHCARD_GRADES)}")
    credit, rating = FLASHCARD_GRADES[name]
    return FlashcardGrade(name, credit, rating)


BLANK = re.compile(r"_{3,}")


def has_blank(prompt: str) -> bool:
    """A fill-in-the-blank prompt marks the gap with three or more underscores."""
    return bool(BLANK.search(prompt or ""))
