"""Question-bank items as pure data: parsing an import file (JSON or CSV) with every bad
row reported by its line, validating one item (the same rules for imports, instructor
edits and drafted items), and the stored form of an item. No I/O; concept existence is
checked by the service against the tenant's graph."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

from practice.answers import has_blank

FORMATS = ("fill_blank", "flashcard")
BLOOM = ("remember", "understand", "apply", "analyze", "evaluate", "create")
MAX_ITEMS = 500
MAX_ANSWERS = 20
MAX_HINTS = 5
MAX_MISCONCEPTIONS = 10
MAX_ALSO = 5
MAX_TEXT = 2000
MAX_SHORT = 200
CONCEPT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
FIELDS = ("format", "concept", "also_concepts", "prompt", "answers", "front", "back", "difficulty", "bloom",
          "hints", "misconceptions", "estimated_time_seconds", "numeric_tolerance", "ref", "approved")
CSV_REQUIRED = ("format", "concept")


@dataclass(frozen=True)
class Problem:
    """One reason an item (or the file) is refused: where, which field, what is wrong."""

    line: int | None
    item: int | None
    field: str | None
    problem: str

    def as_dict(self) -> dict:
        return {"line": self.line, "item": self.item, "field": self.field, "problem": self.problem}


@dataclass(frozen=True)
class ItemSpec:
    """A valid item, as the bank stores it."""

    format: str
    concept: str
    also_concepts: tuple[str, ...] = ()
    prompt: str = ""            # fill_blank: the sentence with the gap (___)
    answers: tuple[str, ...] = ()
    front: str = ""             # flashcard
    back: str = ""
    difficulty: int = 5
    bloom: str = "remember"
    hints: tuple[str, ...] = ()  # by level: the first is the gentlest
    misconceptions: tuple[tuple[str, str], ...] = ()  # (wrong answer, its feedback)
    estimated_time_seconds: int | None = None
    numeric_tolerance: float = 0.0
    ref: str | None = None
    approved: bool = True

    @property
    def concepts(self) -> tuple[str, ...]:
        return (self.concept, *[c for c in self.also_concepts if c != self.concept])

    @property
    def question_text(self) -> str:
        return self.prompt if self.format == "fill_blank" else self.front

    def answer_key(self) -> dict:
        if self.format == "fill_blank":
            return {"answers": list(self.answers), "numeric_tolerance": self.numeric_tolerance}
        return {"back": self.back}

    def as_document(self) -> dict:
        """The item as an import file (and the API) writes it."""
        doc: dict = {"format": self.format, "concept": self.concept}
        if self.also_concepts:
            doc["also_concepts"] = list(self.also_concepts)
        if self.format == "fill_blank":
            doc.update(prompt=self.prompt, answers=list(self.answers))
            if self.numeric_tolerance:
                doc["numeric_tolerance"] = self.numeric_tolerance
        else:
            doc.update(front=self.front, back=self.back)
        doc.update(difficulty=self.difficulty, bloom=self.bloom, hints=list(self.hints),
                   misconceptions=[{"answer": a, "feedback": f} for a, f in self.misconceptions])
        if self.estimated_time_seconds is not None:
            doc["estimated_time_seconds"] = self.estimated_time_seconds
        if self.ref is not None:
            doc["ref"] = self.ref
        doc["approved"] = self.approved
        return doc


@dataclass
class Parsed:
    items: list[tuple[int | None, int, ItemSpec]] = field(default_factory=list)  # (line, item no., spec)
    problems: list[Problem] = field(default_factory=list)


# -- one item ------------------------------------------------------------------------------

def _text(raw, name: str, out: list, required: bool = False, limit: int = MAX_TEXT) -> str:
    if raw is None or raw == "":
        if required:
            out.append((name, "is required"))
        return ""
    if not isinstance(raw, str):
        out.append((name, "must be text"))
        return ""
    value = raw.strip()
    if required and not value:
        out.append((name, "is required"))
    if len(value) > limit:
        out.append((name, f"is longer than {limit} characters"))
    if "\x00" in value:
        out.append((name, "contains a NUL character"))
    return value


def _int(raw, name: str, lo: int, hi: int, default: int | None, out: list) -> int | None:
    if raw is None or raw == "":
        return default
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            out.append((name, f"must be a whole number from {lo} to {hi}"))
            return default
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != int(raw) or not lo <= raw <= hi:
        out.append((name, f"must be a whole number from {lo} to {hi}"))
        return default
    return int(raw)


def _list(raw, name: str, limit: int, out: list, item_limit: int = MAX_SHORT) -> list[str]:
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        out.append((name, "must be a list of texts"))
        return []
    values = [x.strip() for x in raw if x.strip()]
    if len(values) > limit:
        out.append((name, f"has more than {limit} entries"))
    if any(len(x) > item_limit for x in values):
        out.append((name, f"has an entry longer than {item_limit} characters"))
    return values[:limit]


def validate(raw: dict) -> tuple[ItemSpec | None, list[tuple[str, str]]]:
    """(the item, []) or (None, [(field, problem), ...]). Unknown fields are refused."""
    out: list[tuple[str, str]] = []
    if not isinstance(raw, dict):
        return None, [(None, "an item must be an object")]  # type: ignore[list-item]
    for name in sorted(set(raw) - set(FIELDS)):
        out.append((name, "is not a field of an item"))
    fmt = raw.get("format")
    if fmt not in FORMATS:
        out.append(("format", f"must be one of {', '.join(FORMATS)}"))
    concept = raw.get("concept")
    if not isinstance(concept, str) or not CONCEPT_ID.match(concept):
        out.append(("concept", "must be a concept id (letters, digits, . _ : -; up to 100)"))
        concept = ""
    also = _list(raw.get("also_concepts"), "also_concepts", MAX_ALSO, out, 100)
    if any(not CONCEPT_ID.match(c) for c in also):
        out.append(("also_concepts", "must be concept ids"))
    prompt = answers = front = back = None
    if fmt == "fill_blank":
        prompt = _text(raw.get("prompt"), "prompt", out, required=True)
        if prompt and not has_blank(prompt):
            out.append(("prompt", "must mark the gap with three or more underscores (___)"))
        answers = _list(raw.get("answers"), "answers", MAX_ANSWERS, out)
        if not answers:
            out.append(("answers", "needs at least one accepted answer"))
        for name in ("front", "back"):
            if raw.get(name) not in (None, ""):
                out.append((name, "belongs to flashcards, not fill_blank items"))
    elif fmt == "flashcard":
        front = _text(raw.get("front"), "front", out, required=True)
        back = _text(raw.get("back"), "back", out, required=True)
        for name in ("prompt", "answers"):
            if raw.get(name) not in (None, "", []):
                out.append((name, "belongs to fill_blank items, not flashcards"))
    difficulty = _int(raw.get("difficulty"), "difficulty", 1, 10, 5, out)
    bloom = raw.get("bloom") or "remember"
    if bloom not in BLOOM:
        out.append(("bloom", f"must be one of {', '.join(BLOOM)}"))
    hints = _list(raw.get("hints"), "hints", MAX_HINTS, out, 500)
    misconceptions: list[tuple[str, str]] = []
    mraw = raw.get("misconceptions")
    if mraw not in (None, "", []):
        if not isinstance(mraw, list) or len(mraw) > MAX_MISCONCEPTIONS:
            out.append(("misconceptions", f"must be a list of at most {MAX_MISCONCEPTIONS} "
                                          "{answer, feedback} objects"))
        else:
            for m in mraw:
                if (not isinstance(m, dict) or set(m) != {"answer", "feedback"}
                        or not all(isinstance(m[k], str) and m[k].strip() for k in m)):
                    out.append(("misconceptions", "each needs a non-empty answer and feedback"))
                    break
                if len(m["answer"]) > MAX_SHORT or len(m["feedback"]) > 500:
                    out.append(("misconceptions", "answer up to 200 and feedback up to 500 characters"))
                    break
                misconceptions.append((m["answer"].strip(), m["feedback"].strip()))
    est = _int(raw.get("estimated_time_seconds"), "estimated_time_seconds", 1, 3600, None, out)
    tol_raw = raw.get("numeric_tolerance")
    tolerance = 0.0
    if tol_raw not in (None, ""):
        try:
            tolerance = float(tol_raw) if not isinstance(tol_raw, bool) else -1.0
        except (TypeError, ValueError):
            tolerance = -1.0
        if not 0 <= tolerance <= 1e6 or tolerance != tolerance:
            out.append(("numeric_tolerance", "must be a number from 0 to 1000000"))
            tolerance = 0.0
    ref = raw.get("ref")
    if ref in (None, ""):
        ref = None
    elif not isinstance(ref, str) or not REF.match(ref):
        out.append(("ref", "must be letters, digits, . _ : - (up to 100)"))
        ref = None
    approved = raw.get("approved", True)
    if isinstance(approved, str):
        approved = {"true": True, "yes": True, "1": True, "": True, "false": False, "no": False,
                    "0": False}.get(approved.strip().lower(), approved)
    if not isinstance(approved, bool):
        out.append(("approved", "must be true or false"))
        approved = True
    if out:
        return None, out
    return ItemSpec(fmt, concept, tuple(also), prompt or "", tuple(answers or ()), front or "", back or "",
                    difficulty or 5, bloom, tuple(hints), tuple(misconceptions), est, tolerance, ref,
                    approved), []


# -- files ---------------------------------------------------------------------------------

def _collect(parsed: Parsed, line: int | None, number: int, raw) -> None:
    spec, problems = validate(raw)
    if spec is None:
        parsed.problems += [Problem(line, number, f, p) for f, p in problems]
    else:
        parsed.items.append((line, number, spec))


def _json_elements(text: str) -> list[tuple[int, object]] | None:
    """(line, value) per element of the items array (the document is an array, or an
    object whose only key is "items"); None when that is not the document's shape."""
    decoder = json.JSONDecoder()
    pos = 0
    ws = " \t\r\n"
    while pos < len(text) and text[pos] in ws:
        pos += 1
    if text.startswith("{", pos):
        doc = json.loads(text)  # raises for malformed JSON
        if not isinstance(doc, dict) or set(doc) != {"items"} or not isinstance(doc["items"], list):
            return None
        match = re.compile(r'"items"\s*:\s*\[').search(text, pos)
        if match is None:
            return None
        pos = match.end() - 1
    elif not text.startswith("[", pos):
        json.loads(text)
        return None
    else:
        json.loads(text)
    out = []
    pos += 1  # past '['
    while True:
        while pos < len(text) and text[pos] in ws:
            pos += 1
        if text.startswith("]", pos):
            return out
        value, end = decoder.raw_decode(text, pos)
        out.append((text.count("\n", 0, pos) + 1, value))
        pos = end
        while pos < len(text) and text[pos] in ws:
            pos += 1
        if text.startswith(",", pos):
            pos += 1


def parse_json(text: str) -> Parsed:
    parsed = Parsed()
    try:
        elements = _json_elements(text.lstrip("\ufeff"))
    except (json.JSONDecodeError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        parsed.problems.append(Problem(line, None, None, f"the file is not valid JSON: {getattr(exc, 'msg', exc)}"))
        return parsed
    if elements is None:
        parsed.problems.append(Problem(1, None, None, 'a JSON import is an array of items or {"items": [...]}'))
        return parsed
    if len(elements) > MAX_ITEMS:
        parsed.problems.append(Problem(None, None, None, f"at most {MAX_ITEMS} items per import"))
        return parsed
    for number, (line, raw) in enumerate(elements, 1):
        _collect(parsed, line, number, raw)
    return parsed


def _split(cell: str) -> list[str]:
    """A multi-valued CSV cell: values separated by '|' (write '\\|' for a literal bar)."""
    if not cell or not cell.strip():
        return []
    parts = re.split(r"(?<!\\)\|", cell)
    return [p.replace("\\|", "|").strip() for p in parts if p.strip()]


def parse_csv(text: str) -> Parsed:
    """CSV with a header row (see FIELDS); answers, also_concepts and hints separated by
    '|'; misconceptions as `wrong answer => feedback` separated by '|'."""
    parsed = Parsed()
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        parsed.problems.append(Problem(1, None, None, f"the header row cannot be read: {exc}"))
        return parsed
    if header is None:
        parsed.problems.append(Problem(1, None, None, "the file is empty"))
        return parsed
    header = [h.strip().lower() for h in header]
    unknown = [h for h in header if h not in FIELDS]
    missing = [h for h in CSV_REQUIRED if h not in header]
    dup = sorted({h for h in header if header.count(h) > 1})
    for h in unknown:
        parsed.problems.append(Problem(1, None, h, f"unknown column (columns: {', '.join(FIELDS)})"))
    for h in missing:
        parsed.problems.append(Problem(1, None, h, "required column is missing"))
    for h in dup:
        parsed.problems.append(Problem(1, None, h, "column appears more than once"))
    if parsed.problems:
        return parsed
    number = 0
    last_line = reader.line_num
    while True:
        start = last_line + 1
        try:
            row = next(reader, None)
        except csv.Error as exc:
            parsed.problems.append(Problem(start, None, None, f"the row cannot be read: {exc}"))
            return parsed
        if row is None:
            break
        last_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        number += 1
        if number > MAX_ITEMS:
            parsed.problems.append(Problem(None, None, None, f"at most {MAX_ITEMS} items per import"))
            return parsed
        if len(row) != len(header):
            parsed.problems.append(Problem(start, number, None,
                                           f"has {len(row)} cells for {len(header)} columns"))
            continue
        cells = dict(zip(header, row))
        raw: dict = {}
        for name, cell in cells.items():
            cell = cell.strip()
            if cell == "":
                continue
            if name in ("answers", "also_concepts", "hints"):
                raw[name] = _split(cell)
            elif name == "misconceptions":
                pairs = []
                for part in _split(cell):
                    wrong, sep, feedback = part.partition("=>")
                    pairs.append({"answer": wrong.strip(), "feedback": feedback.strip()} if sep else
                                 {"answer": wrong.strip()})
                raw[name] = pairs
            else:
                raw[name] = cell
        _collect(parsed, start, number, raw)
    if number == 0 and not parsed.problems:
        parsed.problems.append(Problem(None, None, None, "the file has no items"))
    return parsed


def parse(text: str, kind: str) -> Parsed:
    if kind == "csv":
        return parse_csv(text)
    parsed = parse_json(text)
    if not parsed.items and not parsed.problems:
        parsed.problems.append(Problem(None, None, None, "the file has no items"))
    return parsed


def duplicates(parsed: Parsed) -> list[Problem]:
    """The same `ref` twice in one file."""
    seen: dict[str, int] = {}
    out = []
    for line, number, spec in parsed.items:
        if spec.ref is None:
            continue
        if spec.ref in seen:
            out.append(Problem(line, number, "ref", f"repeats the ref of item {seen[spec.ref]}"))
        else:
            seen[spec.ref] = number
    return out


# -- stored rows -----------------------------------------------------------------------------

def from_row(row: dict) -> ItemSpec:
    """The spec of a stored questions row (its JSON columns decoded or not)."""

    def j(value, default):
        if value is None:
            return default
        return json.loads(value) if isinstance(value, str) else value

    key = j(row.get("answer_key"), {}) or {}
    hints = [h["text"] if isinstance(h, dict) else str(h) for h in j(row.get("hints"), [])]
    mis = [(m.get("answer", ""), m.get("feedback", "")) for m in j(row.get("common_misconceptions"), [])
           if isinstance(m, dict)]
    concepts = j(row.get("concepts"), []) or [row["concept"]]
    fmt = row.get("item_format") or "fill_blank"
    return ItemSpec(
        format=fmt, concept=row["concept"], also_concepts=tuple(c for c in concepts if c != row["concept"]),
        prompt=row["question_text"] if fmt == "fill_blank" else "", answers=tuple(key.get("answers") or ()),
        front=row["question_text"] if fmt == "flashcard" else "", back=key.get("back") or "",
        difficulty=int(row.get("difficulty_level") or 5), bloom=row.get("cognitive_complexity") or "remember",
        hints=tuple(hints), misconceptions=tuple(mis), estimated_time_seconds=row.get("estimated_time_seconds"),
        numeric_tolerance=float(key.get("numeric_tolerance") or 0.0), ref=row.get("ref"),
        approved=bool(row.get("is_validated")))


def row_values(spec: ItemSpec) -> dict:
    """questions columns for a spec (besides ids, owner and timestamps)."""
    return {
        "question_text": spec.question_text, "question_type": "clarifying", "item_format": spec.format,
        "concept": spec.concept, "concepts": json.dumps(list(spec.concepts)),
        "difficulty_level": spec.difficulty, "cognitive_complexity": spec.bloom,
        "answer_key": json.dumps(spec.answer_key(), ensure_ascii=False),
        "hints": json.dumps([{"level": i + 1, "text": h} for i, h in enumerate(spec.hints)], ensure_ascii=False),
        "common_misconceptions": json.dumps([{"answer": a, "feedback": f} for a, f in spec.misconceptions],
                                            ensure_ascii=False),
        "estimated_time_seconds": spec.estimated_time_seconds, "ref": spec.ref,
        "is_validated": 1 if spec.approved else 0,
    }


TEMPLATE_CSV = (
    "format,concept,also_concepts,prompt,answers,front,back,difficulty,bloom,hints,misconceptions,"
    "estimated_time_seconds,numeric_tolerance,ref,approved\n"
    "fill_blank,fractions,,One half written as a decimal is ___.,0.5|1/2,,,3,remember,"
    "Halve one.|It is less than one.,2 => 2 is the denominator: divide 1 by 2.,30,,frac-1,true\n"
    "fill_blank,photosynthesis,,Plants make glucose by ___.,photosynthesis,,,5,remember,"
    "It starts with “photo”.|Light is used to build sugar.,respiration => Respiration releases energy; "
    "it does not build sugar.,45,,bio-7,true\n"
    "flashcard,photosynthesis,,,,Chlorophyll,The green pigment that absorbs light in photosynthesis,4,"
    "remember,,,20,,bio-8,true\n"
)

TEMPLATE_JSON = json.dumps({"items": [
    {"format": "fill_blank", "concept": "fractions", "prompt": "One half written as a decimal is ___.",
     "answers": ["0.5", "1/2"], "difficulty": 3, "bloom": "remember",
     "hints": ["Halve one.", "It is less than one."],
     "misconceptions": [{"answer": "2", "feedback": "2 is the denominator: divide 1 by 2."}],
     "estimated_time_seconds": 30, "ref": "frac-1", "approved": True},
    {"format": "flashcard", "concept": "photosynthesis", "front": "Chlorophyll",
     "back": "The green pigment that absorbs light in photosynthesis", "difficulty": 4, "ref": "bio-8"},
]}, indent=2, ensure_ascii=False) + "\n"
