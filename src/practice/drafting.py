"""The offline drafting algorithm (pure, deterministic): course text in, draft items out.

1. The text is split into sentences.
2. Definitions are found: "Term — definition", "Term: definition", "Term is/are a ...",
   "Term means ...", "Term refers to ...", "Term is defined as ...".
3. Key terms are ranked: defined terms first, then content words and two-word phrases that
   recur across sentences (stopwords and short words left out).
4. Flashcards: one per definition (front: the term, back: the definition).
   Cloze (fill_blank) items: a sentence with a key term blanked out; the answer is the term
   (and its singular/plural); hints by level (length and first letter, the definition when
   the sentence is not the definition itself, the first half of the term); the other key
   terms of the text as misconceptions with feedback naming what they are instead.
5. Each item goes to the activity concept whose name shares most words with its sentence
   (the first concept when none does); difficulty from sentence length and how often the
   term occurs (rarer and longer is harder).

The same text always gives the same items, so drafts are cached by content hash."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

ALGORITHM = "atomic-guide-cloze/1"
MAX_DRAFT_ITEMS = 30
MAX_TEXT = 20_000

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just more most my myself no nor
not now of off on once only or other our ours ourselves out over own same she should so some such than that
the their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves called
defined means refers known used using uses use one two three many much may might must shall often usually
however therefore thus also within without whose every another either neither each whether
""".split())

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"“(]?[A-Z0-9])|\n{2,}|\n(?=\s*[-*•]\s)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
_TERM = r"(?P<term>[A-Za-z][A-Za-z0-9'’ -]{1,60}?)"
_DEFINITIONS = [
    re.compile(rf"^\s*[-*•]?\s*{_TERM}\s*(?:—|–|--| - |:)\s*(?P<definition>.{{8,}})$"),
    re.compile(rf"^\s*{_TERM}\s+(?:is|are)\s+defined\s+as\s+(?P<definition>.{{5,}})$", re.I),
    re.compile(rf"^\s*{_TERM}\s+(?:means|refers\s+to)\s+(?P<definition>.{{5,}})$", re.I),
    re.compile(rf"^\s*{_TERM}\s+(?:is|are)\s+(?P<definition>(?:a|an|the)\s+.{{5,}})$", re.I),
]


@dataclass(frozen=True)
class Definition:
    term: str
    definition: str
    sentence: int  # index of the sentence it came from


def sentences(text: str) -> list[str]:
    out = []
    for part in _SENTENCE.split(text or ""):
        s = re.sub(r"\s+", " ", part).strip()
        if len(s) >= 12:
            out.append(s)
    return out


def _clean_term(term: str) -> str | None:
    t = re.sub(r"^(the|a|an)\s+", "", term.strip(" '\"“”‘’"), flags=re.I).strip()
    words = _WORD.findall(t)
    if not words or len(words) > 5 or len(t) < 3:
        return None
    if all(w.lower() in STOPWORDS for w in words):
        return None
    return t


def definitions(sents: list[str]) -> list[Definition]:
    out: list[Definition] = []
    seen: set[str] = set()
    for i, s in enumerate(sents):
        for pattern in _DEFINITIONS:
            m = pattern.match(s)
            if not m:
                continue
            term = _clean_term(m.group("term"))
            definition = m.group("definition").strip().rstrip(".").strip()
            if term and definition and term.lower() not in seen:
                seen.add(term.lower())
                out.append(Definition(term, definition[0].upper() + definition[1:], i))
            break
    return out


def _variants(term: str) -> list[str]:
    """The term and its simple plural/singular, as accepted answers."""
    t = term.strip()
    low = t.lower()
    out = [t]
    if low.endswith(("is", "us", "ss", "um", "on", "a", "i", "o", "u")):
        pass  # Latin/Greek endings (analysis, stimulus, stomata): no guessing
    elif low.endswith("ies") and len(t) > 4:
        out.append(t[:-3] + "y")
    elif low.endswith("es") and low[-3:-2] in ("s", "x", "z", "h"):
        out.append(t[:-2])
    elif low.endswith("s") and len(t) > 3:
        out.append(t[:-1])
    elif low.endswith("y") and low[-2:-1] not in "aeiou":
        out.append(t[:-1] + "ies")
    elif low.endswith(("x", "z", "ch", "sh")):
        out.append(t + "es")
    else:
        out.append(t + "s")
    return list(dict.fromkeys(out))


def _occurs(term: str, sentence: str) -> re.Match | None:
    return re.search(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", sentence, re.I)


def key_terms(sents: list[str], defs: list[Definition], limit: int = 40) -> list[str]:
    """Defined terms first, then recurring content words/phrases, by how many sentences use them."""
    terms = [d.term for d in defs]
    counts: Counter[str] = Counter()
    display: dict[str, str] = {}
    for s in sents:
        words = _WORD.findall(s)
        seen: set[str] = set()
        for n in (1, 2):
            for k in range(len(words) - n + 1):
                gram = words[k:k + n]
                lowered = [w.lower() for w in gram]
                if any(w in STOPWORDS for w in lowered) or any(len(w) < 4 for w in lowered):
                    continue
                if n == 1 and len(lowered[0]) < 6:
                    continue
                key = " ".join(lowered)
                if key not in seen:
                    seen.add(key)
                    counts[key] += 1
                    display.setdefault(key, " ".join(gram))
    known = {t.lower() for t in terms}
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0])):
        if n < 2 or key in known or any(key in k or k in key for k in known):
            continue
        terms.append(display[key])
        known.add(key)
        if len(terms) >= limit:
            break
    return terms


def _concept_for(sentence: str, concepts: list[tuple[str, str]]) -> str:
    words = {w.lower() for w in _WORD.findall(sentence)}
    best, best_n = concepts[0][0], 0
    for cid, name in concepts:
        n = len(words & {w.lower() for w in _WORD.findall(name) if w.lower() not in STOPWORDS})
        if n > best_n:
            best, best_n = cid, n
    return best


def _difficulty(sentence: str, term: str, frequency: int, defined: bool) -> int:
    words = len(_WORD.findall(sentence))
    d = 3 + (words > 18) + (words > 30) + (len(term) > 10) + (frequency <= 1) + (not defined)
    return max(1, min(10, d))


def _hints(term: str, definition: str | None, in_definition: bool) -> list[str]:
    letters = len(term.replace(" ", ""))
    words = len(term.split())
    shape = f"{words} words" if words > 1 else f"{letters} letters"
    hints = [f"The missing term has {shape} and starts with “{term[0].upper()}”."]
    if definition and not in_definition:
        hints.append(f"It means: {definition}.")
    half = max(1, len(term) // 2)
    hints.append(f"It begins “{term[:half]}…”.")
    return hints


def draft(text: str, kind: str, concepts: list[tuple[str, str]], limit: int = MAX_DRAFT_ITEMS) -> list[dict]:
    """Draft items (import-format dicts, see practice/items.py) from course text.
    `kind` is "flashcard" or "fill_blank"; `concepts` are (id, name) of the activity."""
    if not concepts:
        return []
    sents = sentences((text or "")[:MAX_TEXT])
    defs = definitions(sents)
    if kind == "flashcard":
        out = []
        for d in defs[:limit]:
            out.append({"format": "flashcard", "concept": _concept_for(d.term + " " + d.definition, concepts),
                        "front": d.term[0].upper() + d.term[1:], "back": d.definition[:500],
                        "difficulty": _difficulty(d.definition, d.term, 1, True), "bloom": "remember",
                        "hints": [], "misconceptions": []})
        return out
    terms = key_terms(sents, defs)
    meaning = {d.term.lower(): d.definition for d in defs}
    defined_at = {d.term.lower(): d.sentence for d in defs}
    frequency = {t.lower(): sum(1 for s in sents if _occurs(t, s)) for t in terms}
    out: list[dict] = []
    used_sentences: set[int] = set()
    used_terms: Counter[str] = Counter()
    # Definition sentences first (the term blanked where it is defined), then other sentences.
    order = sorted(range(len(sents)), key=lambda i: (i not in defined_at.values(), i))
    for i in order:
        if len(out) >= limit:
            break
        s = sents[i]
        for term in sorted(terms, key=lambda t: (used_terms[t.lower()], t.lower() not in meaning, terms.index(t))):
            m = _occurs(term, s)
            if m is None or i in used_sentences:
                continue
            if used_terms[term.lower()] >= 2:
                continue
            prompt = s[:m.start()] + "_____" + s[m.end():]
            if len(prompt.strip(" _.")) < 12:
                continue
            found = s[m.start():m.end()]
            others = [t for t in terms if t.lower() != term.lower() and not _occurs(t, s)
                      and t.lower() not in term.lower() and term.lower() not in t.lower()][:3]
            misconceptions = [{"answer": o, "feedback": f"“{o}” is a different term"
                               + (f": {meaning[o.lower()][0].lower() + meaning[o.lower()][1:]}." if o.lower() in meaning
                                  else " from this text.")} for o in others]
            in_definition = defined_at.get(term.lower()) == i
            out.append({"format": "fill_blank", "concept": _concept_for(s, concepts), "prompt": prompt[:2000],
                        "answers": _variants(found), "difficulty": _difficulty(s, term, frequency[term.lower()],
                                                                             term.lower() in meaning),
                        "bloom": "remember" if in_definition else "understand",
                        "hints": _hints(found, meaning.get(term.lower()), in_definition),
                        "misconceptions": misconceptions})
            used_sentences.add(i)
            used_terms[term.lower()] += 1
            break
    return out
