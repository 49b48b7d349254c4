"""Judging a learner's explanation in a graded Guide conversation, pure: against the
question bank's expectations for a concept (expected concepts, the expected reasoning
path, common misconceptions), a score in [0, 1] per explanation, the best score per
concept, the activity's mastery score (0-100) and the concept to ask about next.

Matching is lexical and deterministic: words are lower-cased and lightly stemmed; an
expected concept counts when all its content words occur, a reasoning step when at least
half of its content words occur, a misconception when three quarters of its do. What is
missing is never reported to the learner (it would give the answer away): judgments
carry counts, not the missing terms."""

from __future__ import annotations

import re

MIN_WORDS = 6  # shorter messages are not explanations (greetings, "idk", a question)
CONCEPT_WEIGHT = 0.6
REASONING_WEIGHT = 0.4
MISCONCEPTION_PENALTY = 0.25

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an the of to in on at for and or but is are was were be been being it its this that these those with as "
    "by from into than then so if when which who whom what how why do does did can could will would should "
    "i you we they he she my your our their me us them not no yes there here also just very".split())


def stem(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("ly", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: len(word) - len(suffix)] + repl
    return word


def content_words(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(str(text).lower()) if w not in STOPWORDS]


def _share_present(phrase: str, words: set[str]) -> float:
    wanted = set(content_words(phrase))
    if not wanted:
        return 0.0
    return len(wanted & words) / len(wanted)


def expectation_for(concept: str, questions: list[dict], fallback_terms: list[str] | None = None) -> dict:
    """One concept's expectations merged from its questions in the bank; with no bank
    items, the concept's own name (and the given terms, e.g. its prerequisites)."""
    expected, reasoning, misconceptions = [], [], []
    for q in questions:
        if str(q.get("concept", "")).lower() != concept.lower():
            continue
        for term in q.get("expected_concepts") or []:
            if isinstance(term, str) and term and term not in expected:
                expected.append(term)
        for step in q.get("expected_reasoning_path") or []:
            if isinstance(step, str) and step and step not in reasoning:
                reasoning.append(step)
        for m in q.get("common_misconceptions") or []:
            text = m if isinstance(m, str) else (m.get("misconception") or m.get("text") if isinstance(m, dict) else None)
            if isinstance(text, str) and text and text not in misconceptions:
                misconceptions.append(text)
    if not expected:
        expected = [concept, *[t for t in (fallback_terms or []) if t]]
    return {"concept": concept, "expected_concepts": expected[:20], "reasoning": reasoning[:12],
            "misconceptions": misconceptions[:12]}


def judge_explanation(text: str, expectation: dict) -> dict:
    """How well `text` explains the expectation's concept: a score in [0, 1] and what
    it matched (the missing items are counted, not named)."""
    words = content_words(text)
    base = {"concept": expectation["concept"], "score": 0.0, "judged": False, "matched": [], "missing": 0,
            "reasoning_covered": 0, "reasoning_total": len(expectation.get("reasoning") or []), "misconceptions": []}
    if len(words) < MIN_WORDS:
        return {**base, "reason": "too_short"}
    present = set(words)
    expected = expectation.get("expected_concepts") or [expectation["concept"]]
    matched = [t for t in expected if _share_present(t, present) == 1.0]
    steps = expectation.get("reasoning") or []
    covered = sum(1 for s in steps if _share_present(s, present) >= 0.5)
    wrong = [m for m in expectation.get("misconceptions") or [] if _share_present(m, present) >= 0.75]
    concept_share = len(matched) / len(expected)
    coverage = (CONCEPT_WEIGHT * concept_share + REASONING_WEIGHT * covered / len(steps)) if steps else concept_share
    score = max(0.0, min(1.0, coverage - MISCONCEPTION_PENALTY * len(wrong)))
    return {**base, "score": round(score, 3), "judged": True, "matched": matched, "missing": len(expected) - len(matched),
            "reasoning_covered": covered, "misconceptions": wrong}


def judge_message(text: str, expectations: list[dict], focus: str | None) -> list[dict]:
    """The message judged against the concept the Guide asked about and any other
    concept of the activity it names (a learner may explain another one); the rest are
    left unjudged, so words shared between concepts do not credit one never explained."""
    lowered = str(text).lower()
    out = []
    for e in expectations:
        concept = e["concept"]
        named = re.search(r"(?<!\w)" + re.escape(concept.lower()) + r"(?!\w)", lowered) is not None
        if concept == focus or named:
            out.append(judge_explanation(text, e))
        else:
            out.append({"concept": concept, "score": 0.0, "judged": False, "matched": [], "missing": 0,
                        "reasoning_covered": 0, "reasoning_total": len(e.get("reasoning") or []),
                        "misconceptions": [], "reason": "not_addressed"})
    return out


def best_scores(scores: dict[str, float], judgments: list[dict]) -> dict[str, float]:
    """Each concept keeps its best judged score: a later weaker answer never lowers it."""
    out = dict(scores)
    for j in judgments:
        if j.get("judged"):
            out[j["concept"]] = max(out.get(j["concept"], 0.0), float(j["score"]))
    return out


def mastery_score(scores: dict[str, float], concepts: list[str]) -> float:
    """0-100: the mean best score over the activity's concepts (unexplained ones count 0)."""
    if not concepts:
        return 0.0
    return round(100 * sum(scores.get(c, 0.0) for c in concepts) / len(concepts), 2)


def next_focus(scores: dict[str, float], concepts: list[str], threshold: float) -> str | None:
    """The concept to ask about next: the weakest one under the threshold (0-100), in
    the activity's order on ties; None once every concept reaches it."""
    open_ = [c for c in concepts if 100 * scores.get(c, 0.0) < threshold]
    return min(open_, key=lambda c: (scores.get(c, 0.0), concepts.index(c))) if open_ else None


def activity_grade(grading_schema: str, mastery: float, explanations: int, target_explanations: int,
                   scores: dict[str, float], concepts: list[str], threshold: float) -> float:
    """The grade (0-100) a Guide conversation sends to the gradebook, by the activity's
    grading schema (seed 002): `mastery` is the share of concepts whose best explanation
    reaches the threshold, `percentage` the mastery score itself, `engagement` the judged
    explanations against a target."""
    if grading_schema == "engagement":
        return round(100 * min(1.0, explanations / max(1, target_explanations)), 2)
    if grading_schema == "percentage":
        return round(mastery, 2)
    if not concepts:
        return 0.0
    reached = sum(1 for c in concepts if 100 * scores.get(c, 0.0) >= threshold)
    return round(100 * reached / len(concepts), 2)
